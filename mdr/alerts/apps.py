from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "mdr.alerts"
    label = "alerts"

    def ready(self) -> None:
        # Register the actors in every process (web and scheduler send them by name, not only the worker).
        from mdr.alerts import tasks  # noqa: F401

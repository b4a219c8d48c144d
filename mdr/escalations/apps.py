from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "mdr.escalations"
    label = "escalations"

    def ready(self) -> None:
        from mdr.escalations import tasks  # noqa: F401  (actors registered in every process)

from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "mdr.sla"
    label = "sla"

    def ready(self) -> None:
        from mdr.sla import tasks  # noqa: F401  (actors registered in every process)

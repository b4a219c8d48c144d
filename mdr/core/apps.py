from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mdr.core"
    label = "core"

    def ready(self) -> None:
        from mdr.core import tasks  # noqa: F401  (actors registered in every process)

from django.apps import AppConfig


class ScopeConfig(AppConfig):
    name = "mdr.scope"
    label = "scope"

    def ready(self) -> None:
        from mdr.scope import tasks  # noqa: F401  (actors registered in every process)

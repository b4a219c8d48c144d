from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "mdr.jobs"
    label = "jobs"

    def ready(self) -> None:
        from mdr.jobs import tasks  # noqa: F401  (actors registered in every process)

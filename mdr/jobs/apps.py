from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "mdr.jobs"
    label = "jobs"

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mdr.core"
    label = "core"

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "mdr.console"
    label = "console"

from django.apps import AppConfig


class ScopeConfig(AppConfig):
    name = "mdr.scope"
    label = "scope"

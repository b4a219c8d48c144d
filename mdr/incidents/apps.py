from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mdr.incidents"
    label = "incidents"

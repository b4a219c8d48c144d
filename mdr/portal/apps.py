from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mdr.portal"
    label = "portal"

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mdr.audit"
    label = "audit"

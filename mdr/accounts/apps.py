from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mdr.accounts"
    label = "accounts"

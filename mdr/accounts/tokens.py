"""Password reset tokens bound to the schema they were issued in.

User primary keys repeat across customers (every schema has its own user table), so Django's token alone would let
a token issued to user 7 of customer A reset user 7 of customer B whenever their hash inputs happened to match.
The schema name in the hash makes a token valid only on the domain (schema) that issued it.
"""

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection


class SchemaPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "mdr.accounts.tokens.SchemaPasswordResetTokenGenerator"

    def _make_hash_value(self, user, timestamp) -> str:
        return f"{connection.schema_name}:{super()._make_hash_value(user, timestamp)}"


password_reset_token = SchemaPasswordResetTokenGenerator()

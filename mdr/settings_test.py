"""Test overlay, for speed and isolation only: same settings module, test-only environment defaults.

Tests use their own database (``test_mdr``, created and dropped by pytest-django), their own Redis database
number and dramatiq namespace, so they never touch the demo data of ``make run``.
"""

import os

os.environ.setdefault("MDR_TESTING", "1")
os.environ.setdefault("MDR_BASE_DOMAIN", "mdr.test")
os.environ.setdefault("DJANGO_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("MDR_DRAMATIQ_NAMESPACE", "mdr-test")
_redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["REDIS_URL"] = _redis.rsplit("/", 1)[0] + "/" + os.environ.get("MDR_TEST_REDIS_DB", "15")

from mdr.settings import *  # noqa: E402,F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

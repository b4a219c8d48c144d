"""WSGI entry point (gunicorn mdr.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
application = get_wsgi_application()

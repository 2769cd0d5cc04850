"""Gunicorn entry point: `gunicorn --config gunicorn.conf.py wsgi:app`."""
from ybb_api import create_app

app = create_app()

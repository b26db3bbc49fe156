"""WSGI entry point for gunicorn: ``resque_frontend.wsgi:app``."""

from resque_frontend.app import create_app

app = create_app()

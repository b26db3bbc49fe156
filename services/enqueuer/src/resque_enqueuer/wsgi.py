"""The WSGI entry point gunicorn loads in each worker: ``resque_enqueuer.wsgi:app``."""

from resque_enqueuer.app import create_app

app = create_app()

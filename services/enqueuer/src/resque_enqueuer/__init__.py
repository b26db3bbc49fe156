"""resque_enqueuer: the HTTP enqueue API (Flask, served by gunicorn + gevent)."""

from importlib import metadata

__version__ = metadata.version("resque-enqueuer")  # from the root VERSION file

"""resque_enqueuer: the HTTP enqueue API (Flask, served by gunicorn + gevent)."""

__version__ = "0.1.0"

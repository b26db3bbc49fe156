"""resque_enqueuer: the HTTP enqueue API (Flask, served by gunicorn + gevent)."""

from resque_proto.version import VERSION as __version__  # the one version (VERSION file)

__all__ = ["__version__"]

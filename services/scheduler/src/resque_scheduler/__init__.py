"""resque-scheduler in Python: moves due delayed jobs and runs recurring schedules,
in Ruby resque-scheduler's Redis layout (docs/protocol.md, section 8)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resque-scheduler")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

"""resque-scheduler in Python: moves due delayed jobs and runs recurring schedules,
in Ruby resque-scheduler's Redis layout (docs/protocol.md, section 8)."""

from resque_proto.version import VERSION as __version__  # the one version (VERSION file)

__all__ = ["__version__"]

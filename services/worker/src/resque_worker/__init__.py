"""resque_worker: a Resque 3.0 compatible worker that forks one child per job.

Job code imports ``DontPerform`` / ``TermException`` from here.
"""

from resque_proto.version import VERSION as __version__  # the one version (VERSION file)
from resque_worker.errors import DontPerform, TermException

__all__ = ["DontPerform", "TermException", "__version__"]

"""resque_worker: a Resque 3.0 compatible worker that forks one child per job.

Job code imports ``DontPerform`` / ``TermException`` from here.
"""

from resque_worker.errors import DontPerform, TermException

__version__ = "0.1.0"
__all__ = ["DontPerform", "TermException", "__version__"]

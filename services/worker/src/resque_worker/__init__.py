"""resque_worker: a Resque 3.0 compatible worker that forks one child per job.

Job code imports ``DontPerform`` / ``TermException`` from here.
"""

from importlib import metadata

from resque_worker.errors import DontPerform, TermException

__version__ = metadata.version("resque-worker")  # from the root VERSION file
__all__ = ["DontPerform", "TermException", "__version__"]

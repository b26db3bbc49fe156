"""Example jobs of a team's own worker image (``RESQUE_JOBS=jobs.reports``).

``SizeReport`` uses a dependency of the image's own (``humanize``, from
requirements.txt) and stores its result in Redis under the team's own key, so
a Ruby or Python producer can enqueue it and read the answer back:

    Resque.enqueue(SizeReport, "repo-42", 123456789)       # Ruby
    enqueue("reports", "SizeReport", "repo-42", 123456789)  # resque_proto
"""

from __future__ import annotations

import humanize

RESULT_KEY = "acme:report-sizes"


class SizeReport:
    """Record a repository's size in words: ``repo-42 -> "123.5 MB"``."""

    queue = "reports"

    @staticmethod
    def perform(name: str, size_bytes: int) -> None:
        # Imported in the job, not at module import: the worker imports job
        # modules before it forks its fork server, which stays free of redis-py.
        from resque_proto import connect

        connect().hset(RESULT_KEY, name, humanize.naturalsize(size_bytes))

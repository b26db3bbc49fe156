"""A job's status by id (docs/protocol.md, section 9), as the Job status page shows it.

The status is one small JSON string our producers, scheduler and workers rewrite
with every change of the job. A failed job's status embeds its failure record; the
record itself is looked for in the failed list by its exact bytes (``LPOS`` from the
newest, at most ``FAILED_SEARCH`` records), so the page can link to it while it is
still there. At most two round trips besides the page's totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resque_frontend.failed import FailureView, view
from resque_proto import Resque
from resque_proto.payload import encode_json
from resque_proto.status import UNKNOWN, read_status

FAILED_SEARCH = 10_000  # newest failure records compared when looking for a job's record


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    body: dict[str, Any]  # the stored status; empty when unknown
    failure: FailureView | None = None  # the record embedded in a failed status
    failure_listed: bool = False  # that record is still in the failed list, at its index

    @property
    def state(self) -> str:
        value = self.body.get("state")
        return value if isinstance(value, str) and value else UNKNOWN

    @property
    def known(self) -> bool:
        return bool(self.body)

    def text(self, name: str) -> str | None:
        value = self.body.get(name)
        return value if isinstance(value, str) and value else None

    def number(self, name: str) -> float | None:
        value = self.body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    @property
    def attempt(self) -> int | None:
        value = self.body.get("attempt")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def lookup(resque: Resque, job_id: str) -> JobStatus:
    body = read_status(resque.redis, resque.keys, job_id)
    if body is None:
        return JobStatus(job_id, {})
    failure = body.get("failure")
    if not isinstance(failure, dict):
        return JobStatus(job_id, body)
    try:
        raw = encode_json(failure)  # the record's bytes, as the worker wrote them
    except (TypeError, ValueError):
        return JobStatus(job_id, body)
    index = resque.redis.lpos(resque.keys.failed, raw, rank=-1, maxlen=FAILED_SEARCH)
    if not isinstance(index, int):  # None: not among the newest records
        return JobStatus(job_id, body, view(-1, raw))
    return JobStatus(job_id, body, view(index, raw), failure_listed=True)

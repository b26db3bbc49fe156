"""The statuses of one request's new jobs (``queued`` or ``scheduled``), encoded once
per kind.

A batch of 1,000 jobs usually holds a handful of (queue, class) pairs, and a new job's
status differs from its neighbour's only in its id: each pair's status is encoded once
with ``status_json`` and every job's id is put in front of it. This took a third of
the encoding time of a batch off (docs/benchmarks.md). The bytes are ``status_json``'s
(a test compares them); the jobs of one pair share the ``updated_at`` of the first,
which is when the request was encoded.
"""

from __future__ import annotations

from typing import Any

from resque_enqueuer.validation import JobSpec
from resque_proto.jobs import StatusWrite
from resque_proto.payload import Job
from resque_proto.status import status_json

EMPTY_ID = '{"id":""'


class NewStatuses:
    def __init__(self) -> None:
        self._tails: dict[tuple[Any, ...], str] = {}  # what follows the id, by kind

    def status(self, spec: JobSpec, job_id: str, state: str, **fields: Any) -> StatusWrite:
        """The status the worker and scheduler would write for this new job (whose id is
        ours: hexadecimal, nothing in it to escape)."""
        kind = (spec.queue, spec.class_name, state, *fields.items())
        tail = self._tails.get(kind)
        if tail is None:
            job = Job(class_name=spec.class_name, args=spec.args)
            body = status_json(job, "", spec.queue, state, **fields)
            tail = self._tails[kind] = body.removeprefix(EMPTY_ID)
        return StatusWrite(job_id, f'{{"id":"{job_id}"{tail}')

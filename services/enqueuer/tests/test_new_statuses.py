"""A request's new statuses, encoded once per kind, are ``status_json``'s bytes."""

from __future__ import annotations

import time
import uuid

import pytest

from resque_enqueuer.new_statuses import NewStatuses
from resque_enqueuer.validation import JobSpec
from resque_proto.payload import Job
from resque_proto.status import QUEUED, SCHEDULED, status_json

SPECS = [
    JobSpec("file_serve", "Archive", [44], None),
    JobSpec("file_serve", "Archive", [45, "x"], None),
    JobSpec("mail", "Billing::Invoice", [], None),
    JobSpec('qu"ote\\é', "jobs.Archive", [{"k": 1.5}], None),
    JobSpec("mail", "Billing::Invoice", [], 1_900_000_000),
    JobSpec("mail", "Billing::Invoice", [], 1_900_000_001),
]


def test_each_status_is_what_status_json_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1796217478.2628361)  # one clock for both
    statuses = NewStatuses()
    for spec in SPECS * 2:  # the second time round, from what was encoded the first
        job_id = uuid.uuid4().hex
        state, fields = (
            (QUEUED, {}) if spec.due is None else (SCHEDULED, {"scheduled_for": spec.due})
        )
        written = statuses.status(spec, job_id, state, **fields)
        job = Job(class_name=spec.class_name, args=spec.args)
        assert written.job_id == job_id
        assert written.body == status_json(job, job_id, spec.queue, state, **fields)

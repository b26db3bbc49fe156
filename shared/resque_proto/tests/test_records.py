import json
from datetime import datetime
from pathlib import Path

import pytest

from resque_proto import timefmt
from resque_proto.records import Failure, failure_record, mark_retried, working_record

from .conftest import BERLIN, UTC, local_zone
from .test_timefmt import BERLIN_RUN, UTC_RUN
from .wire_samples import BERLIN_DUMP, UTC_DUMP, readme_record, values


@pytest.mark.parametrize(("zone", "moment", "dump"), [
    (UTC, UTC_RUN, UTC_DUMP), (BERLIN, BERLIN_RUN, BERLIN_DUMP),
])  # fmt: skip
def test_failure_record_matches_ruby_byte_for_byte(zone: str, moment: datetime, dump: Path) -> None:
    ruby = values(dump, "resque:failed")[0]
    body = json.loads(ruby)
    with local_zone(zone):
        ours = failure_record(
            payload=body["payload"],
            exception=body["exception"],
            error=body["error"],
            backtrace=body["backtrace"],
            worker=body["worker"],
            queue=body["queue"],
            failed_at=timefmt.failed_at(moment),
        )
    assert ours == ruby


@pytest.mark.parametrize("dump", [UTC_DUMP, BERLIN_DUMP])
def test_working_record_matches_ruby_byte_for_byte(dump: Path) -> None:
    worker = values(dump, "resque:workers")[0]
    ruby = values(dump, f"resque:worker:{worker}")[0]
    body = json.loads(ruby)
    assert working_record(body["queue"], body["payload"], body["run_at"]) == ruby


@pytest.mark.parametrize("marker", ["killed by a signal", "heartbeat went stale"])
def test_worker_level_failure_records_match_ruby(marker: str) -> None:
    ruby = readme_record(marker)
    body = json.loads(ruby)
    assert failure_record(**body) == ruby


def test_retry_appends_retried_at_last_and_keeps_the_rest() -> None:
    ruby = values(UTC_DUMP, "resque:failed")[0]
    retried = mark_retried(ruby, retried_at="2026/11/27 18:40:38 UTC")
    assert retried == ruby[:-1] + ',"retried_at":"2026/11/27 18:40:38 UTC"}'
    again = mark_retried(retried, retried_at="2026/11/27 18:50:00 UTC")
    assert again == ruby[:-1] + ',"retried_at":"2026/11/27 18:50:00 UTC"}'


def test_failure_decodes_ruby_and_unreadable_records() -> None:
    ruby = values(UTC_DUMP, "resque:failed")[0]
    failure = Failure.decode(0, ruby)
    assert (failure.class_name, failure.exception, failure.queue) == (
        "FailingArchive", "ArchiveError", "file_serve",
    )  # fmt: skip
    assert failure.backtrace == ["resque_roundtrip.rb:90:in `perform'"]
    broken = Failure.decode(3, "{oops")
    assert broken.raw == "{oops" and broken.error == "unreadable failure record"

from datetime import UTC, datetime
from pathlib import Path

import pytest

from resque_proto import timefmt

from .conftest import BERLIN, local_zone
from .conftest import UTC as UTC_ZONE
from .wire_samples import BERLIN_DUMP, UTC_DUMP, values

# The moments the two Ruby runs were captured at.
UTC_RUN = datetime(2026, 11, 27, 18, 47, 43, tzinfo=UTC)
BERLIN_RUN = datetime(2026, 11, 27, 18, 47, 15, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "moment", "dump", "worker"), [
    (UTC_ZONE, UTC_RUN, UTC_DUMP, "vm:3887:file_serve"),
    (BERLIN, BERLIN_RUN, BERLIN_DUMP, "vm:2763:file_serve"),
])  # fmt: skip
def test_times_match_ruby_in_each_zone(
    zone: str, moment: datetime, dump: Path, worker: str
) -> None:
    with local_zone(zone):
        assert timefmt.started(moment) == values(dump, f"resque:worker:{worker}:started")[0]
        heartbeat = values(dump, "resque:workers:heartbeat")[0]
        assert f"{worker} => {timefmt.heartbeat(moment.timestamp())}" == heartbeat
        failed = values(dump, "resque:failed")[0]
        assert f'"failed_at":"{timefmt.failed_at(moment)}"' in failed
        working = values(dump, f"resque:worker:{worker}")[0]
        assert f'"run_at":"{timefmt.run_at(moment)}"' in working


def test_parsers_invert_the_formats() -> None:
    with local_zone(BERLIN):
        assert timefmt.parse_started(timefmt.started(UTC_RUN)) == UTC_RUN
        assert timefmt.parse_heartbeat(timefmt.heartbeat(UTC_RUN.timestamp())) == UTC_RUN
        assert timefmt.parse_failed_at(timefmt.failed_at(UTC_RUN)) == UTC_RUN
    assert timefmt.parse_run_at(timefmt.run_at(UTC_RUN)) == UTC_RUN
    assert timefmt.parse_failed_at("2026/11/27 18:40:32 UTC") == datetime(
        2026, 11, 27, 18, 40, 32, tzinfo=UTC
    )

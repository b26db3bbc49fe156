"""Property-based fuzzing of the whole API from its own OpenAPI document.

schemathesis generates valid and invalid requests for every operation and runs
all its checks on every answer: no 5xx, status codes, media types and bodies as
documented, invalid data rejected, ``Allow`` on 405. (Driven through explicit
hypothesis tests because schemathesis' pytest fixture loader does not work with
pytest 9.) ``run_at`` is a ``date-time`` within a window relative to now, which a
JSON Schema cannot state: the fuzzer is told which times are valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
AUTH = {"Authorization": "Bearer fuzz-token"}


def accepted_run_at_values() -> st.SearchStrategy[str]:
    """RFC 3339 times from 1970 to well inside the default ENQUEUER_MAX_DELAY (5 years)."""
    latest = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=4 * 365)
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    moments = st.datetimes(datetime(1970, 1, 2), latest, timezones=offsets)
    return moments.map(lambda moment: moment.isoformat())


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_the_api_conforms_to_its_document(make_app: Any, mode: Any) -> None:
    schemathesis.openapi.format("date-time", accepted_run_at_values())
    app = make_app(tokens=("fuzz-token",), allowed_queues=("*",), max_batch=20)
    schema: Any = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/jobs", "/jobs/batch", "/jobs/{id}", "/readyz"}

    if mode is schemathesis.GenerationMode.NEGATIVE:  # only these take input to break
        operations = [op for op in operations if op.method.upper() == "POST"]

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        conforms()

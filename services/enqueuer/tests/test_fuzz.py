"""Property-based fuzzing of the whole API from its own OpenAPI document.

schemathesis generates valid and invalid requests for every operation and runs
all its checks on every answer: no 5xx, status codes, media types and bodies as
documented, invalid data rejected, ``Allow`` on 405. (Driven through explicit
hypothesis tests because schemathesis' pytest fixture loader does not work with
pytest 9.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
AUTH = {"Authorization": "Bearer fuzz-token"}


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_the_api_conforms_to_its_document(make_app: Any, mode: Any) -> None:
    app = make_app(tokens=("fuzz-token",), allowed_queues=("*",), max_batch=20)
    schema: Any = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/jobs", "/jobs/batch", "/readyz"}

    if mode is schemathesis.GenerationMode.NEGATIVE:  # only these take input to break
        operations = [op for op in operations if op.method.upper() == "POST"]

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        conforms()

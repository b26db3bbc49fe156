"""One log format for every part: JSON keys, text, both call forms, gunicorn's loggers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest

from resque_proto import logs
from resque_proto.settings import LogSettings


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What the configured handler writes (configured during the test, it writes to
    capsys's stderr); the root logger is restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield lambda: capsys.readouterr().err
    root.handlers[:], root.level = saved


def test_json_lines_have_the_core_keys_and_the_extra_fields(stderr: Callable[[], str]) -> None:
    logs.configure(LogSettings(format="json", level=logging.DEBUG))
    logging.getLogger("resque_worker").debug("job done", extra={"class": "Archive", "id": "j1"})

    entry = json.loads(stderr())
    assert list(entry)[:5] == ["ts", "level", "logger", "msg", "pid"]
    assert (entry["level"], entry["logger"], entry["msg"]) == ("debug", "resque_worker", "job done")
    assert (entry["class"], entry["id"]) == ("Archive", "j1")


def test_the_older_call_form_and_text(stderr: Callable[[], str]) -> None:
    logs.configure("text", logging.WARNING)
    log = logging.getLogger("resque_scheduler")
    log.info("hidden")
    log.warning("shown", extra={"lock": "h:1"})

    [line] = stderr().splitlines()
    assert " WARNING " in line and line.endswith("shown lock=h:1")


def test_dict_config_routes_gunicorns_loggers_through_the_format(stderr: Callable[[], str]) -> None:
    logs.apply(LogSettings(format="json", level=logging.INFO))
    logging.getLogger("gunicorn.error").info("Booting worker with pid: 7")
    logging.getLogger("gunicorn.access").debug("below the level")

    [entry] = [json.loads(line) for line in stderr().splitlines()]
    assert (entry["logger"], entry["msg"]) == ("gunicorn.error", "Booting worker with pid: 7")


def test_access_fields_are_the_same_for_every_http_part() -> None:
    response = SimpleNamespace(status_code=202, sent=51, headers=[("x-request-id", "r-1")])
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/jobs", "REMOTE_ADDR": "10.0.0.9"}

    fields = logs.access_fields(response, environ, timedelta(milliseconds=12.5))

    assert fields == {"method": "POST", "path": "/jobs", "status": 202, "bytes": 51,
                      "duration_ms": 12.5, "remote": "10.0.0.9", "request_id": "r-1"}  # fmt: skip
    no_header = SimpleNamespace(status_code=200, sent=0, headers=[])
    asked = logs.access_fields(no_header, {**environ, "HTTP_X_REQUEST_ID": "r-2"}, timedelta())
    assert asked["request_id"] == "r-2"

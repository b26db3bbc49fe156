"""Reading command-line values that are more than a click type: job arguments, times."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from resque_cli.errors import CliError
from resque_proto.payload import decode_json


def job_argument(text: str) -> Any:
    """``44`` → 44, ``'{"a":1}'`` → a dict, ``true``/``null`` as JSON; anything that is
    not JSON (``masterbrew``) stays a string. NaN and Infinity are not JSON."""
    try:
        return decode_json(text)
    except ValueError:
        return text


def rfc3339_time(option: str, text: str) -> datetime:
    """``2027-01-01T09:00:00Z`` or with an offset; a time without one is refused, since
    the CLI may run in another time zone than whoever reads the schedule."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option}: {text!r} is not an RFC 3339 time such as 2027-01-01T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise CliError(f"{option}: {text!r} has no UTC offset: add Z or one like +01:00")
    return moment


def delay_seconds(option: str, seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < 0:
        raise CliError(f"{option}: {seconds} is not a number of seconds of 0 or more")
    return seconds

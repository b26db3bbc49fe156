"""Reading a JSON request body safely: media type, size limit, strict JSON.

The size limit is enforced twice: a declared ``Content-Length`` over the limit
is refused before a byte of the body is read, and a chunked (or lying) body is
read through Werkzeug's limited stream, which stops at the limit. So a client
can never make the service hold more than ``max_body_bytes`` of body.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from resque_enqueuer.problems import Problem
from resque_proto.payload import decode_json

JSON_TYPES = frozenset({"application/json"})


def read_json(request: Request, max_bytes: int) -> Any:
    """The decoded JSON body, or raise a 415/413/400 problem."""
    if request.mimetype not in JSON_TYPES:
        shown = request.mimetype or "none"
        raise Problem(
            415,
            "unsupported-media-type",
            f"send the body as application/json (Content-Type was {shown})",
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    # Werkzeug's limited stream returns a body cut at the limit without an error,
    # so allow one byte more: a body that fills it is over the limit.
    request.max_content_length = max_bytes + 1
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large(max_bytes) from None
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    return parse(raw)


def too_large(max_bytes: int) -> Problem:
    return Problem(
        413,
        "body-too-large",
        f"the request body exceeds the limit of {max_bytes} bytes "
        "(ENQUEUER_MAX_BODY_BYTES); split the batch",
        max_body_bytes=max_bytes,
    )


def parse(raw: bytes) -> Any:
    if not raw:
        raise Problem(400, "invalid-json", "the request body is empty; send a JSON object")
    try:
        return decode_json(raw)
    except RecursionError:
        raise Problem(400, "invalid-json", "the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "invalid-json", f"the body is not valid JSON: {error}") from None

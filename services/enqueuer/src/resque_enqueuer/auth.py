"""Bearer-token authentication and queue/class allow-lists.

Tokens are compared with :func:`hmac.compare_digest` against every configured
token (no early exit), so response timing says nothing about how much of a
guess was right. Allow-lists are ``fnmatch`` glob patterns (case-sensitive);
an empty list allows everything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from fnmatch import fnmatchcase

from resque_enqueuer.problems import Problem

ANONYMOUS = "anonymous"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="resque-enqueuer"'}


def authenticate(authorization: str | None, tokens: Sequence[str]) -> str:
    """The caller's principal (a digest of its token), or raise 401.

    With no tokens configured the API is open and every caller is anonymous.
    """
    if not tokens:
        return ANONYMOUS
    scheme, _, presented = (authorization or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Problem(
            401,
            "unauthorized",
            "send an 'Authorization: Bearer <token>' header",
            headers=CHALLENGE,
        )
    supplied = presented.encode("utf-8", "surrogateescape")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(supplied, token.encode("utf-8"))
    if not matched:
        raise Problem(
            401,
            "unauthorized",
            "the bearer token is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="resque-enqueuer", error="invalid_token"'},
        )
    return "token:" + hashlib.sha256(supplied).hexdigest()[:16]


def allowed(name: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatchcase(name, pattern) for pattern in patterns)


def forbidden_fields(
    queue: str, class_name: str, queues: Sequence[str], classes: Sequence[str]
) -> list[tuple[str, str]]:
    """``(field, message)`` for each of queue/class outside its allow-list."""
    denied = []
    if not allowed(queue, queues):
        denied.append(("queue", f"queue {queue!r} is not in ENQUEUER_ALLOWED_QUEUES"))
    if not allowed(class_name, classes):
        denied.append(("class", f"class {class_name!r} is not in ENQUEUER_ALLOWED_CLASSES"))
    return denied

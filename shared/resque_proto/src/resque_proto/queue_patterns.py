"""Resolve a worker's queue list with Resque 3.0's rules.

``QUEUES=high,*`` lists patterns in priority order. Entries starting with ``!``
are skip patterns. When no entry contains a wildcard (``* ? { } [ ]``) the list
is used as written. Otherwise every entry is matched against the known queues
(the ``queues`` set) with ``fnmatch`` and no flags, each entry's matches sorted
alphabetically, skip patterns removed, duplicates dropped, as
``Resque::Worker#queues`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

WILDCARDS = frozenset("*?{}[]")


def parse_queue_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def split_patterns(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(queue patterns, skip patterns without their ``!``)."""
    wanted = [p for p in patterns if not p.startswith("!")]
    skipped = [p[1:] for p in patterns if p.startswith("!")]
    return wanted, skipped


def is_dynamic(patterns: Sequence[str]) -> bool:
    """True when resolving needs the list of known queues."""
    wanted, _ = split_patterns(patterns)
    return any(WILDCARDS & set(p) for p in wanted)


def resolve_queues(patterns: Sequence[str], known: Iterable[str]) -> list[str]:
    wanted, skipped = split_patterns(patterns)
    if not is_dynamic(patterns):
        return list(dict.fromkeys(wanted))
    known_list = list(known)
    resolved: dict[str, None] = {}
    for pattern in wanted:
        matches = sorted(
            q
            for q in known_list
            if fnmatchcase(q, pattern) and not any(fnmatchcase(q, s) for s in skipped)
        )
        resolved.update(dict.fromkeys(matches))
    return list(resolved)

from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from resque_proto.queue_patterns import is_dynamic, parse_queue_list, resolve_queues

KNOWN = ["low", "high_b", "high_a", "critical", "mail"]


def test_static_list_is_used_as_written() -> None:
    assert resolve_queues(["critical", "high", "low"], KNOWN) == ["critical", "high", "low"]
    assert resolve_queues(["nothing_yet"], KNOWN) == ["nothing_yet"]


def test_star_means_every_known_queue_alphabetically() -> None:
    assert resolve_queues(["*"], KNOWN) == sorted(KNOWN)


def test_priority_before_a_star_and_globs() -> None:
    assert resolve_queues(["critical", "high*", "*"], KNOWN) == [
        "critical", "high_a", "high_b", "low", "mail",
    ]  # fmt: skip


def test_negation_removes_matches_from_globs() -> None:
    assert resolve_queues(["*", "!low", "!high*"], KNOWN) == ["critical", "mail"]


def test_dynamic_list_matches_static_names_only_if_known() -> None:
    assert resolve_queues(["ghost", "mail*"], KNOWN) == ["mail"]


def test_parse_queue_list_strips_and_drops_empties() -> None:
    assert parse_queue_list(" high , low,,") == ["high", "low"]
    assert is_dynamic(["a", "b?"]) and not is_dynamic(["a", "!b"])


names = st.text(alphabet="abcxyz_", min_size=1, max_size=5)


@given(st.lists(names, max_size=8), st.lists(names | st.just("*") | st.just("a*"), max_size=4),
       st.lists(names | st.just("x*"), max_size=2))  # fmt: skip
def test_resolution_properties(known: list[str], wanted: list[str], skipped: list[str]) -> None:
    patterns = ["*", *wanted] + [f"!{s}" for s in skipped]
    result = resolve_queues(patterns, known)
    assert len(result) == len(set(result))
    assert set(result) <= set(known)
    assert not any(fnmatchcase(q, s) for q in result for s in skipped)
    assert set(result) == {q for q in known if not any(fnmatchcase(q, s) for s in skipped)}

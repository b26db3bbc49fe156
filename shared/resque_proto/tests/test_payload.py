import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resque_proto.errors import MalformedPayload, ValidationError
from resque_proto.payload import (
    decode_payload,
    encode_json,
    encode_payload,
    ruby_float,
    validate_class,
    validate_queue,
)

from .wire_samples import UTC_DUMP, awkward_encoding, values


def test_awkward_values_encode_exactly_as_ruby() -> None:
    args = ["héllo ✓", "</tag>", 'tab\t"q"', 1.0, 0.1, 1.0e20, 1.5e-07,
            18446744073709551616, None, True, {"k": "v"}, "sym"]  # fmt: skip
    assert encode_payload("Archive", args) == awkward_encoding()


@pytest.mark.parametrize("raw", values(UTC_DUMP, "resque:queue:file_serve"))
def test_queue_samples_round_trip_byte_for_byte(raw: str) -> None:
    job = decode_payload(raw)
    assert encode_payload(job.class_name, job.args, job.extras) == raw


def test_extra_keys_follow_class_and_args_in_order() -> None:
    raw = encode_payload("Archive", [44], {"id": "abc", "enqueued_at": 1.5})
    assert raw == '{"class":"Archive","args":[44],"id":"abc","enqueued_at":1.5}'
    assert decode_payload(raw).extras == {"id": "abc", "enqueued_at": 1.5}


@pytest.mark.parametrize(
    ("value", "ruby"),
    [(1.0, "1.0"), (0.1, "0.1"), (1e20, "1.0e+20"), (1.5e-07, "1.5e-07"), (1e16, "1.0e+16"),
     (1e15, "1000000000000000.0"), (0.0001, "0.0001"), (1e-05, "1.0e-05"), (-2.5, "-2.5")],
)  # fmt: skip
def test_floats_print_as_ruby_float_to_s(value: float, ruby: str) -> None:
    assert ruby_float(value) == ruby


def test_decode_accepts_python_default_spacing() -> None:
    job = decode_payload(json.dumps({"class": "Archive", "args": [44, "x"], "k": 1}))
    assert (job.class_name, job.args, job.extras) == ("Archive", [44, "x"], {"k": 1})


def test_decode_of_ruby_activejob_wrapper() -> None:
    raw = (
        '{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":'
        '"ArchiveJob","arguments":[44,"masterbrew"],"enqueued_at":"2025-01-01T00:00:00Z"}]}'
    )
    job = decode_payload(raw)
    assert job.class_name.endswith("JobWrapper")
    assert encode_payload(job.class_name, job.args) == raw


@pytest.mark.parametrize(
    "raw",
    ["not json", "[1,2]", '{"args":[]}', '{"class":"A","args":{}}', '{"class":5}',
     '{"class":"A","args":[NaN]}', b"\xff\xfe"],
)  # fmt: skip
def test_decode_rejects_what_is_not_a_job(raw: str | bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_payload(raw)


@pytest.mark.parametrize("name", ["", " ", "a b", "q:1", "*", "!low", ".hidden", "x" * 129, "é"])
def test_invalid_queue_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_queue(name)
    assert error.value.field == "queue"


@pytest.mark.parametrize("name", ["file_serve", "high-priority", "v1.mail", "Q9"])
def test_valid_queue_names(name: str) -> None:
    assert validate_queue(name) == name


@pytest.mark.parametrize("name", ["Archive", "Billing::Invoice", "jobs.Archive", "_Private"])
def test_valid_class_names(name: str) -> None:
    assert validate_class(name) == name


@pytest.mark.parametrize("name", ["", "1Archive", "Billing::", "a b", "A;B", "A" * 300, None])
def test_invalid_class_names_are_rejected(name: object) -> None:
    with pytest.raises(ValidationError):
        validate_class(name)


@pytest.mark.parametrize(
    "args", [{"a": 1}, [math.nan], [math.inf], [{1: "x"}], [object()], ["\ud800"], "text"]
)
def test_invalid_args_are_rejected_with_the_field(args: object) -> None:
    with pytest.raises(ValidationError) as error:
        encode_payload("Archive", args)  # type: ignore[arg-type]
    assert error.value.field.startswith("args")


def test_reserved_extra_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        encode_payload("Archive", [], {"class": "Other"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(st.lists(json_values, max_size=6))
def test_encode_decode_round_trip(args: list[object]) -> None:
    raw = encode_payload("Archive", args)
    job = decode_payload(raw)
    assert job.args == json.loads(raw)["args"]
    assert encode_payload(job.class_name, job.args) == raw
    assert encode_json(json.loads(raw)) == raw


extra_keys = st.text().filter(lambda key: key not in ("class", "args"))


@given(st.lists(json_values, max_size=6), st.dictionaries(extra_keys, json_values, max_size=3))
def test_payload_is_the_ruby_encoding_of_the_whole_job(
    args: list[object], extras: dict[str, object]
) -> None:
    whole = encode_json({"class": "Archive", "args": args, **extras})
    assert encode_payload("Archive", args, extras) == whole


JSON_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)  # fmt: skip
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
EXTRAS = st.dictionaries(
    st.text(max_size=6).filter(lambda key: key not in ("class", "args")), JSON_VALUES, max_size=4
)


@given(st.lists(JSON_VALUES, max_size=5), EXTRAS)
def test_payload_bytes_are_its_members_encoded_one_by_one(
    args: list[object], extras: dict[str, object]
) -> None:
    """The fast path (one C-encoded dumps for members without floats) changes no byte."""
    members = {"class": "Billing::Invoice", "args": args, **extras}
    expected = "{" + ",".join(f"{encode_json(k)}:{encode_json(v)}" for k, v in members.items())
    assert encode_payload("Billing::Invoice", args, extras) == expected + "}"

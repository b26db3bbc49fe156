"""The frontend's throughput-history key lives under our prefix, in the namespace."""

from resque_proto.keys import Keys


def test_throughput_history_key_is_ours_and_namespaced() -> None:
    assert Keys("resque").throughput_history == "resque:pyresque:history"
    assert Keys("staging").throughput_history == "staging:pyresque:history"

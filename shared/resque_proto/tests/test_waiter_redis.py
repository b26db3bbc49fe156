import threading
import time

from resque_proto import Resque, connect


def test_waiter_wakes_on_a_push_from_any_producer(redis_url: str) -> None:
    resque = Resque(connect(redis_url))
    waiter = resque.waiter()
    assert waiter.enabled
    assert waiter.wait(0.05) is False
    raw = connect(redis_url)
    threading.Timer(0.2, lambda: raw.rpush("resque:queue:any", "{}")).start()
    began = time.monotonic()
    assert waiter.wait(10) is True
    assert time.monotonic() - began < 9  # woke by the push, not by the timeout
    waiter.close()


def test_a_push_before_the_wait_is_not_missed(redis_url: str) -> None:
    resque = Resque(connect(redis_url))
    waiter = resque.waiter()
    resque.enqueue("q", "A")
    assert waiter.wait(10) is True
    waiter.close()


def test_other_namespaces_and_pops_do_not_wake(redis_url: str) -> None:
    resque = Resque(connect(redis_url))
    waiter = resque.waiter()
    Resque(connect(redis_url), namespace="other").enqueue("q", "A")
    assert waiter.wait(0.3) is False
    waiter.close()

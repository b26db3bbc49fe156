"""on_failure hooks that raise, and Resque's message naming both errors (no Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from resque_proto import job_hooks
from resque_proto.ruby_inspect import ruby_inspect


class HookError(Exception):
    pass


class BadHook:
    ran: list[str] = []  # noqa: RUF012

    @staticmethod
    def perform(n: int) -> None:
        raise ValueError(f"bad {n}")

    @classmethod
    def on_failure_a(cls, error: BaseException, *args: Any) -> None:
        cls.ran.append("a")
        raise HookError("hook broke")

    @classmethod
    def on_failure_b(cls, error: BaseException, *args: Any) -> None:
        cls.ran.append("b")


class GoodHook:
    @staticmethod
    def perform() -> None:
        raise KeyError("k")

    @staticmethod
    def on_failure(error: BaseException) -> None:
        pass


def test_the_original_error_is_raised_carrying_the_hooks() -> None:
    BadHook.ran.clear()
    with pytest.raises(ValueError, match="bad 3") as raised:
        job_hooks.perform(BadHook, [3])
    hook_error = job_hooks.failure_hook_error(raised.value)
    assert isinstance(hook_error, HookError) and str(hook_error) == "hook broke"
    assert BadHook.ran == ["a"]  # as in Ruby, a raising hook stops the rest
    assert raised.value.__notes__ == [
        "Additional error (HookError: hook broke) in an on_failure hook"
    ]


def test_no_hook_error_when_the_hooks_succeed() -> None:
    with pytest.raises(KeyError) as raised:
        job_hooks.perform(GoodHook, [])
    assert job_hooks.failure_hook_error(raised.value) is None


def test_the_message_is_resques_byte_for_byte() -> None:
    message = job_hooks.failure_hook_message(
        hook_exception="RuntimeError",
        hook_error="This job is just so bad!",
        queue="jobs",
        class_name="BadJobWithOnFailureHookFail",
        args=[],
        exception="Resque::DirtyExit",
        error="Job still being processed",
    )
    # Ruby 3.0 (job.rb run_failure_hooks), hook's class before the original's included.
    assert message == (
        "Additional error (RuntimeError: This job is just so bad!) occurred in running failure"
        " hooks for job (Job{jobs} | BadJobWithOnFailureHookFail | [])\n"
        "Original error that caused job failure was RuntimeError: Resque::DirtyExit: "
        "Job still being processed"
    )


@pytest.mark.parametrize(
    ("value", "ruby"),
    [
        ([44, "master"], '[44, "master"]'),
        ([None, True, False], "[nil, true, false]"),
        ([1.0, 2.5, 1e20, 1.5e-05, -3.0], "[1.0, 2.5, 1.0e+20, 1.5e-05, -3.0]"),
        ({"a": [1], "b": {}}, '{"a" => [1], "b" => {}}'),
        ('say "hi"\n\t\\', '"say \\"hi\\"\\n\\t\\\\"'),
        ("#{x} #$y #@z #a", '"\\#{x} \\#$y \\#@z #a"'),
        ("\x01\x7f\x1bé", '"\\u0001\\u007F\\eé"'),
    ],
)
def test_ruby_inspect(value: Any, ruby: str) -> None:
    assert ruby_inspect(value) == ruby

"""Job classes come only from the modules named in ``RESQUE_JOBS``.

A payload's ``class`` string is looked up in a table built once, in the parent,
before the first fork: a payload can never make the worker import anything.
Each module contributes every class it defines that has a ``perform``, under its
own name (``Archive``) and its dotted path (``resque_worker.examples.Archive``),
plus the Ruby names it maps in ``RESQUE_CLASS_NAMES`` (``{"Billing::Invoice":
Invoice}``). Worker hooks are module-level functions named as Resque's
(``before_first_fork()``, ``before_fork(job)``, ``after_fork(job)``,
``before_pause(worker)``, ``after_pause(worker)``, ``queue_empty()``,
``shutdown()``, ``worker_exit()``); each name may come from several modules and
runs in ``RESQUE_JOBS`` order. Where and when each runs: docs/worker.md.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from resque_worker.errors import UnknownJobClass

RUBY_NAMES_ATTRIBUTE = "RESQUE_CLASS_NAMES"
WORKER_HOOKS = (
    "before_first_fork",
    "before_fork",
    "after_fork",
    "before_pause",
    "after_pause",
    "queue_empty",
    "shutdown",
    "worker_exit",
)


class JobModuleError(ImportError):
    """A ``RESQUE_JOBS`` module that cannot be imported or declares something wrong."""


@dataclass
class JobRegistry:
    classes: dict[str, type] = field(default_factory=dict)
    modules: tuple[str, ...] = ()
    hooks: dict[str, list[Callable[..., Any]]] = field(default_factory=dict)

    @classmethod
    def from_modules(cls, names: Sequence[str]) -> JobRegistry:
        registry = cls(modules=tuple(names), hooks={name: [] for name in WORKER_HOOKS})
        for name in names:
            registry._add_module(_import(name))
        return registry

    def _add_module(self, module: ModuleType) -> None:
        for attribute, value in vars(module).items():
            if _is_job_class(value) and value.__module__ == module.__name__:
                self.classes.setdefault(attribute, value)
                self.classes.setdefault(f"{module.__name__}.{attribute}", value)
        ruby_names = getattr(module, RUBY_NAMES_ATTRIBUTE, {})
        if not isinstance(ruby_names, dict):
            raise JobModuleError(f"{module.__name__}.{RUBY_NAMES_ATTRIBUTE} must be a dict")
        for ruby_name, job_class in ruby_names.items():
            if not _is_job_class(job_class):
                raise JobModuleError(
                    f"{module.__name__}.{RUBY_NAMES_ATTRIBUTE}[{ruby_name!r}] has no perform"
                )
            self.classes[str(ruby_name)] = job_class
        for hook in WORKER_HOOKS:
            function = getattr(module, hook, None)
            if callable(function):
                self.hooks[hook].append(function)

    def lookup(self, class_name: str) -> type:
        try:
            return self.classes[class_name]
        except KeyError:
            where = ", ".join(self.modules) or "none: RESQUE_JOBS is empty"
            raise UnknownJobClass(
                f"uninitialized constant {class_name}: no job class of that name in the "
                f"RESQUE_JOBS modules ({where})"
            ) from None

    def run_hooks(self, name: str, *args: Any) -> None:
        for hook in self.hooks.get(name, []):
            hook(*args)


def _is_job_class(value: object) -> bool:
    return inspect.isclass(value) and callable(getattr(value, "perform", None))


def _import(name: str) -> ModuleType:
    """Import a job module; like ``python -m``, the current directory is searched too."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except Exception as error:
        raise JobModuleError(
            f"cannot import RESQUE_JOBS module {name!r}: {type(error).__name__}: {error}"
        ) from error

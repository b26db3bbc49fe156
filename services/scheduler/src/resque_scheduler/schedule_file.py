"""The schedule file (``RESQUE_SCHEDULE``): resque-scheduler's YAML, checked at start."""

from __future__ import annotations

from typing import Any

import yaml

from resque_proto.errors import ValidationError
from resque_proto.payload import encode_json
from resque_proto.recurring import env_matches, parse_entry


class ScheduleFileError(ValueError):
    """The file cannot be used; the message says where and why."""


def load_schedule_file(path: str, env: str | None) -> dict[str, dict[str, Any]]:
    """``name -> definition`` for the entries meant for ``env``, every one valid."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as error:
        raise ScheduleFileError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ScheduleFileError(f"{path}: not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ScheduleFileError(f"{path}: must map schedule names to definitions")
    definitions: dict[str, dict[str, Any]] = {}
    for name, definition in document.items():
        if not isinstance(definition, dict):
            raise ScheduleFileError(f"{path}: {name}: must be a mapping")
        try:
            parse_entry(str(name), definition)
            encode_json(definition)
        except ValidationError as error:
            raise ScheduleFileError(f"{path}: {name}: {error.field}: {error.message}") from None
        except (TypeError, ValueError) as error:
            raise ScheduleFileError(f"{path}: {name}: not representable in JSON: {error}") from None
        if env_matches(definition, env):
            definitions[str(name)] = definition
    return definitions

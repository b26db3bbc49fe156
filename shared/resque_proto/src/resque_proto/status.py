"""Job status by id: one small JSON string per job, with an expiry.

Written by whoever changes the job, inside the script or transaction that
changes it (docs/protocol.md, section 9); read by ``GET /jobs/{id}`` and the CLI.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from resque_proto.keys import Keys
from resque_proto.payload import COMPACT, Job, decode_json
from resque_proto.text import text

if TYPE_CHECKING:  # the worker's configuration reads DEFAULT_TTL before forking its zygote
    import redis

TTL_ENV = "RESQUE_STATUS_TTL"
DEFAULT_TTL = 86_400
MAX_ID_LENGTH = 128
QUEUED, SCHEDULED, RUNNING, SUCCEEDED, FAILED, UNKNOWN = (
    "queued", "scheduled", "running", "succeeded", "failed", "unknown",
)  # fmt: skip


# For scripts that change a job: ``write_status(prefix, ttl, job, queue, state, extra)``
# where ``job`` is the decoded payload; jobs without a usable id get no status.
STATUS_LUA = """
local function now_epoch()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local function write_status(prefix, ttl, job, queue, state, extra)
  if not ttl or ttl <= 0 or type(job) ~= 'table' then return end
  local id = job['id']
  if type(id) ~= 'string' or #id == 0 or #id > 128 then return end
  local body = {id = id, state = state, queue = queue, class = job['class'],
                updated_at = now_epoch()}
  if type(job['attempt']) == 'number' then body['attempt'] = job['attempt'] end
  for key, value in pairs(extra) do body[key] = value end
  redis.call('SET', prefix .. 'pyresque:status:' .. id, cjson.encode(body), 'EX', ttl)
end
"""


def ttl_from_env() -> int:
    """``RESQUE_STATUS_TTL`` seconds (0 turns status off); a bad value is an error."""
    raw = os.environ.get(TTL_ENV, "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        ttl = int(raw)
    except ValueError:
        raise ValueError(f"{TTL_ENV}={raw!r} is not a whole number of seconds") from None
    if ttl < 0:
        raise ValueError(f"{TTL_ENV}={raw!r} must be 0 (off) or more")
    return ttl


def job_id_of(job: Job) -> str | None:
    """The job's id, if it has one we can key a status by."""
    value = job.extras.get("id")
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def status_json(job: Job, job_id: str, queue: str, state: str, **fields: Any) -> str:
    body: dict[str, Any] = {
        "id": job_id,
        "state": state,
        "queue": queue,
        "class": job.class_name,
        "updated_at": round(time.time(), 6),
    }
    attempt = job.extras.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool):
        body["attempt"] = attempt
    body.update(fields)
    return COMPACT.encode(body)


def read_status(client: redis.Redis, keys: Keys, job_id: str) -> dict[str, Any] | None:
    """The stored status, or None (unknown: never ours, expired, or not yet seen)."""
    if not job_id or len(job_id) > MAX_ID_LENGTH:
        return None
    raw = text(client.get(keys.status(job_id)))
    if raw is None:
        return None
    try:
        body = decode_json(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

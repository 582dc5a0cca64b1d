"""summary.json's version and schema.

`SCHEMA_VERSION` is in every summary; summary.schema.json (JSON Schema 2020-12, shipped
beside this module) describes it and tests/unit/test_summary_schema.py validates real
summaries against it. Bump the version when a key changes meaning or disappears, and
update the schema with it (new keys need no bump: the schema allows them).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMA_VERSION = 1
SCHEMA_NAME = "summary.schema.json"

STATUS_OK = "ok"  # delivered byte-exact, nothing leaked
STATUS_FAILED = "failed"  # `error` says why
STATUS_INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM; `signal` names it
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED)


def load_schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(SCHEMA_NAME).read_text())


__all__ = ["SCHEMA_NAME", "SCHEMA_VERSION", "STATUSES", "STATUS_FAILED", "STATUS_INTERRUPTED", "STATUS_OK",
           "load_schema"]

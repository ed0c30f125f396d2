"""Each sink's JSON Schema fragment lives beside it as `sinks/<name>/schema.json`."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_fragment(package: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(package).joinpath("schema.json").read_text("utf-8"))
    return data

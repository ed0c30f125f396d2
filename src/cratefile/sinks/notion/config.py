"""The Notion sink's manifest section: `notion: {database, token_env, api_url, properties, local_files}`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cratefile.sources.base import ManifestReader
from cratefile.yamlpos import YamlPath

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class NotionConfig:
    database: str  # id (dashes optional) parsed from an id or URL
    token_env: str
    token: str | None = field(default=None, repr=False, compare=False)
    api_url: str = "https://api.notion.com"
    properties: tuple[tuple[str, str], ...] = ()  # (our field, user's property name)
    local_files: bool = True  # mirror local-folder tracks too (keyed by their file URI)


def notion_database_id(value: str) -> str | None:
    """A database id (dashed UUID form) from a Notion URL or a bare id; None if neither."""
    value = value.strip()
    if value.startswith(("http://", "https://")):
        segment = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
        candidate = segment.replace("-", "")[-32:]
    else:
        candidate = value.replace("-", "")
    if not _HEX32.fullmatch(candidate):
        return None
    h = candidate.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_notion(section: Any, reader: ManifestReader) -> NotionConfig:
    base: YamlPath = ("notion",)
    database = notion_database_id(section["database"])
    if database is None:
        reader.bad((*base, "database"), f"{reader.show((*base, 'database'))} is not a Notion "
                   "database URL or id", "copy the database's link in Notion, or give its "
                   "32-hex-digit id")
    token_env: str = section.get("token_env", "NOTION_TOKEN")
    token = reader.env.get(token_env)
    where = (*base, "token_env") if "token_env" in section else base
    if not token:
        reader.bad(where, f"the environment variable {token_env} is "
                   f"{'empty' if token == '' else 'not set'}",
                   f"notion: needs the integration token: set {token_env}, or remove notion:",
                   key=True)
        token = None
    else:
        reader.secret(token)
        if any(c.isspace() or not c.isprintable() for c in token):
            reader.bad(where, f"the token in {token_env} contains spaces or control characters",
                       f"set {token_env} to the bare token", key=True)
    properties = section.get("properties") or {}
    return NotionConfig(
        database=database or "",
        token_env=token_env,
        token=token,
        api_url=section.get("api_url", "https://api.notion.com").rstrip("/"),
        properties=tuple(sorted(properties.items())),
        local_files=bool(section.get("local_files", True)),
    )

"""The `discogs:` kind's manifest parts: a playlist entry (`{folder: "Techno 12s"}`, `{folder:
123}`, optional `user:`) and the top-level `discogs:` section (whose collection, the token
from the environment, the endpoint, the snapshot TTL, the User-Agent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cratefile import USER_AGENT
from cratefile.sources.base import ManifestReader
from cratefile.yamlpos import YamlPath

DEFAULT_API_URL = "https://api.discogs.com"
DEFAULT_TOKEN_ENV = "DISCOGS_TOKEN"
DEFAULT_REFRESH = "6h"
TOKEN_PAGE = "https://www.discogs.com/settings/developers"

_USER: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^\S+$",
    "x-expected": "a Discogs username",
    "x-hint": "the name in your profile's address: https://www.discogs.com/user/<name>",
}

PLAYLIST_SCHEMA: Mapping[str, Any] = {
    "description": "The releases of a folder of a Discogs collection, every track of their tracklists. Each "
                   "track is matched to an upload (see playlists.lock); the top-level discogs: section holds "
                   "the user and the token.",
    "type": "object",
    "additionalProperties": False,
    "required": ["folder"],
    "x-expected": "a mapping with folder:",
    "examples": [{"folder": "Techno 12s"}],
    "properties": {
        "folder": {
            "description": "The collection folder: its name as Discogs shows it (case does not matter) or its "
                           "number; 0 is All, 1 is Uncategorized.",
            "type": ["string", "integer"],
            "minimum": 0,
            "minLength": 1,
            "x-expected": "a folder name or number",
            "examples": ["Techno 12s", 0],
        },
        "user": {
            **_USER,
            "description": "Whose collection, instead of discogs.user. Another user's collection shows only "
                           "its All folder (0), and only when it is public.",
        },
    },
}

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "description": "Discogs access for every discogs: playlist: whose collection, the personal access token "
                   "(from the environment) and how long a playlist's snapshot is reused.",
    "type": "object",
    "additionalProperties": False,
    "required": ["user"],
    "x-expected": "a mapping with user:",
    "examples": [{"user": "your_name", "token_env": DEFAULT_TOKEN_ENV}],
    "properties": {
        "user": {**_USER, "description": "Your Discogs username: the collection the playlists take folders of."},
        "token_env": {
            "description": f"Name of the environment variable holding your personal access token ({TOKEN_PAGE}).",
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "x-expected": "an environment variable name",
            "x-hint": "use letters, digits and _, e.g. DISCOGS_TOKEN",
            "default": DEFAULT_TOKEN_ENV,
        },
        "api_url": {
            "description": "Base URL of the Discogs API.",
            "$ref": "#/$defs/httpUrl",
            "default": DEFAULT_API_URL,
        },
        "refresh": {
            "description": "How long a Discogs playlist's snapshot is reused without asking Discogs.",
            "$ref": "#/$defs/duration",
            "default": DEFAULT_REFRESH,
        },
        "user_agent": {
            "description": "The User-Agent sent to Discogs, which asks that it name the application.",
            "type": "string",
            "minLength": 1,
            "default": USER_AGENT,
        },
    },
}


@dataclass(frozen=True)
class DiscogsSettings:
    user: str
    token_env: str = DEFAULT_TOKEN_ENV
    token: str | None = field(default=None, repr=False, compare=False)
    api_url: str = DEFAULT_API_URL
    refresh_seconds: float = 6 * 3600.0
    user_agent: str = USER_AGENT


def parse_settings(section: Mapping[str, Any], reader: ManifestReader) -> DiscogsSettings:
    from cratefile.manifest import parse_duration

    base: YamlPath = ("discogs",)
    token_env: str = section.get("token_env", DEFAULT_TOKEN_ENV)
    where: YamlPath = (*base, "token_env") if "token_env" in section else base
    token = reader.env.get(token_env)
    if not token:
        reader.bad(where, f"the environment variable {token_env} is {'empty' if token == '' else 'not set'}",
                   f"discogs: needs your personal access token ({TOKEN_PAGE}): set {token_env}, "
                   "or remove discogs:", key=True)
        token = None
    else:
        reader.secret(token)
        if any(c.isspace() or not c.isprintable() for c in token):
            reader.bad(where, f"the token in {token_env} contains spaces or control characters",
                       f"set {token_env} to the bare token", key=True)
            token = None
    return DiscogsSettings(
        user=str(section["user"]).strip(),
        token_env=token_env,
        token=token,
        api_url=str(section.get("api_url", DEFAULT_API_URL)).rstrip("/"),
        refresh_seconds=parse_duration(section.get("refresh", DEFAULT_REFRESH)),
        user_agent=str(section.get("user_agent", USER_AGENT)),
    )


@dataclass(frozen=True)
class DiscogsTuning:
    """Pacing and retries; tests shrink nothing here, they inject a clock instead."""

    rate_per_s: float = 1.0  # the limiter's average: 60 a minute
    burst: int = 3
    window: float = 60.0  # Discogs' moving minute
    low: int = 2  # Remaining at or below this: wait for the minute to free up
    attempts: int = 6  # calls per request in all, for 429, 5xx and transport errors
    base_delay: float = 2.0  # backoff for 5xx and transport errors, doubled per attempt
    max_delay: float = 60.0
    timeout: float = 30.0  # seconds per request

"""The `spotify:` kind's manifest parts: a playlist entry's reference and the top-level
`spotify:` section (credentials from the environment, endpoints, auth flow, snapshot TTL)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cratefile.sources.base import ManifestReader
from cratefile.yamlpos import YamlPath

AuthMode = Literal["client_credentials", "user"]

DEFAULT_API_URL = "https://api.spotify.com/v1"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_AUTHORIZE_URL = "https://accounts.spotify.com/authorize"
DEFAULT_REFRESH = "5m"
TOKEN_FILE = "spotify-token.json"  # under cache/: the stored refresh token of `cratefile login spotify`
SCOPES = ("playlist-read-private", "playlist-read-collaborative")

_ID = r"[0-9A-Za-z]{22}"
_URL = re.compile(rf"https?://open\.spotify\.com/(?:intl-[A-Za-z]{{2}}(?:-[A-Za-z]{{2}})?/)?(?:user/[^/?#]+/)?"
                  rf"playlist/(?P<id>{_ID})/?(?:[?#].*)?")
_URI = re.compile(rf"spotify:(?:user:[^:]+:)?playlist:(?P<id>{_ID})")
_BARE = re.compile(rf"(?P<id>{_ID})")


def playlist_id(value: str) -> str | None:
    """The playlist id of a link (https://open.spotify.com/playlist/ID?si=...), a URI
    (spotify:playlist:ID) or a bare id; None if `value` is none of them."""
    value = value.strip()
    for pattern in (_URL, _URI, _BARE):
        match = pattern.fullmatch(value)
        if match:
            return match.group("id")
    return None


PLAYLIST_SCHEMA: Mapping[str, Any] = {
    "description": "A Spotify playlist: its link (https://open.spotify.com/playlist/<id>?si=...), its URI "
                   "(spotify:playlist:<id>) or its 22-character id. Each track is matched to an upload "
                   "(see playlists.lock); the top-level spotify: section holds the credentials.",
    "type": "string",
    "minLength": 1,
    "x-expected": "a Spotify playlist link, URI or id",
    "x-hint": "copy the playlist's link in Spotify (Share > Copy link to playlist)",
    "examples": ["https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M", "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"],
}

_ENV_NAME: dict[str, Any] = {
    "type": "string",
    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
    "x-expected": "an environment variable name",
    "x-hint": "use letters, digits and _, e.g. SPOTIFY_CLIENT_ID",
}

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "description": "Spotify access for every spotify: playlist: the app's credentials (from the environment), "
                   "the endpoints, the authorization flow and how long a playlist's snapshot is reused.",
    "type": "object",
    "additionalProperties": False,
    "x-expected": "a mapping of Spotify options (spotify: {} takes every default)",
    "properties": {
        "client_id_env": {
            **_ENV_NAME,
            "description": "Name of the environment variable holding the client ID of your Spotify app "
                           "(developer.spotify.com/dashboard). It must be set when spotify: is present.",
            "default": "SPOTIFY_CLIENT_ID",
            "examples": ["SPOTIFY_CLIENT_ID"],
        },
        "client_secret_env": {
            **_ENV_NAME,
            "description": "Name of the environment variable holding the app's client secret. Needed for "
                           "auth: client_credentials; auth: user (PKCE) does without it.",
            "default": "SPOTIFY_CLIENT_SECRET",
            "examples": ["SPOTIFY_CLIENT_SECRET"],
        },
        "api_url": {
            "description": "Base URL of the Spotify Web API, with its /v1.",
            "$ref": "#/$defs/httpUrl",
            "default": DEFAULT_API_URL,
        },
        "token_url": {
            "description": "Spotify's token endpoint.",
            "$ref": "#/$defs/httpUrl",
            "default": DEFAULT_TOKEN_URL,
        },
        "authorize_url": {
            "description": "Spotify's authorization page (used by cratefile login spotify).",
            "$ref": "#/$defs/httpUrl",
            "default": DEFAULT_AUTHORIZE_URL,
        },
        "auth": {
            "description": "client_credentials: an app token (an app in development mode then sees no playlist "
                           "items); user: your login from `cratefile login spotify` (Authorization Code with "
                           "PKCE), which reads the playlists you own or collaborate on. Default: user once a "
                           "login is stored, else client_credentials.",
            "enum": ["client_credentials", "user"],
        },
        "refresh": {
            "description": "How long a Spotify playlist's snapshot is reused without asking Spotify.",
            "$ref": "#/$defs/duration",
            "default": DEFAULT_REFRESH,
        },
    },
}


@dataclass(frozen=True)
class SpotifySettings:
    client_id_env: str = "SPOTIFY_CLIENT_ID"
    client_secret_env: str = "SPOTIFY_CLIENT_SECRET"
    api_url: str = DEFAULT_API_URL
    token_url: str = DEFAULT_TOKEN_URL
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    auth: AuthMode | None = None  # None: user when a login is stored, else client_credentials
    refresh_seconds: float = 300.0
    client_id: str | None = field(default=None, repr=False, compare=False)
    client_secret: str | None = field(default=None, repr=False, compare=False)


def _env_secret(section: Mapping[str, Any], reader: ManifestReader, key: str, default: str,
                needed_for: str) -> tuple[str, str | None]:
    name: str = section.get(key, default)
    value = reader.env.get(name)
    where: YamlPath = ("spotify", key) if key in section else ("spotify",)
    if not value:
        if needed_for:
            reader.bad(where, f"the environment variable {name} is {'empty' if value == '' else 'not set'}",
                       f"spotify: needs {needed_for}: set {name}, or remove spotify:", key=True)
        return name, None
    reader.secret(value)
    if any(c.isspace() or not c.isprintable() for c in value):
        reader.bad(where, f"the value of {name} contains spaces or control characters",
                   f"set {name} to the bare value", key=True)
        return name, None
    return name, value


def parse_settings(section: Mapping[str, Any], reader: ManifestReader) -> SpotifySettings:
    from cratefile.manifest import parse_duration

    auth: AuthMode | None = section.get("auth")
    id_env, client_id = _env_secret(section, reader, "client_id_env", "SPOTIFY_CLIENT_ID",
                                    "your Spotify app's client ID")
    secret_env, secret = _env_secret(section, reader, "client_secret_env", "SPOTIFY_CLIENT_SECRET",
                                     "" if auth == "user" else "your Spotify app's client secret "
                                     "(or auth: user after cratefile login spotify)")
    return SpotifySettings(
        client_id_env=id_env,
        client_secret_env=secret_env,
        api_url=str(section.get("api_url", DEFAULT_API_URL)).rstrip("/"),
        token_url=str(section.get("token_url", DEFAULT_TOKEN_URL)),
        authorize_url=str(section.get("authorize_url", DEFAULT_AUTHORIZE_URL)),
        auth=auth,
        refresh_seconds=parse_duration(section.get("refresh", DEFAULT_REFRESH)),
        client_id=client_id,
        client_secret=secret,
    )

"""A fake Spotify (accounts + Web API) on 127.0.0.1, for the real spotipy client.

Accounts: `POST /api/token` with the client-credentials grant (HTTP Basic), the
authorization-code grant with PKCE (the code_verifier is checked against the code_challenge
given to `/authorize`) and the refresh-token grant (refresh tokens rotate when asked);
`GET /authorize` redirects to the loopback redirect_uri with `code` and `state` (the user
always consents unless `deny` is set). A bad client id or secret answers 400
`{"error":"invalid_client","error_description":"Invalid client"}`, as Spotify does.

Web API (under /v1), in one of two generations (`mode`):
- "development": an app in development mode after Spotify's February 2026 changes:
  `/playlists/{id}/items` (limit <= 50, default 20; entries carry `item` and `track`), no
  `popularity`, `/artists?ids=` and `/playlists/{id}/tracks` answer 404, and the items of a
  playlist are listed only to its owner or a collaborator (403 otherwise, app tokens included).
- "extended": the historic API of an app with extended quota: `/playlists/{id}/tracks`
  (limit <= 100, entries under `track`), `popularity`, `/artists?ids=` (<= 50 ids); `/items`
  answers 404 unless `items_endpoint=True`.
Paging objects carry `href`, `items`, `limit`, `next`, `offset`, `previous`, `total`; the
`fields` parameter filters the top-level keys of a playlist and is ignored on item pages.
Private playlists are 404 to everyone but their owner and collaborators, as are unknown ids.
Access tokens expire after `token_lifetime` seconds (401 "The access token expired"), or at
once with `expire_tokens()` or an injected `Fault.expire()`. Faults (429 + Retry-After, 5xx)
are replayed from a queue, each by the first request it matches. Every request is logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fakes.server import LoopbackServer, reply

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spotify_id(seed: str) -> str:
    """A stable 22-character base-62 id for `seed`."""
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    out = ""
    for _ in range(22):
        n, r = divmod(n, 62)
        out += _B62[r]
    return out


@dataclass(frozen=True)
class Track:
    name: str
    artists: tuple[str, ...]
    album: str = "An Album"
    duration_ms: int = 215_000
    isrc: str | None = None
    popularity: int = 42
    id: str = ""
    type: str = "track"  # "episode" for a podcast episode in a playlist

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", spotify_id(f"track {self.name} {self.artists}"))


@dataclass(frozen=True)
class LocalFile:
    """A file from the owner's computer added to the playlist: no Spotify id."""

    name: str
    artist: str
    album: str = ""
    duration_ms: int = 180_000


Entry = Track | LocalFile | None  # None: a track since removed from Spotify (`track: null`)


@dataclass
class FakePlaylist:
    id: str
    name: str
    owner: str
    entries: list[Entry]
    public: bool = True
    collaborative: bool = False
    collaborators: set[str] = field(default_factory=set)
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        return base64.b64encode(f"{self.version},{self.id}".encode()).decode()

    def visible_to(self, user: str | None) -> bool:
        return user is not None and (user == self.owner or user in self.collaborators)

    def edit(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.version += 1


@dataclass
class Fault:
    """One injected misbehaviour, spent by the first request it matches (after `skip` matches)."""

    status: int = 429
    message: str = "API rate limit exceeded"
    retry_after: str | None = "1"
    path: str | None = None  # only requests whose path starts with this (e.g. "/v1/playlists")
    method: str | None = None
    skip: int = 0  # let this many matching requests through first
    expire: bool = False  # instead of answering: expire every access token, then process normally

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or path.startswith(self.path))

    @classmethod
    def rate_limited(cls, retry_after: str | None = "1", **kw: Any) -> Fault:
        return cls(429, "API rate limit exceeded", retry_after, **kw)

    @classmethod
    def server_error(cls, status: int = 503, **kw: Any) -> Fault:
        return cls(status, "Service unavailable", None, **kw)

    @classmethod
    def expire_tokens(cls, **kw: Any) -> Fault:
        return cls(401, "The access token expired", None, expire=True, **kw)


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    who: str = ""  # "app", "user:<id>" or "" (no valid token)
    fault: str = ""


@dataclass
class _Token:
    kind: str  # app | user
    user: str | None
    expires_at: float  # time.monotonic()
    scope: str = ""


@dataclass
class _Code:
    redirect_uri: str
    challenge: str | None
    scope: str
    user: str
    used: bool = False


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _api_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(status, {"error": {"status": status, "message": message}}, headers)


def _oauth_error(error: str, description: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": error, "error_description": description})


def _top_fields(spec: str) -> set[str]:
    """The top-level names of a `fields` filter: 'id,name,owner(id),tracks.items(track(name))'."""
    names, depth, current = set(), 0, ""
    for ch in spec:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            names.add(current.split(".")[0].strip())
            current = ""
            continue
        if depth == 0 and ch not in "()":
            current += ch
    names.add(current.split(".")[0].strip())
    return {n for n in names if n}


class FakeSpotify(LoopbackServer):
    def __init__(
        self,
        *,
        mode: str = "development",
        client_id: str = "fakeclientid0123456789abcdef",
        client_secret: str = "fakeclientsecretfedcba9876543210",
        user: str = "djowner",
        token_lifetime: float = 3600.0,
        rotate_refresh_tokens: bool = True,
        items_endpoint: bool | None = None,
    ) -> None:
        if mode not in ("development", "extended"):
            raise ValueError(mode)
        self.mode = mode
        self.client_id, self.client_secret = client_id, client_secret
        self.user = user  # who logs in at /authorize
        self.token_lifetime = token_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.items_endpoint = mode == "development" if items_endpoint is None else items_endpoint
        self.deny = False  # the user refuses at /authorize
        self.legacy_track_field = True  # development mode still sends `track` beside `item`
        self.requests: list[LoggedRequest] = []
        self.issued: list[str] = []  # every access token, refresh token and code handed out
        self.playlists: dict[str, FakePlaylist] = {}
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (user, scope)
        self._codes: dict[str, _Code] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    # ---- test controls ---------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    def add_playlist(self, name: str, entries: Iterable[Entry], *, owner: str | None = None, public: bool = True,
                     collaborators: Iterable[str] = (), playlist_id: str | None = None) -> FakePlaylist:
        with self._lock:
            pl = FakePlaylist(playlist_id or spotify_id(f"playlist {name}"), name, owner or self.user,
                              list(entries), public=public, collaborators=set(collaborators),
                              collaborative=bool(collaborators))
            self.playlists[pl.id] = pl
            return pl

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def grant_refresh_token(self, user: str | None = None,
                            scope: str = "playlist-read-private playlist-read-collaborative") -> str:
        """A refresh token as a past login would have left (no request)."""
        with self._lock:
            return self._new_refresh(user or self.user, scope)

    def valid_refresh_tokens(self) -> set[str]:
        with self._lock:
            return set(self._refresh)

    def calls(self, path_part: str = "") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    # ---- request entry point ---------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: Mapping[str, str],
               raw: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            entry = LoggedRequest(method, path, query, 0)
            self.requests.append(entry)
            try:
                fault = self._take_fault(method, path)
                if fault is not None and fault.expire:
                    for token in self._tokens.values():
                        token.expires_at = 0.0
                    entry.fault, fault = "expire", None
                if fault is not None:
                    entry.fault = f"{fault.status}"
                    hdrs = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    raise _api_error(fault.status, fault.message, hdrs)
                status, hdrs, payload = self._route(method, path, query, headers, raw, entry)
            except ApiError as err:
                status, hdrs, payload = err.status, err.headers, err.body
            entry.status = status
        if isinstance(payload, bytes):
            return status, hdrs, payload
        return status, {"Content-Type": "application/json; charset=utf-8", **hdrs}, json.dumps(payload).encode()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                self._faults.remove(fault)
                return fault
        return None

    def _route(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], raw: bytes,
               entry: LoggedRequest) -> tuple[int, dict[str, str], Any]:
        if path == "/api/token":
            if method != "POST":
                raise _api_error(405, "Method not allowed")
            return 200, {}, self._token(headers, raw)
        if path == "/authorize" and method == "GET":
            return self._authorize(query)
        if not path.startswith("/v1/"):
            raise _api_error(404, "Service not found")
        if method != "GET":
            raise _api_error(405, "Method not allowed")
        token = self._bearer(headers)
        entry.who = "app" if token.kind == "app" else f"user:{token.user}"
        segments = path.removeprefix("/v1/").strip("/").split("/")
        if segments[0] == "playlists" and len(segments) == 2:
            return 200, {}, self._playlist(segments[1], token, query)
        if segments[0] == "playlists" and len(segments) == 3 and segments[2] in ("items", "tracks"):
            return 200, {}, self._items(segments[1], segments[2], token, query)
        if segments == ["artists"]:
            return 200, {}, self._artists(query)
        raise _api_error(404, "Service not found")

    # ---- accounts --------------------------------------------------------------------------
    def _new_access(self, kind: str, user: str | None, scope: str = "") -> dict[str, Any]:
        token = "BQ" + secrets.token_urlsafe(40)
        self._tokens[token] = _Token(kind, user, time.monotonic() + self.token_lifetime, scope)
        self.issued.append(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_lifetime)}

    def _new_refresh(self, user: str, scope: str) -> str:
        refresh = "AQ" + secrets.token_urlsafe(48)
        self._refresh[refresh] = (user, scope)
        self.issued.append(refresh)
        return refresh

    def _client(self, headers: Mapping[str, str], form: Mapping[str, str], *, secret_required: bool) -> None:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _oauth_error("invalid_client", "Invalid client") from None
            if cid != self.client_id or secret != self.client_secret:
                raise _oauth_error("invalid_client", "Invalid client")
            return
        if secret_required:
            raise _oauth_error("invalid_client", "Invalid client")
        if form.get("client_id") != self.client_id:
            raise _oauth_error("invalid_client", "Invalid client")

    def _token(self, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
        if "application/x-www-form-urlencoded" not in headers.get("Content-Type", "application/x-www-form-urlencoded"):
            raise _oauth_error("invalid_request", "Unsupported content type")
        form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            self._client(headers, form, secret_required=True)
            return self._new_access("app", None)
        if grant == "authorization_code":
            code = self._codes.get(form.get("code", ""))
            self._client(headers, form, secret_required=code is None or code.challenge is None)
            if code is None or code.used:
                raise _oauth_error("invalid_grant", "Invalid authorization code")
            code.used = True
            if form.get("redirect_uri") != code.redirect_uri:
                raise _oauth_error("invalid_grant", "Invalid redirect URI")
            if code.challenge is not None:
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if not 43 <= len(verifier) <= 128 or digest != code.challenge:
                    raise _oauth_error("invalid_grant", "code_verifier was incorrect")
            out = self._new_access("user", code.user, code.scope)
            out.update(refresh_token=self._new_refresh(code.user, code.scope), scope=code.scope)
            return out
        if grant == "refresh_token":
            self._client(headers, form, secret_required=False)
            known = self._refresh.get(form.get("refresh_token", ""))
            if known is None:
                raise _oauth_error("invalid_grant", "Invalid refresh token")
            user, scope = known
            out = self._new_access("user", user, scope)
            out["scope"] = scope
            if self.rotate_refresh_tokens:
                del self._refresh[form["refresh_token"]]
                out["refresh_token"] = self._new_refresh(user, scope)
            return out
        raise _oauth_error("unsupported_grant_type", f"Grant type {grant!r} is not supported")

    def _authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        def page(text: str) -> tuple[int, dict[str, str], bytes]:
            return 400, {"Content-Type": "text/html"}, f"<html><body>{text}</body></html>".encode()

        if query.get("client_id") != self.client_id:
            return page("INVALID_CLIENT: Invalid client")
        redirect = query.get("redirect_uri", "")
        target = urlsplit(redirect)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "[::1]") or target.port is None:
            return page("INVALID_CLIENT: Invalid redirect URI")  # only loopback redirects are registered
        if query.get("response_type") != "code":
            return page("unsupported_response_type")
        challenge = query.get("code_challenge")
        if challenge is not None and query.get("code_challenge_method") != "S256":
            return page("code_challenge_method must be S256")
        answer: dict[str, str] = {}
        if self.deny:
            answer["error"] = "access_denied"
        else:
            code = "AQ" + secrets.token_urlsafe(32)
            self._codes[code] = _Code(redirect, challenge, query.get("scope", ""), self.user)
            self.issued.append(code)
            answer["code"] = code
        if "state" in query:
            answer["state"] = query["state"]
        location = f"{redirect}{'&' if target.query else '?'}{urlencode(answer)}"
        return 302, {"Location": location, "Content-Length": "0"}, b""

    # ---- web API ---------------------------------------------------------------------------
    def _bearer(self, headers: Mapping[str, str]) -> _Token:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise _api_error(401, "No token provided")
        token = self._tokens.get(auth[7:])
        if token is None:
            raise _api_error(401, "Invalid access token")
        if token.expires_at <= time.monotonic():
            raise _api_error(401, "The access token expired")
        return token

    def _find(self, playlist_id: str, token: _Token) -> FakePlaylist:
        pl = self.playlists.get(playlist_id)
        if pl is None or (not pl.public and not pl.visible_to(token.user)):
            raise _api_error(404, "Resource not found")
        return pl

    def _playlist(self, playlist_id: str, token: _Token, query: Mapping[str, str]) -> dict[str, Any]:
        pl = self._find(playlist_id, token)
        href = f"{self.api_url}/playlists/{pl.id}"
        data: dict[str, Any] = {
            "collaborative": pl.collaborative, "description": "", "id": pl.id, "href": href, "images": [],
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{pl.id}"}, "name": pl.name,
            "owner": {"id": pl.owner, "display_name": pl.owner.title(), "type": "user",
                      "uri": f"spotify:user:{pl.owner}"},
            "public": pl.public, "snapshot_id": pl.snapshot_id, "type": "playlist", "uri": f"spotify:playlist:{pl.id}",
        }
        if self.mode == "development":
            data["items"] = {"href": f"{href}/items", "total": len(pl.entries)}
        else:
            data["followers"] = {"href": None, "total": 0}
            data["tracks"] = self._paging(pl, "tracks", 0, 100, {})
        if query.get("fields"):
            keep = _top_fields(query["fields"])
            data = {k: v for k, v in data.items() if k in keep}
        return data

    def _items(self, playlist_id: str, endpoint: str, token: _Token, query: Mapping[str, str]) -> dict[str, Any]:
        if endpoint == "items" and not self.items_endpoint:
            raise _api_error(404, "Service not found")
        if endpoint == "tracks" and self.mode == "development":
            raise _api_error(404, "Service not found")  # moved to /items
        pl = self._find(playlist_id, token)
        if self.mode == "development" and not pl.visible_to(token.user):
            raise _api_error(403, "Forbidden")
        most = 50 if endpoint == "items" else 100
        try:
            limit = int(query.get("limit", "20" if endpoint == "items" else "100"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            raise _api_error(400, "Invalid limit") from None
        if not 1 <= limit <= most:
            raise _api_error(400, "Invalid limit")
        if offset < 0:
            raise _api_error(400, "Invalid offset")
        extra = {k: query[k] for k in ("additional_types", "market") if k in query}
        return self._paging(pl, endpoint, offset, limit, extra)

    def _paging(self, pl: FakePlaylist, endpoint: str, offset: int, limit: int,
                extra: Mapping[str, str]) -> dict[str, Any]:
        base = f"{self.api_url}/playlists/{pl.id}/{endpoint}"

        def url(at: int) -> str:
            return f"{base}?{urlencode({'offset': at, 'limit': limit, **extra})}"

        total = len(pl.entries)
        items = [self._entry(e, pl) for e in pl.entries[offset:offset + limit]]
        return {"href": url(offset), "items": items, "limit": limit, "offset": offset, "total": total,
                "next": url(offset + limit) if offset + limit < total else None,
                "previous": url(max(0, offset - limit)) if offset > 0 else None}

    def _track(self, t: Track) -> dict[str, Any]:
        ids = {a: spotify_id(f"artist {a}") for a in t.artists}
        artists = [{"id": ids[a], "name": a, "type": "artist", "uri": f"spotify:artist:{ids[a]}",
                    "external_urls": {"spotify": f"https://open.spotify.com/artist/{ids[a]}"}} for a in t.artists]
        album_id = spotify_id(f"album {t.album}")
        data: dict[str, Any] = {
            "album": {"id": album_id, "name": t.album, "album_type": "album", "artists": artists[:1],
                      "release_date": "2024-05-17", "uri": f"spotify:album:{album_id}", "type": "album",
                      "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"}},
            "artists": artists, "disc_number": 1, "duration_ms": t.duration_ms, "explicit": False,
            "external_ids": {"isrc": t.isrc} if t.isrc else {},
            "external_urls": {"spotify": f"https://open.spotify.com/{t.type}/{t.id}"},
            "href": f"{self.api_url}/{t.type}s/{t.id}", "id": t.id, "is_local": False, "name": t.name,
            "preview_url": None, "track_number": 1, "type": t.type, "uri": f"spotify:{t.type}:{t.id}",
            "episode": t.type == "episode", "track": t.type == "track",
        }
        if self.mode == "extended":
            data["popularity"] = t.popularity
            data["available_markets"] = ["DE", "GB", "US"]
        return data

    def _entry(self, e: Entry, pl: FakePlaylist) -> dict[str, Any]:
        obj: dict[str, Any] | None
        if e is None:
            obj, local = None, False
        elif isinstance(e, LocalFile):
            local = True
            obj = {"album": {"name": e.album, "id": None, "artists": [], "images": []},
                   "artists": [{"name": e.artist, "id": None, "uri": None, "type": "artist"}],
                   "duration_ms": e.duration_ms, "external_ids": {}, "external_urls": {}, "id": None,
                   "is_local": True, "name": e.name, "type": "track", "popularity": 0,
                   "uri": f"spotify:local:{e.artist}:{e.album}:{e.name}:{e.duration_ms // 1000}".replace(" ", "+")}
        else:
            obj, local = self._track(e), False
        entry: dict[str, Any] = {"added_at": "2026-03-01T12:00:00Z", "added_by": {"id": pl.owner, "type": "user"},
                                 "is_local": local, "track": obj}
        if self.mode == "development":
            entry["item"] = obj
            if not self.legacy_track_field:
                del entry["track"]
            entry["primary_color"] = None
        return entry

    def _artists(self, query: Mapping[str, str]) -> dict[str, Any]:
        if self.mode == "development":
            raise _api_error(404, "Service not found")  # removed for development mode in 2026
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 50:
            raise _api_error(400, "Invalid ids")
        return {"artists": [{"id": i, "name": i, "genres": ["house"], "popularity": 50,
                             "followers": {"total": 1000}, "type": "artist"} for i in ids]}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSpotify
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fake's own request log is the record

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, payload = self.fake.handle(self.command, self.path, self.headers, raw)
        reply(self, status, headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def tracks(n: int, prefix: str = "Track", *, isrc: bool = True, start: int = 1) -> list[Track]:
    """`n` distinct tracks: 'Track 001' by 'Artist 001' (and a featured artist every third)."""
    out = []
    for i in range(start, start + n):
        artists: Sequence[str] = (f"Artist {i:03d}", f"Guest {i:03d}") if i % 3 == 0 else (f"Artist {i:03d}",)
        out.append(Track(f"{prefix} {i:03d}", tuple(artists), album=f"Album {i // 10:02d}",
                         duration_ms=180_000 + i * 1000, isrc=f"GBAAA26{i:05d}" if isrc else None,
                         popularity=i % 101))
    return out

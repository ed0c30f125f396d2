"""Talking to Spotify through spotipy: the auth managers (client credentials, or the stored
PKCE login), retries, and the playlist reads the kind needs.

- The API base is `Spotify.prefix` and the token/authorize URLs the managers' `OAUTH_*_URL`
  attributes, set on the instances from the `spotify:` settings.
- spotipy's own session would let urllib3 sleep whatever Retry-After a 429 names; ours retries
  only 5xx and connection errors in urllib3 and raises 429s to `call`, which honours
  Retry-After up to `MAX_WAIT` (pausing every thread through the shared limiter) and gives up
  with a SourceError after `ATTEMPTS` tries.
- An access token refused mid-run (401) is dropped and fetched again, once per request.
- spotipy logs request headers (the bearer token) and token request bodies at DEBUG, and every
  error status at ERROR (the expected 404 of /items on an older API too): its loggers are held
  at CRITICAL, this module logs what matters, and nothing here puts a token or secret in a message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import requests  # type: ignore[import-untyped, unused-ignore]
import spotipy  # type: ignore[import-untyped, unused-ignore]
from requests.adapters import HTTPAdapter  # type: ignore[import-untyped, unused-ignore]
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler  # type: ignore[import-untyped, unused-ignore]
from urllib3.util.retry import Retry

from cratefile.errors import Category, SourceError
from cratefile.net import USER_AGENT, RateLimiter, limiter, parse_retry_after, retrying
from cratefile.sources.spotify.settings import SCOPES, TOKEN_FILE, AuthMode, SpotifySettings

log = logging.getLogger(__name__)
logging.getLogger("spotipy").setLevel(logging.CRITICAL)

T = TypeVar("T")

ATTEMPTS = 5  # tries of one request through 429s
MAX_WAIT = 60.0  # a Retry-After longer than this ends the read at once
TIMEOUT = 20.0


def token_path(cache: Path) -> Path:
    return cache / TOKEN_FILE


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` readable by the owner only (0600 from creation), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask or a leftover's mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stored_login(cache: Path, client_id: str | None) -> dict[str, Any] | None:
    """The stored login of `cratefile login spotify` for this app, or None."""
    try:
        data = json.loads(token_path(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("refresh_token"), str):
        return None
    if client_id is not None and data.get("client_id") not in (None, client_id):
        log.warning("%s was stored for another Spotify app: ignored", TOKEN_FILE)
        return None
    return data


class TokenStore(CacheHandler):  # type: ignore[misc]
    """spotipy's token cache for the user flow: the access token in memory only, the refresh
    token (rotated whenever the token endpoint sends a new one) in cache/spotify-token.json."""

    def __init__(self, path: Path, client_id: str, stored: dict[str, Any] | None = None) -> None:
        self.path, self.client_id = path, client_id
        self._lock = threading.Lock()
        self._refresh: str | None = stored.get("refresh_token") if stored else None
        self._scope: str = str(stored.get("scope", " ".join(SCOPES))) if stored else " ".join(SCOPES)
        self._access: str | None = None
        self._expires_at = 0

    def get_cached_token(self) -> dict[str, Any] | None:
        with self._lock:
            if self._refresh is None:
                return None
            return {"access_token": self._access or "", "token_type": "Bearer", "scope": self._scope,
                    "refresh_token": self._refresh, "expires_at": self._expires_at}

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        with self._lock:
            self._access = token_info.get("access_token")
            self._expires_at = int(token_info.get("expires_at", 0))
            refresh, scope = token_info.get("refresh_token"), token_info.get("scope")
            if isinstance(scope, str) and scope:
                self._scope = scope
            if isinstance(refresh, str) and refresh != self._refresh:
                self._refresh = refresh
                write_private_json(self.path, {"client_id": self.client_id, "refresh_token": refresh,
                                               "scope": self._scope, "saved_at": time.time()})

    def invalidate(self) -> None:
        with self._lock:
            self._expires_at = 0


class StoredPKCE(spotipy.SpotifyPKCE):  # type: ignore[misc]
    """The PKCE manager of later runs: it refreshes the stored login, never asks a human."""

    def get_authorization_code(self, response: Any = None) -> Any:
        raise spotipy.SpotifyOauthError("no usable Spotify login is stored", error="login_required",
                                        error_description="run cratefile login spotify")


def pkce_manager(settings: SpotifySettings, store: TokenStore, redirect_uri: str, *,
                 session: Any = True, cls: type[Any] = StoredPKCE) -> Any:
    manager = cls(client_id=settings.client_id, redirect_uri=redirect_uri, scope=list(SCOPES),
                  cache_handler=store, open_browser=False, requests_timeout=TIMEOUT, requests_session=session)
    manager.OAUTH_TOKEN_URL = settings.token_url
    manager.OAUTH_AUTHORIZE_URL = settings.authorize_url
    return manager


class _Auth:
    """What spotipy asks for a token: one manager, one refresh at a time, droppable on a 401."""

    def __init__(self, manager: Any, drop: Callable[[], None], user: bool) -> None:
        self.manager, self.drop, self.user = manager, drop, user
        self.lock = threading.Lock()

    def get_access_token(self, as_dict: bool = False) -> str:
        with self.lock:
            if self.user:
                return cast(str, self.manager.get_access_token())
            return cast(str, self.manager.get_access_token(as_dict=False))


def _session() -> Any:
    session = requests.Session()
    retry = Retry(total=3, connect=3, read=0, status=3, other=0, backoff_factor=0.3,
                  status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET", "POST"}),
                  respect_retry_after_header=False, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxy from the environment between us and the token endpoint
    return session


class SpotifyHttpError(SourceError):
    """Spotify answered a request with an error status (after retries and a token renewal)."""

    def __init__(self, what: str, status: int, message: str) -> None:
        super().__init__(f"{what}: Spotify answered {status} ({message})",
                         Category.TRANSIENT if status >= 500 else None)
        self.status, self.message = status, message


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int | None
    next: str | None


class SpotifyApi:
    """One per run (shared by the fetch workers)."""

    def __init__(self, settings: SpotifySettings, cache: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings, self.sleep = settings, sleep
        stored = stored_login(cache, settings.client_id)
        self.mode: AuthMode = settings.auth or ("user" if stored else "client_credentials")
        self._session = _session()
        if self.mode == "user":
            if stored is None or not settings.client_id:
                raise SourceError("spotify: auth: user needs a stored login: run cratefile login spotify")
            store = TokenStore(token_path(cache), settings.client_id, stored)
            # the redirect URI is only sent with the first code exchange (cratefile login spotify)
            manager = pkce_manager(settings, store, "http://127.0.0.1/callback", session=self._session)
            self._auth = _Auth(manager, store.invalidate, user=True)
        else:
            if not settings.client_id or not settings.client_secret:
                raise SourceError(f"spotify: client credentials need {settings.client_id_env} and "
                                  f"{settings.client_secret_env} (or run cratefile login spotify)")
            memory = MemoryCacheHandler()
            manager = spotipy.SpotifyClientCredentials(client_id=settings.client_id,
                                                       client_secret=settings.client_secret,
                                                       requests_session=self._session,
                                                       requests_timeout=TIMEOUT, cache_handler=memory)
            manager.OAUTH_TOKEN_URL = settings.token_url

            def drop() -> None:
                memory.token_info = None

            self._auth = _Auth(manager, drop, user=False)
        self.sp = spotipy.Spotify(auth_manager=self._auth, requests_session=self._session, requests_timeout=TIMEOUT)
        self.sp.prefix = settings.api_url.rstrip("/") + "/"
        self.limiter = limiter(f"spotify {settings.api_url}", lambda: RateLimiter(10.0, burst=10))

    def close(self) -> None:
        self._session.close()

    # -- one request

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()` (one spotipy request) with 429s waited out, a refused token renewed once,
        and every failure turned into a SourceError about `what`."""
        renewed = False

        def once() -> T:
            nonlocal renewed
            self.limiter.acquire()
            try:
                return fn()
            except spotipy.SpotifyException as exc:
                if exc.http_status == 401 and not renewed:
                    renewed = True
                    log.info("Spotify refused the access token (%s): fetching a new one", _message(exc))
                    self._auth.drop()
                    return fn()
                if exc.http_status == 429:
                    delay = parse_retry_after((exc.headers or {}).get("Retry-After"))
                    if delay is not None:
                        if delay > MAX_WAIT:
                            raise SourceError(f"{what}: Spotify rate-limits this app and asks to wait "
                                              f"{delay:.0f} s; try again later", Category.RATE_LIMITED) from exc
                        self.limiter.pause_for(delay)
                raise

        def on_retry(exc: BaseException, wait: float) -> None:
            log.info("%s: Spotify answered 429, retrying in %.1fs", what, wait)

        try:
            return retrying(once, is_transient=_is_429, retry_after=_retry_after, attempts=ATTEMPTS,
                            base_delay=1.0, max_delay=MAX_WAIT, on_retry=on_retry, sleep=self.sleep)
        except spotipy.SpotifyOauthError as exc:
            raise SourceError(f"{what}: {self._oauth_problem(exc)}") from exc
        except spotipy.SpotifyException as exc:
            if exc.http_status == 429:
                raise SourceError(f"{what}: Spotify kept answering 429 (rate limited) after {ATTEMPTS} tries; "
                                  "try again later", Category.RATE_LIMITED) from exc
            raise SpotifyHttpError(what, exc.http_status, _message(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{what}: Spotify could not be reached ({type(exc).__name__})",
                              Category.TRANSIENT) from exc

    def _oauth_problem(self, exc: Any) -> str:
        error = getattr(exc, "error", None) or "error"
        described = getattr(exc, "error_description", None)
        said = f"{error}: {described}" if described else str(error)
        if error == "invalid_client":
            return (f"Spotify rejected the app's credentials ({said}): check {self.settings.client_id_env} "
                    f"and {self.settings.client_secret_env}")
        if self.mode == "user":
            return f"the stored Spotify login no longer works ({said}): run cratefile login spotify again"
        return f"Spotify refused a token ({said})"

    # -- the reads the kind needs

    def playlist(self, what: str, pid: str) -> dict[str, Any]:
        data = self.call(what, lambda: self.sp.playlist(
            pid, fields="id,name,snapshot_id,owner(id,display_name),collaborative,public",
            additional_types=("track",)))
        return cast(dict[str, Any], data)

    def pages(self, what: str, pid: str) -> Iterator[tuple[str, Page]]:
        """(endpoint, page) over the playlist's entries: /items (the 2026 API, limit 50), or
        /tracks (limit 100) when the API answers 404 to /items."""
        endpoint = "items"
        try:
            first = self.call(what, lambda: self.sp._get(f"playlists/{pid}/items", limit=50, offset=0,
                                                         additional_types="track"))
        except SpotifyHttpError as exc:
            if exc.status != 404:
                raise
            endpoint = "tracks"
            first = self.call(what, lambda: self.sp._get(f"playlists/{pid}/tracks", limit=100, offset=0,
                                                         additional_types="track"))
        page = _page(first)
        yield endpoint, page
        while page.next:
            url = page.next
            page = _page(self.call(what, partial(self.sp._get, url)))
            yield endpoint, page


def _page(data: Any) -> Page:
    data = data if isinstance(data, dict) else {}
    items = [i for i in data.get("items") or [] if isinstance(i, dict) or i is None]
    total = data.get("total")
    return Page([i if i is not None else {} for i in items], total if isinstance(total, int) else None,
                data.get("next") or None)


def _message(exc: Any) -> str:
    text = str(getattr(exc, "msg", "") or "")
    return text.rsplit("\n", 1)[-1].strip() or f"HTTP {getattr(exc, 'http_status', '?')}"


def _is_429(exc: BaseException) -> bool:
    return isinstance(exc, spotipy.SpotifyException) and exc.http_status == 429


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, spotipy.SpotifyException):
        return parse_retry_after((exc.headers or {}).get("Retry-After"))
    return None


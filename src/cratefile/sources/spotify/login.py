"""`cratefile login spotify [--no-browser] [--port N] [--timeout S]`: Authorization Code with PKCE.

The user opens the printed authorize URL (a browser is opened unless --no-browser); Spotify
redirects to http://127.0.0.1:<port>/callback, served here by a one-shot local server; the code
is exchanged (with the PKCE code_verifier) at the token endpoint and only the refresh token is
kept, in cache/spotify-token.json (mode 0600). Nothing printed or logged carries a token.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import webbrowser
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cratefile.errors import CratefileError, UsageError
from cratefile.records import Manifest
from cratefile.sources.spotify.settings import SpotifySettings

log = logging.getLogger(__name__)

DEFAULT_PORT = 8888
DEFAULT_TIMEOUT = 300.0
USAGE = "login spotify [--no-browser] [--port N] [--timeout S]"

_DONE = (b"<!doctype html><title>cratefile</title><p>cratefile is now allowed to read your Spotify "
         b"playlists. You can close this tab.</p>")


class _Callback(HTTPServer):
    """Serves /callback until one request with the expected state (or an error) arrives."""

    def __init__(self, port: int, state: str) -> None:
        self.state = state
        self.code: str | None = None
        self.error: str | None = None
        self.done = threading.Event()
        super().__init__(("127.0.0.1", port), _Handler)
        self.timeout = 0.2

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def wait(self, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while not self.done.is_set():
            if time.monotonic() > deadline:
                raise CratefileError(f"Spotify login: no answer on {self.redirect_uri} within {seconds:g} s "
                                     "(open the address above, or give --timeout)")
            self.handle_request()
        if self.error is not None:
            raise CratefileError(f"Spotify login: {self.error}")
        assert self.code is not None
        return self.code

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"


class _Handler(BaseHTTPRequestHandler):
    server: _Callback

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self._answer(404, b"not found")
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if query.get("state") != self.server.state:
            # not our request (or a forged one): keep waiting for the real redirect
            self._answer(400, b"state mismatch: start cratefile login spotify again")
            return
        if "error" in query:
            self.server.error = f"Spotify did not authorize cratefile ({query['error'][:80]})"
            self._answer(400, b"authorization was not given")
        elif query.get("code"):
            self.server.code = query["code"]
            self._answer(200, _DONE)
        else:
            self.server.error = "Spotify redirected without a code"
            self._answer(400, b"no code")
        self.server.done.set()

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never logged
        return None


def _options(words: Sequence[str]) -> tuple[bool, int, float]:
    browser, port, timeout = True, DEFAULT_PORT, DEFAULT_TIMEOUT
    it = iter(words)
    try:
        for word in it:
            if word == "--no-browser":
                browser = False
            elif word == "--port":
                port = int(next(it))
            elif word.startswith("--port="):
                port = int(word.split("=", 1)[1])
            elif word == "--timeout":
                timeout = float(next(it))
            elif word.startswith("--timeout="):
                timeout = float(word.split("=", 1)[1])
            else:
                raise UsageError(f"{USAGE}: unknown option {word!r}")
    except (StopIteration, ValueError) as exc:
        raise UsageError(f"{USAGE}: --port takes a number (0: any free port), --timeout seconds") from exc
    if not 0 <= port <= 65535 or timeout <= 0:
        raise UsageError(f"{USAGE}: --port takes 0..65535, --timeout a positive number of seconds")
    return browser, port, timeout


def login(manifest: Manifest, words: Sequence[str]) -> int:
    import requests  # type: ignore[import-untyped, unused-ignore]
    import spotipy  # type: ignore[import-untyped, unused-ignore]

    from cratefile.sources.spotify.api import TokenStore, pkce_manager, token_path

    browser, port, timeout = _options(words)
    settings = manifest.settings("spotify")
    if not isinstance(settings, SpotifySettings):
        raise UsageError(f"{manifest.path.name} has no spotify: section: add spotify: {{}} "
                         "(the client ID is read from $SPOTIFY_CLIENT_ID)")
    if not settings.client_id:
        raise UsageError(f"set {settings.client_id_env} to your Spotify app's client ID")
    state = secrets.token_urlsafe(16)
    try:
        server = _Callback(port, state)
    except OSError as exc:
        raise CratefileError(f"Spotify login: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                             "give another --port and register that redirect URI") from exc
    path = token_path(manifest.cache)
    try:
        store = TokenStore(path, settings.client_id)
        manager = pkce_manager(settings, store, server.redirect_uri, cls=spotipy.SpotifyPKCE)
        url = manager.get_authorize_url(state)
        print("Open this address in a browser and allow cratefile to read your playlists:", flush=True)
        print(f"  {url}", flush=True)
        print(f"(the app's redirect URIs must include {server.redirect_uri})", flush=True)
        if browser:
            webbrowser.open(url)
        code = server.wait(timeout)
    finally:
        server.server_close()
    try:
        manager.get_access_token(code=code, check_cache=False)
    except spotipy.SpotifyOauthError as exc:
        error = getattr(exc, "error", None) or "error"
        described = getattr(exc, "error_description", None)
        raise CratefileError(f"Spotify login: the token endpoint refused the code ({error}"
                             f"{': ' + described if described else ''})") from None
    except requests.exceptions.RequestException as exc:
        raise CratefileError(f"Spotify login: the token endpoint could not be reached ({type(exc).__name__})") \
            from None
    if store.get_cached_token() is None:
        raise CratefileError("Spotify login: the token endpoint sent no refresh token")
    print(f"Logged in to Spotify: the login is stored in {path} (readable by you only).")
    return 0

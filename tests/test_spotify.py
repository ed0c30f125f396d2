"""The spotify: source kind against a fake Spotify on 127.0.0.1, through the real spotipy client:
both API generations, paging, skipped entries, 429s, tokens expiring mid-listing, bad
credentials, private playlists, the PKCE login, and the manifest's checks."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import stat
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from cratefile.context import RunContext
from cratefile.errors import Category, ManifestError, SourceError
from cratefile.manifest import load_manifest
from cratefile.records import Manifest, Snapshot
from cratefile.registry import Lazy
from cratefile.snapshots import write_snapshot
from cratefile.sources import SOURCES
from cratefile.sources.spotify import SpotifySource
from cratefile.sources.spotify.api import write_private_json
from cratefile.sources.spotify.settings import SpotifySettings, playlist_id
from fakes.spotify import FakeSpotify, Fault, LocalFile, Track, tracks

SOURCE = SpotifySource()
SCOPE = "playlist-read-private playlist-read-collaborative"


@pytest.fixture
def dev() -> Iterator[FakeSpotify]:
    with FakeSpotify(mode="development") as fake:
        yield fake


@pytest.fixture
def ext() -> Iterator[FakeSpotify]:
    with FakeSpotify(mode="extended") as fake:
        yield fake


def env_for(fake: FakeSpotify, **changes: str | None) -> dict[str, str]:
    env = {"SPOTIFY_CLIENT_ID": fake.client_id, "SPOTIFY_CLIENT_SECRET": fake.client_secret}
    env.update({k: v for k, v in changes.items() if v is not None})
    return {k: v for k, v in env.items() if changes.get(k, "") is not None}


def manifest_for(root: Path, fake: FakeSpotify, playlists: Mapping[str, str], *, settings: str = "",
                 env: Mapping[str, str] | None = None) -> Manifest:
    root.mkdir(parents=True, exist_ok=True)
    entries = "".join(f"  - name: {name}\n    spotify: {ref}\n" for name, ref in playlists.items())
    (root / "playlists.yaml").write_text(
        f"spotify:\n  api_url: {fake.api_url}\n  token_url: {fake.token_url}\n"
        f"  authorize_url: {fake.authorize_url}\n{textwrap.indent(settings, '  ')}"
        f"playlists:\n{entries}", encoding="utf-8")
    return load_manifest(root / "playlists.yaml", env=env_for(fake) if env is None else env)


def store_login(manifest: Manifest, fake: FakeSpotify, user: str | None = None) -> str:
    """What an earlier `cratefile login spotify` leaves behind."""
    refresh = fake.grant_refresh_token(user)
    write_private_json(manifest.cache / "spotify-token.json",
                       {"client_id": fake.client_id, "refresh_token": refresh, "scope": SCOPE})
    return refresh


@contextlib.contextmanager
def running(manifest: Manifest, **kw: bool) -> Iterator[RunContext]:
    run = RunContext(manifest, **kw)
    try:
        yield run
    finally:
        run.close()


def read(manifest: Manifest, index: int = 0):  # noqa: ANN201 - SpotifyRead
    with running(manifest) as run:
        return SOURCE.read(run, manifest.playlists[index])


def statuses(fake: FakeSpotify, part: str) -> list[int]:
    return [r.status for r in fake.calls(part)]


# ---- paging over both API generations ------------------------------------------------------


@pytest.mark.parametrize(("mode", "endpoint", "pages"), [("development", "items", 5), ("extended", "tracks", 3)])
def test_paging_over_230_items(tmp_path: Path, mode: str, endpoint: str, pages: int) -> None:
    with FakeSpotify(mode=mode) as fake:
        listed = tracks(230)
        pl = fake.add_playlist("Big Room", listed)
        manifest = manifest_for(tmp_path, fake, {"Big": f"https://open.spotify.com/playlist/{pl.id}?si=x1"})
        if mode == "development":
            store_login(manifest, fake)  # development mode lists items only to the owner
        got = read(manifest)
        assert got.endpoint == endpoint
        assert [w.title for w in got.wanted] == [t.name for t in listed]
        assert [w.source_id for w in got.wanted] == [f"spotify:track:{t.id}" for t in listed]
        assert got.total == 230 and got.skipped == ()
        ok = [r for r in fake.calls(f"/{endpoint}") if r.status == 200]
        assert len(ok) == pages
        step = 50 if endpoint == "items" else 100
        assert [r.query.get("offset") for r in ok] == [str(i * step) for i in range(pages)]
        if mode == "extended":  # the 2026 endpoint was tried first
            assert statuses(fake, "/items") == [404]


def test_entries_under_item_only_are_read(tmp_path: Path, dev: FakeSpotify) -> None:
    """Development mode sends `item` (and, for now, `track`): `item` alone must do."""
    pl = dev.add_playlist("Items", tracks(3))
    manifest = manifest_for(tmp_path, dev, {"Items": f"spotify:playlist:{pl.id}"})
    store_login(manifest, dev)
    dev.legacy_track_field = False
    assert [w.title for w in read(manifest).wanted] == ["Track 001", "Track 002", "Track 003"]


# ---- what an entry becomes -----------------------------------------------------------------


def test_fields_are_mapped_and_popularity_only_where_offered(tmp_path: Path) -> None:
    song = Track("Strobe (Radio Edit)", ("deadmau5", "Guest Vocalist"), album="For Lack of a Better Name",
                 duration_ms=211_893, isrc="usus10900123", popularity=71)
    bare = Track("No Code", ("Someone",), isrc=None)
    for mode, popularity in (("development", None), ("extended", 71)):
        with FakeSpotify(mode=mode) as fake:
            pl = fake.add_playlist("Mapped", [song, bare])
            manifest = manifest_for(tmp_path / mode, fake, {"Mapped": pl.id})
            store_login(manifest, fake)
            first, second = read(manifest).wanted
            assert first.source_id == f"spotify:track:{song.id}"
            assert (first.title, first.artists, first.album) == (song.name, song.artists, song.album)
            assert first.duration == pytest.approx(211.893)
            assert first.isrc == "USUS10900123"
            assert first.url == f"https://open.spotify.com/track/{song.id}"
            assert first.popularity == popularity
            assert second.isrc is None and second.artists == ("Someone",)


def test_local_files_removed_items_and_episodes_are_skipped_and_counted(tmp_path: Path, dev: FakeSpotify) -> None:
    listed = tracks(4)
    episode = Track("Episode 12", ("A Podcast",), type="episode")
    pl = dev.add_playlist("Mixed", [listed[0], LocalFile("Bootleg Edit", "DJ Me"), None, listed[1], episode,
                                    None, listed[2], listed[3]])
    manifest = manifest_for(tmp_path, dev, {"Mixed": pl.id})
    store_login(manifest, dev)
    got = read(manifest)
    assert [w.title for w in got.wanted] == [t.name for t in listed]
    assert got.skipped == (
        "#2: DJ Me - Bootleg Edit is a local file of the playlist's owner, not on Spotify",
        "#3: removed from Spotify (the playlist keeps an empty entry)",
        "#5: Episode 12 is a episode, not a track",
        "#6: removed from Spotify (the playlist keeps an empty entry)",
    )
    assert got.meta()["skipped"] == list(got.skipped) and got.meta()["total"] == 8


# ---- retries -------------------------------------------------------------------------------


def test_a_429_is_waited_out_for_its_retry_after(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Busy", tracks(150))
    manifest = manifest_for(tmp_path, ext, {"Busy": pl.id})
    ext.inject(Fault.rate_limited("1", path=f"/v1/playlists/{pl.id}/tracks", skip=1))
    started = time.monotonic()
    got = read(manifest)
    assert len(got.wanted) == 150
    assert statuses(ext, "/tracks") == [200, 429, 200]
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    assert ext.pending_faults() == 0


def test_a_429_storm_ends_in_a_source_error(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Storm", tracks(5))
    manifest = manifest_for(tmp_path, ext, {"Storm": pl.id})
    ext.inject(*[Fault.rate_limited("0", path="/v1/playlists") for _ in range(50)])
    with pytest.raises(SourceError) as info:
        read(manifest)
    assert "'Storm'" in str(info.value) and "429" in str(info.value)
    assert info.value.category is Category.RATE_LIMITED
    assert len(ext.calls("/v1/playlists")) == 5  # bounded: no hang


def test_a_long_retry_after_fails_at_once(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Later", tracks(5))
    manifest = manifest_for(tmp_path, ext, {"Later": pl.id})
    ext.inject(Fault.rate_limited("7200", path="/v1/playlists"))
    started = time.monotonic()
    with pytest.raises(SourceError, match="asks to wait 7200 s"):
        read(manifest)
    assert time.monotonic() - started < 5


def test_an_app_token_expiring_mid_listing_is_fetched_again(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Long", tracks(250))
    manifest = manifest_for(tmp_path, ext, {"Long": pl.id})
    ext.inject(Fault.expire_tokens(path=f"/v1/playlists/{pl.id}/tracks", skip=1))
    got = read(manifest)
    assert len(got.wanted) == 250
    assert statuses(ext, "/tracks") == [200, 401, 200, 200]
    assert statuses(ext, "/api/token") == [200, 200]


def test_a_user_token_expiring_mid_listing_is_refreshed_and_the_refresh_token_rotates(
        tmp_path: Path, dev: FakeSpotify) -> None:
    pl = dev.add_playlist("Mine", tracks(120))
    manifest = manifest_for(tmp_path, dev, {"Mine": pl.id})
    first = store_login(manifest, dev)
    dev.inject(Fault.expire_tokens(path=f"/v1/playlists/{pl.id}/items", skip=1))
    got = read(manifest)
    assert len(got.wanted) == 120
    assert statuses(dev, "/items") == [200, 401, 200, 200]
    stored = (manifest.cache / "spotify-token.json").read_text()
    assert first not in stored and first not in dev.valid_refresh_tokens()
    assert any(token in stored for token in dev.valid_refresh_tokens())
    assert stat.S_IMODE(os.stat(manifest.cache / "spotify-token.json").st_mode) == 0o600


def test_a_token_refused_twice_is_a_source_error(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Refused", tracks(5))
    manifest = manifest_for(tmp_path, ext, {"Refused": pl.id})
    ext.token_lifetime = -1.0  # every token is born expired
    with pytest.raises(SourceError, match="401"):
        read(manifest)
    assert statuses(ext, "/v1/playlists") == [401, 401]


# ---- failures that name the playlist -------------------------------------------------------


def test_a_bad_client_secret_is_a_clear_error_without_the_secret(
        tmp_path: Path, ext: FakeSpotify, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pl = ext.add_playlist("Any", tracks(2))
    wrong = "wrongsecret0123456789abcdefABCDEF"
    manifest = manifest_for(tmp_path, ext, {"Any": pl.id}, env=env_for(ext, SPOTIFY_CLIENT_SECRET=wrong))
    with pytest.raises(SourceError) as info:
        read(manifest)
    text = str(info.value)
    assert "invalid_client" in text and "SPOTIFY_CLIENT_SECRET" in text and "'Any'" in text
    assert wrong not in text and wrong not in repr(info.value.__cause__)
    assert wrong not in caplog.text and ext.client_secret not in caplog.text
    assert wrong not in repr(manifest.settings("spotify"))


def test_a_private_playlist_fails_alone_and_names_itself(tmp_path: Path, ext: FakeSpotify) -> None:
    hidden = ext.add_playlist("Hidden", tracks(3), owner="someoneelse", public=False)
    open_one = ext.add_playlist("Open", tracks(3))
    manifest = manifest_for(tmp_path, ext, {"Secret Stuff": hidden.id, "Open": open_one.id})
    with running(manifest) as run:
        with pytest.raises(SourceError) as info:
            SOURCE.read(run, manifest.playlists[0])
        assert len(SOURCE.read(run, manifest.playlists[1]).wanted) == 3  # the rest builds
    text = str(info.value)
    assert "'Secret Stuff'" in text and hidden.id in text and "404" in text
    assert info.value.category is Category.NOT_FOUND


def test_an_unknown_playlist_is_not_found(tmp_path: Path, ext: FakeSpotify) -> None:
    manifest = manifest_for(tmp_path, ext, {"Gone": "0Gone0Gone0Gone0Gone00"})
    with pytest.raises(SourceError, match=r"'Gone'.*not found"):
        read(manifest)


def test_development_mode_lists_only_the_users_own_playlists(tmp_path: Path, dev: FakeSpotify) -> None:
    theirs = dev.add_playlist("Theirs", tracks(3), owner="someoneelse")
    shared = dev.add_playlist("Shared", tracks(2), owner="someoneelse", collaborators=[dev.user])
    manifest = manifest_for(tmp_path, dev, {"Theirs": theirs.id, "Shared": shared.id})
    with running(manifest) as run:  # an app token: no user, no items
        with pytest.raises(SourceError, match=r"'Theirs'.*403.*cratefile login spotify"):
            SOURCE.read(run, manifest.playlists[0])
    store_login(manifest, dev)
    with running(manifest) as run:
        with pytest.raises(SourceError, match=r"'Theirs'.*only to its owner or collaborators") as info:
            SOURCE.read(run, manifest.playlists[0])
        assert info.value.category is Category.PRIVATE
        assert len(SOURCE.read(run, manifest.playlists[1]).wanted) == 2  # a collaborator reads it


# ---- the snapshot cache --------------------------------------------------------------------


def test_an_unchanged_snapshot_id_skips_the_paging(tmp_path: Path, ext: FakeSpotify) -> None:
    pl = ext.add_playlist("Steady", [*tracks(120), None])
    manifest = manifest_for(tmp_path, ext, {"Steady": pl.id})
    playlist = manifest.playlists[0]
    first = read(manifest)
    with running(manifest) as run:  # what the fetch stage keeps of the listing
        write_snapshot(run.layout.snapshot(playlist.slug),
                       Snapshot(playlist.slug, playlist.source.location, time.time(), ()), {"spotify": first.meta()})
    pages = len(ext.calls("/tracks"))
    again = read(manifest)
    assert again.endpoint == "snapshot" and again.wanted == first.wanted and again.skipped == first.skipped
    assert len(ext.calls("/tracks")) == pages  # only the playlist's metadata was asked
    pl.edit(tracks(2))
    changed = read(manifest)
    assert changed.endpoint == "tracks" and len(changed.wanted) == 2


def test_the_snapshot_is_fresh_for_the_settings_ttl(tmp_path: Path, ext: FakeSpotify) -> None:
    manifest = manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"})
    with running(manifest) as run:
        now = time.time()
        assert SOURCE.fresh(run, manifest.playlists[0], {"fetched_at": now - 250})
        assert not SOURCE.fresh(run, manifest.playlists[0], {"fetched_at": now - 350})
    manifest = manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"}, settings="refresh: 30s\n")
    with running(manifest) as run:
        assert not SOURCE.fresh(run, manifest.playlists[0], {"fetched_at": time.time() - 40})


# ---- the PKCE login ------------------------------------------------------------------------


def test_login_spotify_end_to_end_stores_a_private_refresh_token(
        tmp_path: Path, dev: FakeSpotify, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from cratefile.cli import main

    caplog.set_level(logging.DEBUG)
    pl = dev.add_playlist("Mine", tracks(60))
    root = tmp_path / "ws"
    manifest_for(root, dev, {"Mine": pl.id})
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", dev.client_id)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    (root / "playlists.yaml").write_text((root / "playlists.yaml").read_text().replace(
        "spotify:\n", "spotify:\n  auth: user\n", 1))  # PKCE needs no client secret
    monkeypatch.chdir(root)
    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []

    def login() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result.append(main(["login", "spotify", "--no-browser", "--port", "0", "--timeout", "20"]))

    thread = threading.Thread(target=login)
    thread.start()
    deadline = time.monotonic() + 10
    while "/authorize?" not in out.getvalue() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    url = next(line.strip() for line in out.getvalue().splitlines() if "/authorize?" in line)
    query = dict(httpx.URL(url).params)
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["state"]
    assert set(query["scope"].split()) == set(SCOPE.split())
    # the browser: Spotify's page redirects to the loopback callback, which answers
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"].startswith("http://127.0.0.1:")
    done = httpx.get(answer.headers["location"])
    assert done.status_code == 200 and "close this tab" in done.text
    thread.join(20)
    assert result == [0], err.getvalue()

    token_file = root / "cache" / "spotify-token.json"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert any(t in token_file.read_text() for t in dev.valid_refresh_tokens())
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    printed = out.getvalue() + err.getvalue() + ours  # (the test's own browser, httpx, logs the code)
    assert not [s for s in dev.issued if s in printed]  # no code, access or refresh token shown
    # a later run reads the user's playlists with that login
    manifest = load_manifest(root / "playlists.yaml", env={"SPOTIFY_CLIENT_ID": dev.client_id})
    assert len(read(manifest).wanted) == 60
    logs = "".join(p.read_text() for p in (root / "cache").rglob("*.log"))
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert not [s for s in dev.issued if s in logs + ours]


def test_login_spotify_reports_a_refused_authorization(tmp_path: Path, dev: FakeSpotify,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cratefile.cli import main

    root = tmp_path / "ws"
    manifest_for(root, dev, {"Mine": "2PlaylistAbCdEfGhIjKl2"})
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", dev.client_id)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", dev.client_secret)
    monkeypatch.chdir(root)
    dev.deny = True
    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []

    def login() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result.append(main(["login", "spotify", "--no-browser", "--port", "0", "--timeout", "20"]))

    thread = threading.Thread(target=login)
    thread.start()
    deadline = time.monotonic() + 10
    while "/authorize?" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    url = next(line.strip() for line in out.getvalue().splitlines() if "/authorize?" in line)
    httpx.get(httpx.get(url).headers["location"])
    thread.join(20)
    assert result == [1] and "access_denied" in err.getvalue()
    assert not (root / "cache" / "spotify-token.json").exists()


def test_the_fake_checks_the_pkce_verifier(dev: FakeSpotify) -> None:
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect = "http://127.0.0.1:9/callback"

    def code() -> str:
        answer = httpx.get(dev.authorize_url, params={
            "client_id": dev.client_id, "response_type": "code", "redirect_uri": redirect, "state": "s",
            "code_challenge_method": "S256", "code_challenge": challenge})
        return str(httpx.URL(answer.headers["location"]).params["code"])

    form = {"grant_type": "authorization_code", "redirect_uri": redirect, "client_id": dev.client_id}
    wrong = httpx.post(dev.token_url, data={**form, "code": code(), "code_verifier": "w" * 64})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    right = httpx.post(dev.token_url, data={**form, "code": code(), "code_verifier": verifier})
    assert right.status_code == 200 and right.json()["refresh_token"]


# ---- the manifest --------------------------------------------------------------------------


@pytest.mark.parametrize("ref", [
    "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M?si=4b0e1a2c3d",
    "https://open.spotify.com/intl-de/playlist/37i9dQZF1DXcBWIGoYBM5M",
    "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    "spotify:user:spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    "37i9dQZF1DXcBWIGoYBM5M",
])
def test_a_playlist_reference_in_any_form(ref: str) -> None:
    assert playlist_id(ref) == "37i9dQZF1DXcBWIGoYBM5M"


def test_the_manifest_rejects_a_bad_playlist_reference_with_its_line(tmp_path: Path, ext: FakeSpotify) -> None:
    with pytest.raises(ManifestError) as info:
        manifest_for(tmp_path, ext, {"Good": "37i9dQZF1DXcBWIGoYBM5M",
                                     "Album": "https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy",
                                     "Typo": "spotify:playlist:short"})
    text = str(info.value)
    assert "playlists.yaml:9 playlists[1].spotify: 'https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy' " \
           "is a Spotify album, not a playlist" in text
    assert "playlists.yaml:11 playlists[2].spotify: 'spotify:playlist:short' is not a Spotify playlist" in text
    assert "playlists[0]" not in text


def test_a_missing_credential_variable_is_a_manifest_problem(tmp_path: Path, ext: FakeSpotify) -> None:
    with pytest.raises(ManifestError, match=r"spotify: the environment variable SPOTIFY_CLIENT_ID is not set"):
        manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"}, env=env_for(ext, SPOTIFY_CLIENT_ID=None))
    with pytest.raises(ManifestError) as info:
        manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"}, settings="client_secret_env: MY_SPOTIFY_SECRET\n")
    assert "playlists.yaml:5 spotify.client_secret_env: the environment variable MY_SPOTIFY_SECRET is not set" \
        in str(info.value)
    # auth: user (PKCE) needs no secret
    manifest = manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"}, settings="auth: user\n",
                            env=env_for(ext, SPOTIFY_CLIENT_SECRET=None))
    assert manifest.settings("spotify").client_secret is None


def test_a_spotify_playlist_needs_the_spotify_section(tmp_path: Path) -> None:
    (tmp_path / "playlists.yaml").write_text("playlists:\n  - name: P\n    spotify: 37i9dQZF1DXcBWIGoYBM5M\n")
    with pytest.raises(ManifestError, match=r"playlists.yaml:3 playlists\[0\].spotify: a Spotify playlist needs "
                                            r"the top-level spotify: section"):
        load_manifest(tmp_path / "playlists.yaml", env={})


def test_the_settings_keep_secrets_out_of_repr_and_the_kind_is_registered(tmp_path: Path, ext: FakeSpotify) -> None:
    manifest = manifest_for(tmp_path, ext, {"P": "1PlaylistAbCdEfGhIjKl1"})
    settings = manifest.settings("spotify")
    assert isinstance(settings, SpotifySettings) and settings.client_secret == ext.client_secret
    assert ext.client_secret not in repr(settings) and ext.client_id not in repr(settings)
    assert settings.api_url == ext.api_url and settings.refresh_seconds == 300
    assert manifest.playlists[0].source.location == "spotify:playlist:" + "1PlaylistAbCdEfGhIjKl1"
    registered = SOURCES["spotify"]
    assert isinstance(registered, Lazy) and isinstance(registered.load(), SpotifySource)
    assert "login spotify" in registered.verbs


# ---- a whole run ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_with_a_bad_secret_fails_that_playlist_alone_and_leaks_it_nowhere(
        workspace, ext: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from conftest import make_track

    wrong = "wrongsecret0123456789abcdefABCDEF"
    pl = ext.add_playlist("Remote", tracks(3))
    make_track(workspace.music / "Artist - Local.wav", seconds=4.0)
    workspace.manifest(f"""
        spotify: {{api_url: "{ext.api_url}", token_url: "{ext.token_url}"}}
        playlists:
          - name: Local
            folder: music
            formats: [wav]
          - name: Remote
            spotify: https://open.spotify.com/playlist/{pl.id}
            formats: [wav]
        """)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", ext.client_id)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", wrong)
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    assert [p.name for p in (workspace.root / "library" / "wav").iterdir()] == ["Artist - Local.wav"]
    remote = next(p for p in workspace.report()["playlists"] if p["name"] == "Remote")
    assert "invalid_client" in remote["fetch_error"] and "'Remote'" in remote["fetch_error"]
    assert wrong not in out + err
    for path in (workspace.root / "cache").rglob("*"):  # snapshots, reports, logs, the catalog, doit's DB
        assert not path.is_file() or wrong.encode() not in path.read_bytes(), path
    assert not (workspace.root / "cache" / "spotify-token.json").exists()

"""A Spotify playlist built end to end: its tracks found by SoundCloud search on the fake
SoundCloud (through yt-dlp's real scsearch extractor), only sure matches downloaded, the rest
waiting in `cratefile review`; playlists.lock makes reruns search nothing; pins win."""

from __future__ import annotations

import json
from collections.abc import Iterator

import mutagen
import pytest

from conftest import Workspace
from fakes.soundcloud import FakeSoundCloud
from fakes.spotify import FakeSpotify, Track

API = "api-v2.soundcloud.com"

LOSING = Track("Losing It - Extended Mix", ("FISHER",), album="Losing It", duration_ms=24_000, isrc="AUUM71800123")
OPUS = Track("Opus", ("Eric Prydz",), album="Opus", duration_ms=90_000)
NOWHERE = Track("Nothing Like It", ("Nobody Known",), duration_ms=20_000)
STROBE = Track("Strobe", ("deadmau5",), album="For Lack Of A Better Name", duration_ms=22_000)


@pytest.fixture
def spotify(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSpotify]:
    with FakeSpotify(mode="extended") as fake:
        monkeypatch.setenv("SPOTIFY_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", fake.client_secret)
        yield fake


def uploads(fake: FakeSoundCloud) -> None:
    # the right upload, by the label, with the artist in publisher metadata
    fake.add_track(11, "FISHER - Losing It (Extended Mix)", "Catch & Release", 24, plays=250_000,
                   publisher_artist="FISHER", isrc="AUUM71800123", followers=80_000)
    # a far more popular remix that search ranks first
    fake.add_track(12, "FISHER - Losing It (Chris Lake Remix)", "Chris Lake", 30, plays=2_000_000, verified=True)
    # the only full-length Opus is a Go+ preview
    fake.add_track(21, "Opus", "Eric Prydz", 90, behavior="preview", verified=True, plays=5_000_000)
    fake.add_track(22, "Opus (Live at Tomorrowland)", "festival rips", 300, plays=900)
    # Strobe: the artist has only the radio edit; a stranger has a full-length rip
    fake.add_track(41, "Strobe (Radio Edit)", "deadmau5", 12, verified=True, plays=3_000_000)
    fake.add_track(42, "deadmau5 - Strobe", "xx_uploads_xx", 22, plays=300, publisher_artist=None)


def manifest(ws: Workspace, spotify: FakeSpotify, playlist_id: str, extra: str = "") -> None:
    ws.manifest(f"""
        spotify: {{api_url: "{spotify.api_url}", token_url: "{spotify.token_url}"}}
        formats: [wav]
        {extra}
        playlists:
          - name: New Techno
            spotify: https://open.spotify.com/playlist/{playlist_id}
    """)


def searches(fake: FakeSoundCloud) -> int:
    return fake.count(API, "/search/tracks")


@pytest.mark.slow
def test_a_spotify_playlist_is_matched_built_reviewed_locked_and_pinned(
        workspace: Workspace, soundcloud: FakeSoundCloud, spotify: FakeSpotify) -> None:
    uploads(soundcloud)
    pl = spotify.add_playlist("New Techno", [LOSING, OPUS, NOWHERE, STROBE])
    manifest(workspace, spotify, pl.id)

    rc, out, err = workspace.run()
    assert rc == 0, out + err  # tracks waiting for review are not failures
    assert "run cratefile review" in out
    files = sorted(p.name for p in (workspace.root / "library" / "wav").iterdir())
    assert files == ["FISHER - Losing It - Extended Mix.wav"], files  # only the sure match
    tags = mutagen.File(workspace.root / "library" / "wav" / files[0])
    assert str(tags["TIT2"]) == "Losing It - Extended Mix" and str(tags["TPE1"]) == "FISHER"  # Spotify's names
    assert not any("soundcloud-12" in p.name or "soundcloud-21" in p.name or "soundcloud-42" in p.name
                   for p in (workspace.root / "cache").rglob("*"))  # nothing else was downloaded
    report = workspace.report()["playlists"][0]
    assert (report["total"], report["built_now"], report["review"], report["unmatched"]) == (4, 1, 2, 1)

    lock = json.loads((workspace.root / "playlists.lock").read_text())
    entry = lock["matches"][f"spotify:track:{LOSING.id}"]
    assert entry["url"] == soundcloud.url_of_track(11) and entry["how"] == "search" and entry["confidence"] >= 0.9
    assert set(lock["matches"]) == {f"spotify:track:{LOSING.id}"}

    rc, out, _ = workspace.run("review", "--json")
    items = {i["source"]: i for i in json.loads(out)["items"]}
    assert rc == 0 and set(items) == {f"spotify:track:{t.id}" for t in (OPUS, NOWHERE, STROBE)}
    opus = items[f"spotify:track:{OPUS.id}"]
    assert opus["status"] == "review" and opus["note"] == "preview only"
    assert opus["candidates"][0]["url"] == soundcloud.url_of_track(21) and not opus["candidates"][0]["usable"]
    assert items[f"spotify:track:{NOWHERE.id}"]["status"] == "unmatched"
    strobe = items[f"spotify:track:{STROBE.id}"]
    assert strobe["status"] == "review" and soundcloud.url_of_track(42) in [c["url"] for c in strobe["candidates"]]

    rc, out, _ = workspace.run("status", "--json")
    tracks = json.loads(out)["playlists"][0]["tracks"]
    by_source = {t["source"]: t for t in tracks}
    assert by_source[f"spotify:track:{LOSING.id}"]["match"]["status"] == "matched"
    assert by_source[f"spotify:track:{LOSING.id}"]["state"] == "built"
    assert by_source[f"spotify:track:{OPUS.id}"]["match"]["status"] == "review"
    assert by_source[f"spotify:track:{NOWHERE.id}"]["match"]["status"] == "unmatched"

    # a rerun, even one that re-reads Spotify, searches nothing: the lock and the open items answer
    soundcloud.reset_counts()
    rc, out, err = workspace.run("--refresh")
    assert rc == 0, out + err
    assert searches(soundcloud) == 0

    # a human accepts the stranger's full-length Strobe in review: built by the next run
    index = [c["url"] for c in strobe["candidates"]].index(soundcloud.url_of_track(42)) + 1
    rc, out, err = workspace.run("review", "--accept", f"spotify:track:{STROBE.id}", str(index))
    assert rc == 0, out + err
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert "deadmau5 - Strobe.wav" in {p.name for p in (workspace.root / "library" / "wav").iterdir()}
    lock = json.loads((workspace.root / "playlists.lock").read_text())
    assert lock["matches"][f"spotify:track:{STROBE.id}"]["how"] == "review"

    # a pin wins over everything: Opus pinned to the live recording
    manifest(workspace, spotify, pl.id,
             extra=f'pins: {{"spotify:track:{OPUS.id}": "{soundcloud.url_of_track(22)}"}}')
    soundcloud.reset_counts()
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert searches(soundcloud) == 0
    assert json.loads((workspace.root / "playlists.lock").read_text())["matches"][f"spotify:track:{OPUS.id}"][
        "status"] == "pinned"
    assert len(list((workspace.root / "library" / "wav").iterdir())) == 3

    # --rematch searches again (pins still win: Opus is not searched)
    soundcloud.reset_counts()
    rc, out, err = workspace.run("--rematch")
    assert rc == 0, out + err
    asked = [h.query.get("q", "") for h in soundcloud.requests if h.path == "/search/tracks"]
    assert asked and not any("Opus" in q for q in asked)


def test_review_answers_accept_a_candidate_a_pasted_url_or_reject_them(
        tmp_path, soundcloud: FakeSoundCloud) -> None:  # noqa: ANN001
    import io

    from cratefile.errors import UsageError
    from cratefile.manifest import load_manifest
    from cratefile.resolve import Candidate, Decision, Wanted
    from cratefile.resolve.book import MatchBook
    from cratefile.resolve.review import _items, interactive
    from cratefile.resolve.review import run as review

    pasted = soundcloud.add_track(5, "The Real One", "Someone", 20)
    (tmp_path / "music").mkdir()
    (tmp_path / "playlists.yaml").write_text("playlists:\n  - {name: Local, folder: music}\n")
    manifest = load_manifest(tmp_path / "playlists.yaml", env={"CRATEFILE_YTDLP_LOOPBACK": soundcloud.base_url})
    book = MatchBook.of(tmp_path, manifest.cache)
    ids = ["spotify:track:" + c * 22 for c in "ABC"]
    for sid in ids:
        cands = (Candidate("https://soundcloud.com/a/one", "soundcloud 1", "One", "a", 200.0, 0.8),
                 Candidate("https://soundcloud.com/a/two", "soundcloud 2", "Two", "a", 30.0, 0.85, usable=False))
        book.record(Decision(sid, "review", confidence=0.8, decided_at=1.0, candidates=cands),
                    wanted=Wanted(sid, "Title", ("Artist",)).to_entry(), playlist="local")
    book.save()

    answers = iter(["2", "1", "u " + pasted, "r"])  # a preview refused, then candidate 1; a URL; a rejection
    out = io.StringIO()
    book = MatchBook.of(tmp_path, manifest.cache)
    assert interactive(manifest, book, _items(book), lambda _prompt: next(answers), out) == 3
    assert "cannot be downloaded" in out.getvalue()
    lock = json.loads((tmp_path / "playlists.lock").read_text())
    first = lock["matches"][ids[0]]
    assert (first["url"], first["how"]) == ("https://soundcloud.com/a/one", "review")
    assert (lock["matches"][ids[1]]["status"], lock["matches"][ids[1]]["key"]) == ("pinned", "soundcloud 5")
    assert lock["rejected"][ids[2]] == ["https://soundcloud.com/a/one", "https://soundcloud.com/a/two"]
    with pytest.raises(UsageError, match="not waiting for review"):
        review(manifest, ["--accept", ids[0], "1"])
    with pytest.raises(UsageError, match="unexpected"):
        review(manifest, ["--bogus"])


def test_a_development_mode_playlist_resolves_through_the_users_login(tmp_path, soundcloud: FakeSoundCloud) -> None:  # noqa: ANN001
    # February 2026 development mode: /items (entries under `item`), no popularity, items only
    # for the logged-in owner; the wanted tracks resolve to uploads the same way
    from cratefile.context import RunContext
    from cratefile.manifest import load_manifest
    from cratefile.sources.spotify import SpotifySource
    from cratefile.sources.spotify.api import write_private_json

    uploads(soundcloud)
    with FakeSpotify(mode="development") as dev:
        pl = dev.add_playlist("Mine", [LOSING, NOWHERE])
        (tmp_path / "playlists.yaml").write_text(
            f"spotify: {{api_url: '{dev.api_url}', token_url: '{dev.token_url}'}}\n"
            f"playlists:\n  - {{name: Mine, spotify: 'spotify:playlist:{pl.id}'}}\n")
        manifest = load_manifest(tmp_path / "playlists.yaml", env={
            "SPOTIFY_CLIENT_ID": dev.client_id, "SPOTIFY_CLIENT_SECRET": dev.client_secret,
            "CRATEFILE_YTDLP_LOOPBACK": soundcloud.base_url})
        write_private_json(manifest.cache / "spotify-token.json",
                           {"client_id": dev.client_id, "refresh_token": dev.grant_refresh_token(),
                            "scope": "playlist-read-private playlist-read-collaborative"})
        run = RunContext(manifest)
        try:
            listing = SpotifySource().enumerate(run, manifest.playlists[0])
        finally:
            run.close()
        assert [r.key for r in listing.refs] == ["soundcloud 11"]
        assert listing.refs[0].entry["resolved"]["wanted"]["popularity"] is None  # not offered in this mode
        assert [w["status"] for w in listing.meta["review"]] == ["unmatched"]
        assert any("/items" in c.path for c in dev.calls("/playlists/"))

"""The discogs: kind against a fake Discogs on 127.0.0.1 (tests/fakes/discogs.py), through the
real httpx client: folders by name and number, pagination, every tracklist shape, the release
cache, pacing from the rate-limit headers (on a fake clock), 429s, and what a DJ is told when
the collection, the folder, the user or the token is wrong."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cratefile.context import RunContext
from cratefile.errors import Category, ManifestError, SourceError
from cratefile.manifest import load_manifest
from cratefile.net import RateLimiter
from cratefile.records import Playlist
from cratefile.resolve import Wanted
from cratefile.sources import SOURCES
from cratefile.sources.discogs import DiscogsSettings, DiscogsSource, DiscogsTuning
from fakes.discogs import TOKEN, FakeDiscogs, filler, sample_releases

OWNER = "crate_digger"
BELLS = "https://www.discogs.com/release/1001-The-Bells-EP"
RAIN = "https://www.discogs.com/release/2002-Rain"
DETROIT = "https://www.discogs.com/release/3003-Detroit-Beat-Down-Vol-2"


def w(release: int, position: str, title: str, artists: tuple[str, ...], duration: float | None, *,
      remixers: tuple[str, ...] = ()) -> Wanted:
    album, url = {1001: ("The Bells EP", BELLS), 2002: ("Rain", RAIN),
                  3003: ("Detroit Beat Down Vol. 2", DETROIT)}[release]
    return Wanted(source_id=f"discogs:release:{release}:{position}", title=title, artists=artists, album=album,
                  duration=duration, url=url, remixers=remixers, position=position)


BELLS_TRACKS = [  # headings skipped; the B1 remix is credited only in extraartists; A2 has no duration
    w(1001, "A1", "The Bells", ("Jeff Mills",), 452.0),
    w(1001, "A2", "Phase 4", ("Jeff Mills",), None),
    w(1001, "B1", "The Bells", ("Jeff Mills",), 365.0, remixers=("Joey Beltram",)),
    w(1001, "B2", "Untitled", ("Jeff Mills",), 181.0),  # 'Mastered By' is no remix
]
RAIN_TRACKS = [  # A / AA sides; 'A & B' with an anv; 'A feat. B (2)'
    w(2002, "A", "Rain", ("Kerri Chandler", "J. Sydenham"), 310.0),
    w(2002, "AA", "Rain (Dub)", ("Kerri Chandler", "Arnold Jarvis"), 288.0),
]
DETROIT_TRACKS = [  # Various; an index track's sub-tracks take its artists; release-level remix credits
    w(3003, "1", "Day Of Life", ("Octave One",), 372.0),
    w(3003, "2a", "Movement I", ("Mad Mike",), 190.0, remixers=("Francois K.",)),
    w(3003, "2b", "Movement II", ("Mad Mike",), None),
    w(3003, "3", "Jaguar", ("The Aztec Mystic",), 3723.0, remixers=("Carl Craig",)),
    w(3003, "4", "Knights Of The Jaguar", ("DJ Rolando",), 480.0, remixers=("Carl Craig",)),
]


class FakeClock:
    """Monotonic time that moves only when someone sleeps: a minute of pacing costs nothing."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeDiscogs]:
    with FakeDiscogs(owner=OWNER, clock=clock) as server:
        for data in sample_releases():
            server.add_release(data)
        techno, house = server.add_folder(OWNER, "Techno 12s"), server.add_folder(OWNER, "House")
        server.collect(OWNER, 1001, techno)
        server.collect(OWNER, 2002, house)
        server.collect(OWNER, 3003, techno)
        yield server


def techno(fake: FakeDiscogs) -> int:
    return fake.folder_id(OWNER, "Techno 12s")


def source(clock: FakeClock, tuning: DiscogsTuning | None = None) -> DiscogsSource:
    return DiscogsSource(tuning=tuning, clock=clock, sleep=clock.sleep,
                         limiter=RateLimiter(1.0, 3, clock=clock, sleep=clock.sleep))


def manifest_text(fake: FakeDiscogs, entry: str, settings: str = "", api_url: str | None = None) -> str:
    return (f"discogs: {{user: {OWNER}, api_url: '{api_url or fake.url}'{settings}}}\n"
            f"playlists:\n  - name: Techno Crate\n    discogs: {entry}\n")


def setup(tmp_path: Path, fake: FakeDiscogs, entry: str, *, settings: str = "", token: str = TOKEN,
          api_url: str | None = None) -> tuple[RunContext, Playlist]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "playlists.yaml"
    path.write_text(manifest_text(fake, entry, settings, api_url), encoding="utf-8")
    manifest = load_manifest(path, env={"DISCOGS_TOKEN": token})
    return RunContext(manifest), manifest.playlists[0]


def failure(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock, entry: str, **kw: str) -> SourceError:
    run, playlist = setup(tmp_path, fake, entry, **kw)
    with pytest.raises(SourceError) as info:
        source(clock).wanted(run, playlist)
    return info.value


# ---------------------------------------------------------------- folders and tracklists


def test_a_folder_by_name_gives_every_track_of_its_releases(tmp_path: Path, fake: FakeDiscogs,
                                                           clock: FakeClock) -> None:
    run, playlist = setup(tmp_path, fake, '{folder: "techno 12S"}')  # case does not matter
    assert playlist.source.location == f"discogs:{OWNER}/techno 12S"
    assert source(clock).wanted(run, playlist) == BELLS_TRACKS + DETROIT_TRACKS
    assert fake.paths() == [f"/users/{OWNER}/collection/folders",
                            f"/users/{OWNER}/collection/folders/{techno(fake)}/releases",
                            "/releases/1001", "/releases/3003"]
    sent = fake.requests[0]
    assert sent.authorization == f"Discogs token={TOKEN}" and sent.user_agent.startswith("cratefile/")
    assert fake.requests[1].query == {"page": "1", "per_page": "100", "sort": "added", "sort_order": "asc"}


def test_a_folder_by_number_and_folder_0_all(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    run, playlist = setup(tmp_path / "a", fake, f"{{folder: {fake.folder_id(OWNER, 'House')}}}")
    assert source(clock).wanted(run, playlist) == RAIN_TRACKS
    run, playlist = setup(tmp_path / "b", fake, "{folder: 0}")  # in the order they were added
    assert source(clock).wanted(run, playlist) == BELLS_TRACKS + RAIN_TRACKS + DETROIT_TRACKS


def test_a_release_in_two_folders_is_listed_once_and_a_release_gone_from_discogs_is_left_out(
        tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    fake.collect(OWNER, 1001, 1)  # a second copy, in Uncategorized
    fake.add_release(filler(4004))
    fake.collect(OWNER, 4004, 1)
    fake.remove_release(4004)  # deleted from Discogs since: /releases/4004 is 404
    run, playlist = setup(tmp_path, fake, "{folder: 0}")
    assert source(clock).wanted(run, playlist) == BELLS_TRACKS + RAIN_TRACKS + DETROIT_TRACKS
    assert fake.paths("/releases/").count("/releases/1001") == 1


def test_a_folder_of_several_pages_is_read_to_its_end(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    tools = fake.add_folder(OWNER, "Tools")
    ids = list(range(10_000, 10_230))
    for release_id in ids:
        fake.add_release(filler(release_id))
        fake.collect(OWNER, release_id, tools)
    run, playlist = setup(tmp_path, fake, "{folder: Tools}")
    got = source(clock).wanted(run, playlist)
    assert [x.source_id for x in got] == [f"discogs:release:{i}:A" for i in ids]
    pages = [r.query["page"] for r in fake.requests if r.path.endswith("/releases")]
    assert pages == ["1", "2", "3"]
    assert all(r.status == 200 for r in fake.requests)  # 233 requests, paced under the limit


def test_a_rerun_asks_for_the_folder_but_not_for_the_releases(tmp_path: Path, fake: FakeDiscogs,
                                                            clock: FakeClock) -> None:
    run, playlist = setup(tmp_path, fake, '{folder: "Techno 12s"}')
    first = source(clock).wanted(run, playlist)
    assert (run.manifest.cache / "discogs" / "1001.json").is_file()
    fake.clear_log()
    assert source(clock).wanted(run, playlist) == first
    assert fake.paths("/releases/") == []
    assert len(fake.paths("/users/")) == 2  # the collection may have changed: asked again


# ---------------------------------------------------------------- the rate limit


def _tools(fake: FakeDiscogs, n: int) -> None:
    tools = fake.add_folder(OWNER, "Tools")
    for release_id in range(20_000, 20_000 + n):
        fake.add_release(filler(release_id))
        fake.collect(OWNER, release_id, tools)


def test_a_low_remaining_budget_holds_requests_until_the_minute_frees_up(tmp_path: Path, clock: FakeClock) -> None:
    with FakeDiscogs(owner=OWNER, clock=clock, limit=5) as fake:
        _tools(fake, 7)  # 9 requests against 5 a minute
        run, playlist = setup(tmp_path, fake, "{folder: Tools}")
        started, began = clock(), time.monotonic()
        assert len(source(clock).wanted(run, playlist)) == 7
        assert [r.status for r in fake.requests] == [200] * 9  # never refused
        assert clock() - started >= 120  # two waits for the moving minute
        assert max(clock.slept) > 50
        assert time.monotonic() - began < 10


def test_with_budget_to_spare_there_is_no_wait_for_the_minute(tmp_path: Path, clock: FakeClock) -> None:
    with FakeDiscogs(owner=OWNER, clock=clock) as fake:
        _tools(fake, 7)
        run, playlist = setup(tmp_path, fake, "{folder: Tools}")
        started = clock()
        assert len(source(clock).wanted(run, playlist)) == 7
        assert clock() - started < 10  # only the limiter's one a second
        assert max(clock.slept, default=0) <= 1.0


def test_a_429_is_retried_once_the_minute_frees_up(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    fake.burn(60)  # another app with the same token used the whole minute
    run, playlist = setup(tmp_path, fake, '{folder: "Techno 12s"}')
    started = clock()
    assert source(clock).wanted(run, playlist) == BELLS_TRACKS + DETROIT_TRACKS
    assert [r.status for r in fake.requests][:2] == [429, 200]
    assert 60 <= clock() - started < 70


def test_a_server_error_is_retried(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    fake.fail_next(502, 2)
    run, playlist = setup(tmp_path, fake, '{folder: "Techno 12s"}')
    assert source(clock).wanted(run, playlist) == BELLS_TRACKS + DETROIT_TRACKS
    assert [r.status for r in fake.requests][:3] == [502, 502, 200]


def test_a_429_that_does_not_end_fails_the_playlist_after_a_bounded_wait(tmp_path: Path, clock: FakeClock) -> None:
    with FakeDiscogs(owner=OWNER, clock=clock, limit=0) as fake:
        started = clock()
        error = failure(tmp_path, fake, clock, "{folder: 0}")
        assert error.category is Category.RATE_LIMITED
        assert "Techno Crate" in str(error) and "429" in str(error) and "a minute" in str(error)
        assert len(fake.requests) == DiscogsTuning().attempts
        assert clock() - started <= DiscogsTuning().attempts * 60


def test_discogs_unreachable_fails_the_playlist_after_bounded_retries(tmp_path: Path, fake: FakeDiscogs,
                                                                       clock: FakeClock) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(tmp_path, fake, clock, "{folder: 0}", api_url=f"http://127.0.0.1:{port}")
    assert error.category is Category.TRANSIENT
    assert str(error).startswith("playlist 'Techno Crate': Discogs did not answer while reading crate_digger's "
                                 "collection folders (ConnectError")
    assert str(error).endswith(f"at http://127.0.0.1:{port}: try again later")
    assert len(clock.slept) == DiscogsTuning().attempts - 1  # backed off between tries, on the fake clock


# ---------------------------------------------------------------- what the DJ is told


def test_a_private_collection_of_another_user(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    fake.add_user("vinyl_hermit", private=True)
    error = failure(tmp_path, fake, clock, "{folder: 0, user: vinyl_hermit}")
    assert str(error) == (
        "playlist 'Techno Crate': Discogs does not show vinyl_hermit's collection: it is private (403 You don't "
        "have permission to access this resource.): make it public in Discogs (Settings > Privacy), or use a "
        "token of its owner")
    assert error.category is Category.PRIVATE


def test_another_users_public_collection_shows_only_all(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    fake.add_user("open_shelf")
    fake.collect("open_shelf", 2002)
    error = failure(tmp_path, fake, clock, "{folder: House, user: open_shelf}")
    assert "open_shelf's Discogs collection has no folder 'House'" in str(error)
    assert "only the All folder of another user's collection can be read: use folder: 0" in str(error)
    run, playlist = setup(tmp_path, fake, "{folder: 0, user: open_shelf}")
    assert source(clock).wanted(run, playlist) == RAIN_TRACKS


def test_an_unknown_user(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    error = failure(tmp_path, fake, clock, "{folder: 0, user: nobody_here}")
    assert str(error) == ("playlist 'Techno Crate': Discogs has no user 'nobody_here' (404 User does not exist or "
                          "may have been deleted.): check the user: of discogs: or of the playlist")


def test_an_unknown_folder_lists_the_folders_there_are(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    error = failure(tmp_path, fake, clock, '{folder: "Tecno 12s"}')
    assert str(error) == (
        f"playlist 'Techno Crate': {OWNER}'s Discogs collection has no folder 'Tecno 12s': use one of its "
        f"folders' names or numbers: All (0), Uncategorized (1), Techno 12s ({techno(fake)}), "
        f"House ({fake.folder_id(OWNER, 'House')})")
    assert "no folder 777" in str(failure(tmp_path, fake, clock, "{folder: 777}"))


def test_a_bad_token_is_named_by_its_variable_never_shown(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    wrong = "wr0ngT0kenWr0ngT0kenWr0ngT0ken"
    error = failure(tmp_path, fake, clock, "{folder: 0}", token=wrong)
    assert str(error) == (
        "playlist 'Techno Crate': Discogs refused the token in DISCOGS_TOKEN (401 You must authenticate to access "
        "this resource.): create a personal access token at https://www.discogs.com/settings/developers and set "
        "DISCOGS_TOKEN to it")
    run, _ = setup(tmp_path, fake, "{folder: 0}", token=wrong)
    settings = run.manifest.settings("discogs")
    assert isinstance(settings, DiscogsSettings) and wrong not in repr(settings)
    assert wrong not in repr(source(clock).api(settings))


def test_the_user_agent_is_the_configured_one(tmp_path: Path, fake: FakeDiscogs, clock: FakeClock) -> None:
    run, playlist = setup(tmp_path, fake, "{folder: 0}", settings=", user_agent: 'CrateSync/2.0 +https://x.example'")
    source(clock).wanted(run, playlist)
    assert {r.user_agent for r in fake.requests} == {"CrateSync/2.0 +https://x.example"}


# ---------------------------------------------------------------- the manifest


def manifest_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "playlists.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(path, env={"DISCOGS_TOKEN": TOKEN} if env is None else env)
    return str(info.value)


def test_manifest_problems_name_the_line(tmp_path: Path, fake: FakeDiscogs) -> None:
    text = manifest_text(fake, "{user: someone}")
    assert manifest_error(tmp_path, text).startswith("playlists.yaml:4 playlists[0].discogs")
    assert "folder" in manifest_error(tmp_path, text)
    message = manifest_error(tmp_path, manifest_text(fake, "{folder: 0}"), env={})
    assert message == ("playlists.yaml:1 discogs: the environment variable DISCOGS_TOKEN is not set (discogs: "
                       "needs your personal access token (https://www.discogs.com/settings/developers): set "
                       "DISCOGS_TOKEN, or remove discogs:)")
    message = manifest_error(tmp_path, manifest_text(fake, "{folder: 0}", ", token_env: MY_DISCOGS"))
    assert message.startswith("playlists.yaml:1 discogs.token_env: the environment variable MY_DISCOGS is not set")
    no_section = "playlists:\n  - name: A\n    discogs: {folder: 0}\n"
    assert manifest_error(tmp_path, no_section) == (
        "playlists.yaml:3 playlists[0].discogs: a Discogs playlist needs the top-level discogs: section (add "
        "discogs: {user: <your Discogs username>, token_env: DISCOGS_TOKEN})")
    blank = manifest_error(tmp_path, manifest_text(fake, '{folder: "  "}'))
    assert blank.startswith("playlists.yaml:4 playlists[0].discogs.folder: '  ' is not a folder name")


def test_the_token_never_appears_in_a_manifest_problem(tmp_path: Path, fake: FakeDiscogs) -> None:
    message = manifest_error(tmp_path, manifest_text(fake, "{folder: 0}", ", user_agent: 'a'"),
                             env={"DISCOGS_TOKEN": "has space"})
    assert "contains spaces" in message and "has space" not in message


def test_the_snapshot_is_reused_while_younger_than_refresh(tmp_path: Path, fake: FakeDiscogs) -> None:
    run, playlist = setup(tmp_path, fake, "{folder: 0}", settings=", refresh: 2h")
    kind = SOURCES["discogs"]
    assert kind.fresh(run, playlist, {"fetched_at": time.time() - 3600})
    assert not kind.fresh(run, playlist, {"fetched_at": time.time() - 3 * 3600})
    assert playlist.source.options == (("folder", 0), ("user", OWNER))


# ---------------------------------------------------------------- the fake itself


def test_the_fake_answers_as_discogs_does(fake: FakeDiscogs) -> None:
    with httpx.Client(base_url=fake.url, headers={"User-Agent": "probe/1"}) as client:
        anonymous = client.get(f"/users/{OWNER}/collection/folders")
        assert anonymous.status_code == 200 and [f["id"] for f in anonymous.json()["folders"]] == [0]
        assert anonymous.headers["X-Discogs-Ratelimit"] == "25"
        bad = client.get("/releases/1001", headers={"Authorization": "Discogs token=nope"})
        assert (bad.status_code, bad.json()) == (401, {"message": "You must authenticate to access this resource."})
        ok = client.get("/releases/1001", headers={"Authorization": f"Discogs token={TOKEN}"})
        assert ok.headers["X-Discogs-Ratelimit-Used"] == "1" and ok.headers["X-Discogs-Ratelimit-Remaining"] == "59"
        assert ok.json()["tracklist"][0]["type_"] == "heading"
        no_agent = client.get("/releases/1001", headers={"User-Agent": ""})
        assert no_agent.status_code == 403
        page = client.get(f"/users/{OWNER}/collection/folders/0/releases", params={"per_page": 2, "page": 1},
                          headers={"Authorization": f"Discogs token={TOKEN}"}).json()["pagination"]
        assert (page["pages"], page["items"], sorted(page["urls"])) == (2, 3, ["last", "next"])


# ---------------------------------------------------------------- resolution by search


def test_a_folder_resolves_to_uploads_by_search_through_a_429(tmp_path: Path, fake: FakeDiscogs,
                                                              clock: FakeClock) -> None:
    # Rain and its Dub, on the fake SoundCloud: the artist's uploads, a stranger's rip and a
    # same-titled track by someone else; search answers 429 once (Retry-After) and is retried
    from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

    from fakes.soundcloud import FakeSoundCloud

    with FakeSoundCloud() as sc:
        sc.add_track(1, "Kerri Chandler - Rain", "Kerri Chandler", 311, verified=True, plays=90_000)
        sc.add_track(2, "Rain (Dub)", "Kerri Chandler", 288, verified=True, plays=40_000)
        sc.add_track(3, "Kerri Chandler - Rain (Dub) [FREE DL]", "deep_rips", 288, plays=500_000,
                     publisher_artist=None)
        sc.add_track(4, "Rain", "Someone Else", 310, verified=True, plays=2_000_000)
        sc.set_search_behavior("rate_limited:1")
        path = tmp_path / "playlists.yaml"
        path.write_text(manifest_text(fake, '{folder: "House"}'), encoding="utf-8")
        manifest = load_manifest(path, env={"DISCOGS_TOKEN": TOKEN, "CRATEFILE_YTDLP_LOOPBACK": sc.base_url})
        run = RunContext(manifest)
        try:
            listing = source(clock).enumerate(run, manifest.playlists[0])
        finally:
            run.close()
            SoundcloudBaseIE._HEADERS.pop("Authorization", None)
        assert [r.key for r in listing.refs] == ["soundcloud 1", "soundcloud 2"], listing.meta["review"]
        assert listing.refs[1].title == "Rain (Dub)" and listing.refs[1].artist == "Kerri Chandler, Arnold Jarvis"
        assert listing.refs[0].entry["resolved"]["source"] == "discogs:release:2002:A"
        assert listing.meta["review"] == [] and sc.count("api-v2.soundcloud.com", "/search/tracks") >= 3
        lock = (tmp_path / "playlists.lock").read_text()
        assert "discogs:release:2002:AA" in lock and sc.url_of_track(2) in lock

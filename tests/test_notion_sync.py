"""NotionMirror.sync against the fake Notion, driven by the real notion-client SDK."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pytest

from cratefile.net import RateLimiter
from cratefile.sinks.notion.mirror import (
    NotionMirror,
    NotionTrack,
    NotionTuning,
    NotionValidationError,
)
from fakes.notion import FakeNotion

FAST = NotionTuning(timeout=5.0, attempts=4, base_delay=0.01, max_delay=0.05, settle=0.3, workers=3)


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion() as server:
        yield server


def mirror(fake: FakeNotion, tuning: NotionTuning = FAST, **props: str) -> NotionMirror:
    return NotionMirror(fake.config(tuple(props.items())), limiter=RateLimiter(2000.0, burst=50), tuning=tuning)


def make_tracks(n: int, start: int = 0) -> list[NotionTrack]:
    return [
        NotionTrack(
            key=f"soundcloud {i}", source_url=f"https://soundcloud.com/artist-{i % 7}/track-{i}",
            title=f"Track {i}", artist=f"Artist {i % 7}", downloaded=True, bpm=120.0 + i % 10,
            key_name="Am", duration=300.0 + i, paths=(("wav", f"/lib/wav/{i}.wav"),), eagle_id=None,
            status=("built",), playlists=("Peak Time",), page_id=None,
        )
        for i in range(start, start + n)
    ]


def recorded(tracks: list[NotionTrack], ids: dict[str, str]) -> list[NotionTrack]:
    return [dataclasses.replace(t, page_id=ids.get(t.key, t.page_id)) for t in tracks]


def pages_by_url(fake: FakeNotion) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for page in fake.live_pages():
        out.setdefault(fake.value(page["id"], "SoundCloud URL"), []).append(page["id"])
    return out


def test_first_sync_creates_then_rerun_writes_nothing(fake: FakeNotion) -> None:
    tracks = make_tracks(12)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        m.check_schema()
        stats = m.sync(tracks, on_page_id=ids.__setitem__)
    assert (stats.created, stats.updated, stats.unchanged) == (12, 0, 0)
    assert stats.requests == 1 + 12  # one query, one create per track
    assert len(fake.live_pages()) == 12 and set(ids) == {t.key for t in tracks}
    page = ids["soundcloud 3"]
    assert fake.value(page, "Title") == "Track 3"
    assert fake.value(page, "Tempo") == 123.0
    assert fake.value(page, "Downloaded") is True
    assert fake.value(page, "WAV/AIFF/M4A File Path") == "/lib/wav/3.wav"
    assert fake.value(page, "Audio Processing Status") == ["built"]
    assert all(r.user_agent.startswith("cratefile/") for r in fake.requests)

    fake.clear_log()
    with mirror(fake) as m:
        stats = m.sync(recorded(tracks, ids), on_page_id=ids.__setitem__)
    assert (stats.created, stats.updated, stats.unchanged) == (0, 0, 12)
    assert fake.writes() == []
    queries = [r.path for r in fake.requests if r.path.endswith("/query")]
    assert queries == [f"/v1/data_sources/{fake.data_source_id}/query"]
    # the schema read (database + data source) and one paginated read; nothing else
    assert len(fake.requests) == 3 and stats.requests == 1


def test_rerun_without_recorded_ids_matches_by_url(fake: FakeNotion) -> None:
    tracks = make_tracks(5)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        m.sync(tracks, on_page_id=ids.__setitem__)
        # the same tracks, URLs written differently, no page ids known
        variants = [dataclasses.replace(t, source_url=t.source_url.replace("https://", "http://www.") + "/?si=1")
                    for t in tracks]
        fake.clear_log()
        again: dict[str, str] = {}
        stats = m.sync(variants, on_page_id=again.__setitem__)
    assert stats.created == 0 and again == ids  # found by URL and reported to the caller
    # the URL text is ours to keep current: one PATCH per page for the new spelling, no create
    assert all(r.method == "PATCH" for r in fake.writes())


def test_one_changed_bpm_is_one_patch(fake: FakeNotion) -> None:
    tracks = make_tracks(8)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        m.sync(tracks, on_page_id=ids.__setitem__)
        tracks = recorded(tracks, ids)
        tracks[5] = dataclasses.replace(tracks[5], bpm=128.5)
        fake.clear_log()
        stats = m.sync(tracks, on_page_id=ids.__setitem__)
    writes = fake.writes()
    assert len(writes) == 1 and (stats.updated, stats.unchanged) == (1, 7)
    assert writes[0].method == "PATCH" and writes[0].path == f"/v1/pages/{ids['soundcloud 5']}"
    assert writes[0].body == {"properties": {"Tempo": {"number": 128.5}}}
    assert fake.value(ids["soundcloud 5"], "Tempo") == 128.5


def test_more_than_100_pages_paginates(fake: FakeNotion) -> None:
    tracks = make_tracks(230)
    ids: dict[str, str] = {}
    with mirror(fake, dataclasses.replace(FAST, workers=4)) as m:
        m.sync(tracks, on_page_id=ids.__setitem__)
        fake.clear_log()
        stats = m.sync(recorded(tracks, ids), on_page_id=ids.__setitem__)
    queries = [r for r in fake.requests if r.path.endswith("/query")]
    assert len(queries) == math.ceil(230 / 100)
    assert all(q.body["page_size"] == 100 for q in queries)
    assert "start_cursor" not in queries[0].body and "start_cursor" in queries[1].body
    assert stats.unchanged == 230 and fake.writes() == []


def test_recorded_ids_are_trusted_while_queries_lag(fake: FakeNotion) -> None:
    fake.hide_new_pages_for = 30.0  # nothing new shows up in queries during this test
    tracks = make_tracks(4)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        m.sync(tracks, on_page_id=ids.__setitem__)
        fake.clear_log()
        stats = m.sync(recorded(tracks, ids), on_page_id=ids.__setitem__)
    assert stats.created == 0 and stats.unchanged == 4
    assert len(fake.live_pages()) == 4
    gets = [r.path for r in fake.requests if r.method == "GET"]
    assert sorted(gets) == sorted(f"/v1/pages/{p}" for p in ids.values())


def test_a_trashed_recorded_page_falls_back_to_the_url(fake: FakeNotion) -> None:
    seeded = fake.seed_page({"Title": "Hand made", "SoundCloud URL": "https://soundcloud.com/artist-0/track-0"})
    tracks = make_tracks(1)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        gone = fake.seed_page({"Title": "old"})
        fake._find_page(gone).in_trash = True
        stats = m.sync([dataclasses.replace(tracks[0], page_id=gone)], on_page_id=ids.__setitem__)
    assert ids == {"soundcloud 0": seeded} and stats.created == 0 and stats.updated == 1
    assert fake.value(seeded, "Title") == "Track 0"


def test_none_values_leave_hand_typed_values_alone(fake: FakeNotion) -> None:
    page = fake.seed_page({"Title": "Typed by hand", "Tempo": 99.0,
                           "SoundCloud URL": "https://soundcloud.com/artist-0/track-0"})
    track = dataclasses.replace(make_tracks(1)[0], title=None, bpm=None, downloaded=False,
                                status=("failed", "not_found"), paths=())
    with mirror(fake) as m:
        m.sync([track], on_page_id=lambda k, p: None)
    assert fake.value(page, "Title") == "Typed by hand" and fake.value(page, "Tempo") == 99.0
    assert fake.value(page, "Downloaded") is False
    assert fake.value(page, "Audio Processing Status") == ["failed", "not_found"]


def test_long_text_is_split_and_stays_unchanged(fake: FakeNotion) -> None:
    long_paths = tuple((f"f{i}", "/very/long/folder/" + "x" * 480 + f"/{i}.wav") for i in range(10))
    track = dataclasses.replace(make_tracks(1)[0], paths=long_paths)
    ids: dict[str, str] = {}
    with mirror(fake) as m:
        m.sync([track], on_page_id=ids.__setitem__)
        create = next(r for r in fake.writes() if r.method == "POST")
        pieces = create.body["properties"]["WAV/AIFF/M4A File Path"]["rich_text"]
        assert len(pieces) == 3 and all(len(p["text"]["content"]) <= 2000 for p in pieces)
        assert fake.value(ids[track.key], "WAV/AIFF/M4A File Path") == "\n".join(p for _f, p in long_paths)
        fake.clear_log()
        stats = m.sync(recorded([track], ids), on_page_id=ids.__setitem__)
    assert stats.unchanged == 1 and fake.writes() == []


def test_per_format_path_properties_and_select_types() -> None:
    props = {"Title": "title", "SoundCloud URL": "rich_text", "Downloaded": "checkbox", "Key": "select",
             "Audio Processing Status": "select", "WAV": "rich_text", "AIFF": "rich_text"}
    with FakeNotion(properties=props) as fake:
        off = {f: "" for f in ("artist", "bpm", "duration", "paths", "eagle_id", "playlists", "lock")}
        ids: dict[str, str] = {}
        track = dataclasses.replace(make_tracks(1)[0], paths=(("wav", "/w.wav"), ("aiff", "/a.aiff")),
                                    status=("failed", "drm"))
        with mirror(fake, **off, **{"path.wav": "WAV", "path.aiff": "AIFF"}) as m:
            m.check_schema()
            m.sync([track], on_page_id=ids.__setitem__)
            page = ids[track.key]
            assert fake.value(page, "WAV") == "/w.wav" and fake.value(page, "AIFF") == "/a.aiff"
            assert fake.value(page, "Key") == "Am"
            assert fake.value(page, "Audio Processing Status") == "failed: drm"
            assert fake.value(page, "SoundCloud URL") == track.source_url
            fake.clear_log()
            assert m.sync(recorded([track], ids), on_page_id=ids.__setitem__).unchanged == 1
            assert fake.writes() == []


def test_validation_error_names_property_and_value_and_is_not_retried() -> None:
    props = {"Title": "title", "SoundCloud URL": "url", "Downloaded": "checkbox", "Audio Processing Status": "status"}
    with FakeNotion(properties=props, status_options=("Done",)) as fake:
        off = {f: "" for f in ("artist", "bpm", "key", "duration", "paths", "eagle_id", "playlists", "lock")}
        with mirror(fake, **off) as m, pytest.raises(NotionValidationError) as caught:
            m.sync(make_tracks(1), on_page_id=lambda k, p: None)
        err = caught.value
        assert err.prop == "Audio Processing Status" and err.value == "built"
        assert "'Audio Processing Status'" in str(err) and "'built'" in str(err)
        assert len([r for r in fake.requests if r.path == "/v1/pages"]) == 1  # not retried


def test_too_long_url_is_a_validation_error(fake: FakeNotion) -> None:
    track = dataclasses.replace(make_tracks(1)[0], source_url="https://soundcloud.com/a/" + "x" * 2100)
    with mirror(fake) as m, pytest.raises(NotionValidationError) as caught:
        m.sync([track], on_page_id=lambda k, p: None)
    assert caught.value.prop == "SoundCloud URL"
    assert "2000" in str(caught.value)


def test_ids_persisted_before_a_crash_prevent_duplicates(fake: FakeNotion) -> None:
    tracks = make_tracks(6)
    ids: dict[str, str] = {}

    def persist_then_crash(key: str, page_id: str) -> None:
        if len(ids) == 3:
            raise KeyboardInterrupt  # the process dies while saving the 4th id
        ids[key] = page_id

    with mirror(fake, dataclasses.replace(FAST, workers=1)) as m:
        with pytest.raises(KeyboardInterrupt):
            m.sync(tracks, on_page_id=persist_then_crash)
        assert len(fake.live_pages()) == 4  # the 4th page exists, its id was lost
        stats = m.sync(recorded(tracks, ids), on_page_id=ids.__setitem__)
    assert stats.created == 2  # the 4th was found again by URL
    assert all(len(v) == 1 for v in pages_by_url(fake).values()) and len(fake.live_pages()) == 6


def test_an_error_in_a_worker_stops_the_sync(fake: FakeNotion) -> None:
    calls: list[str] = []

    def failing(key: str, page_id: str) -> None:
        calls.append(key)
        raise RuntimeError("catalog is read-only")

    with mirror(fake) as m, pytest.raises(RuntimeError, match="read-only"):
        m.sync(make_tracks(30), on_page_id=failing)
    assert len(fake.live_pages()) < 30  # queued tracks were not sent after the failure

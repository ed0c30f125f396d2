"""check_schema / init_schema against the fake Notion."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from cratefile.errors import CatalogError
from cratefile.net import RateLimiter
from cratefile.sinks.notion.mirror import (
    LockOwner,
    NotionMirror,
    NotionSchemaError,
    NotionTuning,
)
from fakes.notion import MUSIC_TRACKS, FakeNotion

FAST = NotionTuning(timeout=5.0, attempts=3, base_delay=0.01, max_delay=0.05, settle=0.2)


def mirror(fake: FakeNotion, **props: str) -> NotionMirror:
    return NotionMirror(fake.config(tuple(props.items())), limiter=RateLimiter(2000.0, burst=50), tuning=FAST)


def test_schema_of_a_music_tracks_database_fits_the_defaults() -> None:
    with FakeNotion() as fake, mirror(fake) as m:
        report = m.check_schema()
        assert report.locking and report.data_source_id == fake.data_source_id
        assert report.name("bpm") == "Tempo" and report.type("source_url") == "url"
        # one database read, one data source read
        assert [(r.method, r.path) for r in fake.requests] == [
            ("GET", f"/v1/databases/{fake.database_id}"),
            ("GET", f"/v1/data_sources/{fake.data_source_id}"),
        ]


def test_type_mismatch_names_field_property_and_both_types() -> None:
    props = dict(MUSIC_TRACKS, Tempo="rich_text")
    with FakeNotion(properties=props) as fake, mirror(fake) as m, pytest.raises(NotionSchemaError) as caught:
        m.check_schema()
    msg = str(caught.value)
    assert "notion.properties.bpm" in msg and "'Tempo'" in msg
    assert "is rich_text" in msg and "expected number" in msg
    assert isinstance(caught.value, CatalogError)


def test_renamed_properties_map_from_configuration() -> None:
    props = dict(MUSIC_TRACKS)
    props["Beats"] = props.pop("Tempo")  # no common name for a tempo: only configuration maps it
    props["DL"] = props.pop("Downloaded")
    with FakeNotion(properties=props) as fake:
        with mirror(fake) as m, pytest.raises(NotionSchemaError, match="'Tempo'"):
            m.check_schema()
        with mirror(fake, bpm="Beats", downloaded="DL") as m:
            report = m.check_schema()
            assert report.name("downloaded") == "DL" and report.name("bpm") == "Beats"
            assert report.auto_mapped == () and report.mapping_note() is None  # all said explicitly


def test_init_schema_adds_the_missing_properties() -> None:
    props = {"Title": "title", "SoundCloud URL": "url", "Tempo": "number"}
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        with pytest.raises(NotionSchemaError) as caught:
            m.check_schema()
        assert "'Artist Name'" in str(caught.value) and "init-schema" in str(caught.value)
        added = m.init_schema()
        assert set(added) == set(MUSIC_TRACKS) - set(props) | {"Source Quality", "Listing URL"}  # optional ones
        types = fake.schema_types()
        assert types["Downloaded"] == "checkbox" and types["Audio Duration (seconds)"] == "number"
        assert types["Audio Processing Status"] == "multi_select" and types["Processing Lock"] == "rich_text"
        patch = next(r for r in fake.requests if r.method == "PATCH")
        assert patch.path == f"/v1/data_sources/{fake.data_source_id}"
        assert "Tempo" not in patch.body["properties"]  # existing properties untouched
        assert m.check_schema().locking
        assert m.init_schema() == []  # nothing left to add


def test_a_misnamed_title_is_explained_not_added() -> None:
    props = dict(MUSIC_TRACKS)
    props["Name"] = props.pop("Title")
    with FakeNotion(properties=props) as fake:
        with mirror(fake, title="Track") as m:  # configured, so not matched by name
            with pytest.raises(NotionSchemaError, match="title property is 'Name'"):
                m.init_schema()
        assert "Title" not in fake.schema_types() and "Track" not in fake.schema_types()
        with mirror(fake) as m:  # not configured: the data source's one title property
            assert m.check_schema().name("title") == "Name"
            assert m.init_schema() == []


def test_key_as_select_is_accepted() -> None:
    with FakeNotion(properties=dict(MUSIC_TRACKS, Key="select")) as fake, mirror(fake) as m:
        assert m.check_schema().type("key") == "select"


def test_missing_lock_turns_locking_off_once(caplog: pytest.LogCaptureFixture) -> None:
    props = {n: t for n, t in MUSIC_TRACKS.items() if n != "Processing Lock"}
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        with caplog.at_level(logging.WARNING, logger="cratefile"):
            assert not m.check_schema().locking
            m.check_schema()
        assert sum("locks are off" in r.getMessage() for r in caplog.records) == 1
        page = fake.seed_page({"Title": "x"})
        fake.clear_log()
        assert m.acquire_lock(page, LockOwner.current()) is True
        assert m.release_lock(page, LockOwner.current()) is True
        assert m.unlock_stale() == 0
        assert fake.requests == []  # no lock, no lock traffic


def test_unknown_database_and_bad_token_are_clear() -> None:
    with FakeNotion() as fake:
        config = fake.config()
        wrong = dataclasses.replace(config, database="0" * 32)
        with (NotionMirror(wrong, limiter=RateLimiter(2000.0, burst=50), tuning=FAST) as m,
              pytest.raises(CatalogError, match="not shared with the integration")):
            m.check_schema()
        bad = fake.config(token="secret_not_the_right_one")
        with (NotionMirror(bad, limiter=RateLimiter(2000.0, burst=50), tuning=FAST) as m,
              pytest.raises(CatalogError, match="CRATEFILE_TEST_NOTION_TOKEN")):
            m.check_schema()
        assert sum(r.status == 401 for r in fake.requests) == 1  # a 401 is not retried


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeNotion() as fake:
        config = dataclasses.replace(fake.config(), token=None)
        monkeypatch.delenv(config.token_env, raising=False)
        with pytest.raises(CatalogError, match="CRATEFILE_TEST_NOTION_TOKEN"):
            NotionMirror(config)
        monkeypatch.setenv(config.token_env, fake.token)
        with NotionMirror(config, limiter=RateLimiter(2000.0, burst=50), tuning=FAST) as m:
            assert m.check_schema().locking


# One property per format and common names, as users' databases have them (B of "failure paths
# a user can trust"): matched by name, case-insensitively, only where the type fits.
COMMON_NAMES: dict[str, str] = {
    "Title": "title",
    "artist name": "rich_text",  # the default, but not its case
    "Link": "url",
    "URL": "number",  # a name that fits, a type that does not: passed over
    "DL": "checkbox",
    "BPM": "number",
    "Key": "number",  # idem: the key lives in Camelot
    "Camelot": "rich_text",
    "Duration": "number",
    "WAV File Path": "rich_text",
    "AIFF File Path": "rich_text",
    "m4a file path": "rich_text",
    "Eagle File ID": "rich_text",
    "Audio Processing Status": "multi_select",
    "Playlists": "multi_select",
    "Processing Lock": "rich_text",
}


def test_common_names_and_one_property_per_format_are_mapped_by_name() -> None:
    with FakeNotion(properties=COMMON_NAMES) as fake, mirror(fake) as m:
        report = m.check_schema()
        assert report.problems() == []
        names = {f: report.name(f) for f in ("artist", "source_url", "downloaded", "bpm", "key", "duration",
                                               "path.wav", "path.aiff", "path.m4a", "paths")}
        assert names == {"artist": "artist name", "source_url": "Link", "downloaded": "DL", "bpm": "BPM",
                         "key": "Camelot", "duration": "Duration", "path.wav": "WAV File Path",
                         "path.aiff": "AIFF File Path", "path.m4a": "m4a file path",
                         "paths": None}  # the per-format properties replace the combined one
        assert report.locking and report.name("title") == "Title"  # defaults that are there stay silent
        assert report.mapping_note() == (
            "Notion: mapped artist name → artist, Link → source_url, DL → downloaded, BPM → bpm, "
            "Camelot → key, Duration → duration, WAV File Path → path.wav, AIFF File Path → path.aiff, "
            "m4a file path → path.m4a (matched by name; notion.properties chooses others)")
        assert m.init_schema() == ["Source Quality", "Listing URL"]  # nothing else is missing: these are new


def test_explicit_properties_win_over_names() -> None:
    props = dict(COMMON_NAMES, **{"My Tempo": "number", "Files": "rich_text"})
    with FakeNotion(properties=props) as fake, mirror(fake, bpm="My Tempo", paths="Files", downloaded="") as m:
        report = m.check_schema()
        assert report.name("bpm") == "My Tempo"
        assert report.name("paths") == "Files"  # kept, next to the per-format properties
        assert report.name("downloaded") is None  # switched off stays off, DL or not
        assert ("BPM", "bpm") not in report.auto_mapped and ("DL", "downloaded") not in report.auto_mapped
    with FakeNotion(properties=COMMON_NAMES) as fake, mirror(fake, bpm="Tempo") as m:
        with pytest.raises(NotionSchemaError, match="no property 'Tempo'"):  # a wrong name is an error,
            m.check_schema()  # not a reason to guess


def test_a_generic_status_property_is_not_chosen() -> None:
    # a Notion `status` property only takes its own options: writing "built" would fail every sync
    props = dict(MUSIC_TRACKS)
    del props["Audio Processing Status"]
    props["Status"] = "status"
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        with pytest.raises(NotionSchemaError, match="'Audio Processing Status'"):
            m.check_schema()
    props["Status"] = "select"
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        assert m.check_schema().name("status") == "Status"


def test_per_format_paths_are_written_through_the_mapping() -> None:
    from cratefile.sinks.notion.mirror import NotionTrack

    track = NotionTrack(key="soundcloud 7", source_url="https://soundcloud.com/a/seven", title="Seven",
                        artist="A", downloaded=True, bpm=128.0, key_name="8A", duration=200.0,
                        paths=(("aiff", "/lib/aiff/A - Seven.aiff"), ("wav", "/lib/wav/A - Seven.wav")),
                        eagle_id=None, status=("built",), playlists=("Peak",), page_id=None)
    with FakeNotion(properties=COMMON_NAMES) as fake, mirror(fake) as m:
        m.sync([track], on_page_id=lambda key, page_id: None)
        (page,) = fake.live_pages()
        value = lambda prop: fake.value(page["id"], prop)  # noqa: E731
        assert value("WAV File Path") == "/lib/wav/A - Seven.wav"
        assert value("AIFF File Path") == "/lib/aiff/A - Seven.aiff"
        assert value("m4a file path") == ""
        assert (value("DL"), value("BPM"), value("Camelot"), value("Link")) == (
            True, 128.0, "8A", "https://soundcloud.com/a/seven")
        assert value("URL") is None and value("Key") is None  # the misfit namesakes are left alone

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
    props["BPM"] = props.pop("Tempo")
    props["DL"] = props.pop("Downloaded")
    with FakeNotion(properties=props) as fake:
        with mirror(fake) as m, pytest.raises(NotionSchemaError, match="'Tempo'"):
            m.check_schema()
        with mirror(fake, bpm="BPM", downloaded="DL") as m:
            assert m.check_schema().name("downloaded") == "DL"


def test_init_schema_adds_the_missing_properties() -> None:
    props = {"Title": "title", "SoundCloud URL": "url", "Tempo": "number"}
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        with pytest.raises(NotionSchemaError) as caught:
            m.check_schema()
        assert "'Artist Name'" in str(caught.value) and "init-schema" in str(caught.value)
        added = m.init_schema()
        assert set(added) == set(MUSIC_TRACKS) - set(props)
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
    with FakeNotion(properties=props) as fake, mirror(fake) as m:
        with pytest.raises(NotionSchemaError, match="title property is 'Name'"):
            m.init_schema()
        assert "Title" not in fake.schema_types()


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

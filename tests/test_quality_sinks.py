"""The provenance label in the Notion mirror (found by its common names, written as text or
select), and `notion dedupe` merging the pages of acoustic duplicates."""

from __future__ import annotations

from pathlib import Path

from cratefile.catalog.sqlite import Catalog
from cratefile.manifest import load_manifest
from cratefile.net import RateLimiter
from cratefile.sinks.notion import acoustic_aliases
from cratefile.sinks.notion.mirror import NotionMirror
from cratefile.sinks.notion.schema import DEFAULT_PROPERTIES, read_report
from cratefile.sinks.notion.values import NotionTrack, track_values
from fakes.notion import FakeNotion


def _track(quality: str | None) -> NotionTrack:
    return NotionTrack(key="soundcloud 1", source_url="https://soundcloud.com/a/b", title="T", artist="A",
                       downloaded=True, bpm=None, key_name=None, duration=None, paths=(), eagle_id=None,
                       status=("built",), playlists=("P",), page_id=None, quality=quality)


def test_a_quality_property_is_found_by_a_common_name_and_filled() -> None:
    source = {"id": "ds", "properties": {"Name": {"type": "title"}, "Quality": {"type": "select"}}}
    report = read_report("db", source, DEFAULT_PROPERTIES, explicit=())
    assert report.name("quality") == "Quality" and ("Quality", "quality") in report.auto_mapped
    assert not any("quality" in line for line in report.problems())
    values = track_values(_track("upscaled from ~128k (pcm_s16le)"), report)
    assert values["Quality"] == ("select", "upscaled from ~128k (pcm_s16le)")
    assert "Quality" not in track_values(_track(None), report)  # unmeasured: a value typed by hand stays


def test_without_a_quality_property_nothing_is_missing() -> None:
    source = {"id": "ds", "properties": {"Name": {"type": "title"}}}
    report = read_report("db", source, DEFAULT_PROPERTIES, explicit=())
    assert report.name("quality") is None
    assert not any("Source Quality" in line for line in report.problems())


def test_notion_dedupe_merges_acoustic_duplicates_into_the_kept_recording(tmp_path: Path) -> None:
    """Two SoundCloud ids of one recording (the catalog's duplicate_of): their pages become one,
    the kept recording's, even though the alias's page is older."""
    (tmp_path / "playlists.yaml").write_text("playlists: [{name: A, url: 'https://soundcloud.com/a/sets/b'}]\n")
    manifest = load_manifest(tmp_path / "playlists.yaml", env={})
    catalog = Catalog(tmp_path / "cache" / "catalog.sqlite")
    catalog.upsert_track("soundcloud 1", url="https://soundcloud.com/someone/reupload", duplicate_of="soundcloud 2")
    catalog.upsert_track("soundcloud 2", url="https://soundcloud.com/artist/original")
    catalog.upsert_track("soundcloud 3", url="https://soundcloud.com/artist/other")
    catalog.close()
    aliases = acoustic_aliases(manifest)
    assert aliases == {"https://soundcloud.com/someone/reupload": "https://soundcloud.com/artist/original"}
    with FakeNotion() as fake:
        alias = fake.seed_page({"Title": "Song (reupload)", "SoundCloud URL": "https://soundcloud.com/someone/reupload",
                                "Tempo": 124.0}, created_time="2026-01-01T10:00:00.000Z")
        kept = fake.seed_page({"Title": "Song", "SoundCloud URL": "https://soundcloud.com/artist/original"},
                              created_time="2026-01-02T10:00:00.000Z")
        other = fake.seed_page({"Title": "Other", "SoundCloud URL": "https://soundcloud.com/artist/other"})
        with NotionMirror(fake.config(), limiter=RateLimiter(2000.0, burst=50)) as m:
            assert m.dedupe(dry_run=True) == []  # by URL alone they are different tracks
            (group,) = m.dedupe(dry_run=False, aliases=aliases)
        assert group.keep == kept and group.trash == (alias,) and group.merged == ("Tempo",)
        assert {p["id"] for p in fake.live_pages()} == {kept, other}
        assert fake.value(kept, "Title") == "Song" and fake.value(kept, "Tempo") == 124.0

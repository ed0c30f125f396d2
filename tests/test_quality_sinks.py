"""The provenance label in the Notion mirror: found by its common names, written as text or select."""

from __future__ import annotations

from cratefile.sinks.notion.schema import DEFAULT_PROPERTIES, read_report
from cratefile.sinks.notion.values import NotionTrack, track_values


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

"""Pure parts of the Notion mirror: URL keys, text chunks, value coding, the property map."""

from __future__ import annotations

import dataclasses

import pytest

from cratefile.sinks.notion.schema import (
    DEFAULT_PROPERTIES,
    NotionSchemaError,
    property_map,
    read_report,
)
from cratefile.sinks.notion.values import (
    NotionTrack,
    changed,
    chunk_text,
    decode,
    encode,
    normalize_url,
    option_name,
    same,
    track_values,
)


@pytest.mark.parametrize(
    "url, key",
    [
        ("https://soundcloud.com/artist/track", "https://soundcloud.com/artist/track"),
        ("https://www.SoundCloud.com/artist/track/", "https://soundcloud.com/artist/track"),
        ("http://m.soundcloud.com/artist/track?si=abc&utm_source=x#t=30", "https://soundcloud.com/artist/track"),
        ("soundcloud.com/artist/track", "https://soundcloud.com/artist/track"),
        ("  https://soundcloud.com/Artist/Track  ", "https://soundcloud.com/Artist/Track"),
        ("https://example.com:8443/a/", "https://example.com:8443/a"),
        ("", ""),
    ],
)
def test_normalize_url(url: str, key: str) -> None:
    assert normalize_url(url) == key


def test_chunk_text_respects_utf16_units_and_item_cap() -> None:
    assert chunk_text("") == []
    assert chunk_text("abc") == ["abc"]
    pieces = chunk_text("x" * 4500)
    assert [len(p) for p in pieces] == [2000, 2000, 500]
    # An emoji is two UTF-16 units: 1999 'a' + emoji would be 2001 units -> the emoji moves on.
    text = "a" * 1999 + "\U0001F3B5" + "b"
    pieces = chunk_text(text)
    assert pieces == ["a" * 1999, "\U0001F3B5b"]
    assert "".join(pieces) == text
    huge = chunk_text("y" * 250_000)
    assert len(huge) == 100 and all(len(p) == 2000 for p in huge)


def test_encode_decode_round_trip() -> None:
    cases = [
        ("title", "Song"), ("rich_text", "x" * 2100), ("url", "https://a/b"), ("checkbox", True),
        ("number", 126.5), ("select", "Am"), ("status", "Done"), ("multi_select", ("built", "wav")),
    ]
    for typ, value in cases:
        body = encode(typ, value)
        # What Notion answers looks like what we sent, plus plain_text on text items.
        answer = dict(body)
        if typ in ("title", "rich_text"):
            answer = {typ: [{**i, "plain_text": i["text"]["content"]} for i in body[typ]]}
            assert all(len(i["text"]["content"]) <= 2000 for i in body[typ])
        if typ in ("select", "status"):
            answer = {typ: {"name": value, "id": "x", "color": "red"}}
        assert same(typ, decode({"type": typ, **answer}), value), typ
    assert encode("select", None) == {"select": None}
    assert encode("url", "") == {"url": None}
    assert decode(None) is None


def test_same_is_tolerant_where_notion_is() -> None:
    assert same("number", 126.0, 126.0000001)
    assert not same("number", 126.0, 126.01)
    assert not same("number", None, 1.0)
    assert same("multi_select", ("a", "b"), ("b", "a"))
    assert same("rich_text", "", None)


def test_option_names_lose_commas() -> None:
    assert option_name("Deep, Dark  House") == "Deep Dark House"
    assert len(option_name("z" * 300)) == 100


def _track(**kw: object) -> NotionTrack:
    track = NotionTrack(
        key="soundcloud 1", source_url="https://soundcloud.com/a/b", title="T", artist="A",
        downloaded=True, bpm=126.004, key_name="Am", duration=301.23456,
        paths=(("wav", "/lib/wav/A - T.wav"), ("aiff", "/lib/aiff/A - T.aiff")), eagle_id=None,
        status=("failed", "not_found"), playlists=("Peak, Time", "Warmup"), page_id=None,
    )
    return dataclasses.replace(track, **kw)  # type: ignore[arg-type]


def _report(types: dict[str, str], pairs: tuple[tuple[str, str], ...] = ()):  # type: ignore[no-untyped-def]
    ds = {"id": "ds", "properties": {n: {"type": t} for n, t in types.items()}}
    return read_report("db", ds, property_map(pairs))


def test_track_values_follow_the_property_types() -> None:
    types = {
        "Title": "title", "Artist Name": "rich_text", "SoundCloud URL": "url", "Downloaded": "checkbox",
        "Tempo": "number", "Key": "select", "Audio Duration (seconds)": "number",
        "WAV/AIFF/M4A File Path": "rich_text", "Eagle File ID": "rich_text",
        "Audio Processing Status": "select", "Playlists": "multi_select", "WAV": "rich_text",
    }
    report = _report(types, (("path.wav", "WAV"),))
    values = track_values(_track(), report)
    assert values["Tempo"] == ("number", 126.0)
    assert values["Audio Duration (seconds)"] == ("number", 301.235)
    assert values["Key"] == ("select", "Am")
    assert values["Audio Processing Status"] == ("select", "failed: not_found")
    assert values["Playlists"] == ("multi_select", ("Peak Time", "Warmup"))
    assert values["WAV/AIFF/M4A File Path"] == ("rich_text", "/lib/wav/A - T.wav\n/lib/aiff/A - T.aiff")
    assert values["WAV"] == ("rich_text", "/lib/wav/A - T.wav")
    assert values["Downloaded"] == ("checkbox", True)
    assert "Eagle File ID" not in values  # None = no opinion
    assert "Processing Lock" not in values


def test_changed_lists_only_differences() -> None:
    page = {"properties": {
        "Tempo": {"type": "number", "number": 126.0},
        "Key": {"type": "rich_text", "rich_text": [{"plain_text": "Am"}]},
    }}
    wanted = {"Tempo": ("number", 126.0), "Key": ("rich_text", "Bm")}
    assert changed(page, wanted) == {"Key": ("rich_text", "Bm")}


def test_property_map_defaults_overrides_and_unknown_fields() -> None:
    mapping = property_map((("bpm", "BPM"), ("playlists", "")))
    assert mapping["bpm"] == "BPM"
    assert "playlists" not in mapping  # switched off
    assert mapping["title"] == DEFAULT_PROPERTIES["title"]
    with pytest.raises(NotionSchemaError, match="'bpmm'"):
        property_map((("bpmm", "BPM"),))


def test_report_names_field_property_and_both_types() -> None:
    types = {"Title": "title", "Tempo": "rich_text"}
    problems = _report(types).problems()
    tempo = next(p for p in problems if ".bpm:" in p)
    assert "'Tempo'" in tempo and "rich_text" in tempo and "number" in tempo
    assert any("'Artist Name'" in p and "init-schema" in p for p in problems)
    assert not any(".lock:" in p for p in problems)  # the lock is optional


def test_a_search_matched_track_carries_its_spotify_or_discogs_page() -> None:
    from cratefile.sinks.notion.step import _listing_url

    entry = {"resolved": {"wanted": {"url": "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"}}}
    assert _listing_url(entry) == "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"
    assert _listing_url({}) is None and _listing_url({"resolved": {"wanted": {"url": "javascript:x"}}}) is None
    types = {"Title": "title", "SoundCloud URL": "url", "Spotify URL": "url"}
    report = read_report("db", {"id": "ds", "properties": {n: {"type": t} for n, t in types.items()}},
                         property_map(()), explicit=())  # 'Spotify URL' is found by its name
    values = track_values(_track(listing_url=_listing_url(entry)), report)
    assert values["Spotify URL"] == ("url", "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC")
    assert "Spotify URL" not in track_values(_track(), report)  # an ordinary track: no opinion

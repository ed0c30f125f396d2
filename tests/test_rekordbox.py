"""Rekordbox XML export: read back by pyrekordbox (a third-party reader) and the stdlib's
file-URL decoding, with awkward paths, playlist order, BPM/key, and stable TrackIDs."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path, PureWindowsPath

import pytest
from pyrekordbox.rbxml import RekordboxXml

from cratefile.sinks.rekordbox.xml import (
    RbPlaylist,
    RbTrack,
    decode_location,
    encode_location,
    kind_of,
    read_locations,
    render_rekordbox_xml,
    stable_track_id,
    stable_track_ids,
    write_rekordbox_xml,
)

AWKWARD_NAMES = [
    "Artist - Title (Original Mix).wav",
    "100% Pure #1 & more + extra.aiff",
    "Café del Mar — Été.m4a",
    "日本 の 曲.mp3",
    "Party 🎉 Time?.flac",
    "quote's \"double\" <tag>.wav",
]


def _tracks(folder: Path) -> list[RbTrack]:
    tracks = []
    for i, name in enumerate(AWKWARD_NAMES):
        path = folder / "Deep House" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * (100 + i))
        tracks.append(
            RbTrack(
                track_id=stable_track_id(f"soundcloud {1000 + i}", path.suffix[1:]),
                path=path,
                name=f"Title {i} é",
                artist="Ärtist & Co",
                album=None if i % 2 else "Album <1>",
                genre="Deep House",
                bpm=None if i == 5 else 120 + i + 0.456,
                first_beat=[0.25, 0.0, None, 0.0123, 1.5, None][i],  # 2: a BPM without a grid
                tonality=["Am", "F#m", "8A", "C", "Ebm", None][i],
                total_time=180 + i,
                size=path.stat().st_size,
                kind=kind_of(path),
                date_added="2026-11-01",
                comments="line one\nline two",
            )
        )
    return tracks


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, list[RbTrack], list[RbPlaylist]]:
    tracks = _tracks(tmp_path / "My Music")
    ids = [t.track_id for t in tracks]
    playlists = [
        RbPlaylist("Deep House", tuple(reversed(ids))),
        RbPlaylist("Warm-up & Chill 日本", (ids[3], ids[0], ids[4])),
        RbPlaylist("Empty", ()),
    ]
    dest = tmp_path / "out" / "rekordbox.xml"
    write_rekordbox_xml(dest, tracks, playlists, product_version="0.1.0")
    return dest, tracks, playlists


def test_pyrekordbox_reads_collection(exported: tuple[Path, list[RbTrack], list[RbPlaylist]]) -> None:
    dest, tracks, _ = exported
    xml = RekordboxXml(dest)
    assert xml.product_name == "cratefile"
    assert xml.frmt_version == "1.0.0"
    assert xml.num_tracks == len(tracks)
    by_id = {t.track_id: t for t in tracks}
    read = xml.get_tracks()
    assert [t["TrackID"] for t in read] == [t.track_id for t in tracks]
    for rb in read:
        ours = by_id[rb["TrackID"]]
        # pyrekordbox strips "file://localhost/" and keeps the rest, Windows style: on a POSIX
        # path the leading slash is the one Rekordbox drops.
        assert "/" + rb["Location"] == str(ours.path)
        assert rb["Name"] == ours.name
        assert rb["Artist"] == "Ärtist & Co"
        assert rb["Kind"] == ours.kind
        assert rb["TotalTime"] == ours.total_time
        assert rb["Size"] == ours.size
        assert rb["Comments"] == "line one\nline two"
        assert rb.get("Album") == ours.album
        assert rb.get("Tonality") == ours.tonality
        if ours.bpm is None:
            assert rb.get("AverageBpm") is None
            assert rb.tempos == []
        else:
            assert rb["AverageBpm"] == pytest.approx(round(ours.bpm, 2))
        if ours.bpm is None or ours.first_beat is None:
            assert rb.tempos == []
        else:
            assert len(rb.tempos) == 1
            assert rb.tempos[0].Bpm == pytest.approx(round(ours.bpm, 2))
            assert rb.tempos[0].Inizio == round(ours.first_beat, 3)  # the grid starts on the first beat
            assert rb.tempos[0].Metro == "4/4"
            assert rb.tempos[0].Battito == 1
        assert xml.get_track(TrackID=ours.track_id)["Name"] == ours.name


def test_pyrekordbox_reads_playlists_in_order(
    exported: tuple[Path, list[RbTrack], list[RbPlaylist]],
) -> None:
    dest, _, playlists = exported
    xml = RekordboxXml(dest)
    root = xml.get_playlist()
    assert root.name == "ROOT"
    assert root.is_folder
    nodes = root.get_playlists()
    assert [n.name for n in nodes] == [p.name for p in playlists]
    for node, ours in zip(nodes, playlists, strict=True):
        assert node.is_playlist
        assert node.key_type == "TrackID"
        assert node.entries == len(ours.track_ids)
        assert [int(k) for k in node.get_tracks()] == list(ours.track_ids)


def test_locations_round_trip_with_stdlib_file_url_decoding(
    exported: tuple[Path, list[RbTrack], list[RbPlaylist]],
) -> None:
    dest, tracks, _ = exported
    xml = RekordboxXml(dest)
    for rb, ours in zip(xml.get_tracks(), tracks, strict=False):
        url = rb._element.attrib["Location"]
        parsed = urllib.parse.urlsplit(url)
        assert (parsed.scheme, parsed.netloc) == ("file", "localhost")
        # A '#', '?' or '%' left raw would end up in the fragment/query or mis-decode here.
        assert parsed.query == "" and parsed.fragment == ""
        assert " " not in url and "#" not in url and "?" not in url
        assert urllib.request.url2pathname(parsed.path) == str(ours.path)
    assert read_locations(dest) == [t.path for t in tracks]


def test_encoding_matches_rekordbox_style() -> None:
    assert encode_location(Path("/Users/dj/Music/a b.wav")) == "file://localhost/Users/dj/Music/a%20b.wav"
    assert encode_location(PureWindowsPath(r"C:\Music\Demo Tracks\x.mp3")) == (
        "file://localhost/C:/Music/Demo%20Tracks/x.mp3"
    )
    assert encode_location(Path("/m/é.wav")) == "file://localhost/m/%C3%A9.wav"
    assert encode_location(Path("/m/50% #1 & a+b (mix).wav")) == (
        "file://localhost/m/50%25%20%231%20%26%20a%2Bb%20(mix).wav"
    )
    assert encode_location(Path("/m/🎉.wav")) == "file://localhost/m/%F0%9F%8E%89.wav"
    assert decode_location("file://localhost/C:/Music/x%20y.mp3") == Path("C:/Music/x y.mp3")
    assert decode_location("file:///tmp/a%20b.wav") == Path("/tmp/a b.wav")
    with pytest.raises(ValueError):
        encode_location(Path("relative/a.wav"))
    with pytest.raises(ValueError):
        decode_location("http://example.com/a.wav")


def test_undecodable_file_name_bytes_round_trip(tmp_path: Path) -> None:
    weird = Path("/music/" + b"caf\xe9.wav".decode("utf-8", "surrogateescape"))
    url = encode_location(weird)
    assert url == "file://localhost/music/caf%E9.wav"
    assert decode_location(url) == weird


def test_stable_ids() -> None:
    a = stable_track_id("soundcloud 123456", "wav")
    assert a == stable_track_id("soundcloud 123456", "wav")
    assert a != stable_track_id("soundcloud 123456", "aiff")
    assert a != stable_track_id("soundcloud 123457", "wav")
    values = [stable_track_id(f"soundcloud {i}", fmt) for i in range(2000) for fmt in ("wav", "aiff")]
    assert all(0 < v < 2**31 for v in values)
    assert len(set(values)) == len(values)
    # A known value pins the function: changing it would renumber every user's export.
    assert a == 1097657412


def test_stable_ids_resolve_collisions_deterministically() -> None:
    pairs = [(f"youtube {i}", "m4a") for i in range(300)]
    ids = stable_track_ids(pairs)
    assert len(set(ids.values())) == len(pairs)
    assert stable_track_ids(list(reversed(pairs))) == ids
    assert all(ids[p] == stable_track_id(*p) for p in pairs)  # no collision: plain hash


def test_rejects_inconsistent_input(tmp_path: Path) -> None:
    tracks = _tracks(tmp_path)
    dup = [tracks[0], RbTrack(**{**tracks[1].__dict__, "track_id": tracks[0].track_id})]
    with pytest.raises(ValueError, match="duplicate TrackID"):
        render_rekordbox_xml(dup, [], product_version="0")
    same_path = [tracks[0], RbTrack(**{**tracks[0].__dict__, "track_id": 7})]
    with pytest.raises(ValueError, match="duplicate Location"):
        render_rekordbox_xml(same_path, [], product_version="0")
    with pytest.raises(ValueError, match="not in the collection"):
        render_rekordbox_xml(tracks[:1], [RbPlaylist("x", (42,))], product_version="0")


def test_control_characters_are_dropped_and_write_is_atomic(tmp_path: Path) -> None:
    track = _tracks(tmp_path)[0]
    bad = RbTrack(**{**track.__dict__, "name": "bell\x07 and nul\x00"})
    dest = tmp_path / "rekordbox.xml"
    dest.write_text("old")
    write_rekordbox_xml(dest, [bad], [RbPlaylist("p", (bad.track_id,))], product_version="0")
    assert RekordboxXml(dest).get_tracks()[0]["Name"] == "bell and nul"
    assert dest.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DJ_PLAYLISTS')
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []
    # A failed render leaves the previous file untouched.
    with pytest.raises(ValueError):
        write_rekordbox_xml(dest, [bad, bad], [], product_version="0")
    assert RekordboxXml(dest).num_tracks == 1

"""The fast path (engine/fastpath.py): a clean library gets no per-track task, and each change
still rebuilds exactly what it must. Real builds of tiny generated workspaces."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from typing import Any

import pytest

from conftest import Workspace, make_track
from cratefile.tags import read_tags

MANIFEST = """
library: library
analysis:
  key_notation: {notation}
playlists:
  - name: {name}
    folder: music
    formats: {formats}
"""


def _setup(ws: Workspace, formats: str = "[wav, aiff]", name: str = "Crate", notation: str = "camelot") -> None:
    make_track(ws.music / "01 one.mp3", bpm=124, key="Am", title="One", artist="A", seconds=6)
    make_track(ws.music / "02 two.wav", bpm=100, key="C", seconds=6, seed=1)
    _manifest(ws, formats, name, notation)


def _manifest(ws: Workspace, formats: str = "[wav, aiff]", name: str = "Crate", notation: str = "camelot") -> None:
    ws.manifest(MANIFEST.format(formats=formats, name=name, notation=notation))


def _run(ws: Workspace, *args: str, rc: int = 0) -> list[str]:
    """Run cratefile; the tasks that ran, sorted, with track stems replaced by the track's number."""
    code, out, err = ws.run(*args)
    assert code == rc, out + err
    stems = {s: n for n, s in _stems(ws).items()}
    ran = []
    for line in out.splitlines():
        if line.startswith("done "):
            parts = line.split()[1].split(":")
            ran.append(":".join(stems.get(p, p) for p in parts))
    return sorted(ran)


def _stems(ws: Workspace) -> dict[str, str]:
    """'one'/'two' -> the stem of that track's key."""
    with closing(sqlite3.connect(ws.root / "cache" / "catalog.sqlite")) as conn:
        rows = conn.execute("SELECT key, url FROM tracks").fetchall()
    from cratefile.records import stem_of

    return {("one" if "01" in url else "two"): stem_of(key) for key, url in rows}


def _plan(ws: Workspace) -> dict[str, Any]:
    plan: dict[str, Any] = ws.report()["fast_path"]
    return plan


@pytest.fixture
def built(workspace: Workspace) -> Workspace:
    _setup(workspace)
    ran = _run(workspace)
    assert len([t for t in ran if t.startswith("convert:")]) == 4
    return workspace


def test_a_clean_library_gets_no_track_task(built: Workspace) -> None:
    assert _run(built) == []
    assert _plan(built) == {"tracks": 2, "planned": 0, "proven": 0, "retagged": 0}
    assert built.report()["playlists"][0]["up_to_date"] == 2


def test_a_touched_library_file_is_converted_again_alone(built: Workspace) -> None:
    wav = built.root / "library" / "wav" / "A - One.wav"
    st = wav.stat()
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _run(built) == ["convert:one:wav", "publish:crate"]
    assert _plan(built)["planned"] == 1
    assert _run(built) == []


def test_a_deleted_library_file_is_made_again_alone(built: Workspace) -> None:
    (built.root / "library" / "aiff" / "A - One.aiff").unlink()
    assert _run(built) == ["convert:one:aiff", "publish:crate"]
    assert (built.root / "library" / "aiff" / "A - One.aiff").is_file()


def test_a_replaced_source_file_is_read_analyzed_and_converted_again(built: Workspace) -> None:
    make_track(built.music / "02 two.wav", bpm=140, key="F#m", seconds=6, seed=5)
    ran = _run(built)
    assert "fetch:crate" in ran  # the folder's listing changed
    assert [t for t in ran if t != "fetch:crate"] == [
        "analyze:two", "convert:two:aiff", "convert:two:wav", "download:two", "publish:crate"]


def test_a_touched_source_file_is_checked_again(built: Workspace) -> None:
    src = built.music / "01 one.mp3"
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    ran = _run(built)
    # the same bytes under a new mtime: read again, so everything after it is made again
    assert [t for t in ran if t != "fetch:crate"] == [
        "analyze:one", "convert:one:aiff", "convert:one:wav", "download:one", "publish:crate"]


def test_a_changed_recipe_converts_only_that_format(built: Workspace) -> None:
    (built.root / "rules").mkdir()
    (built.root / "rules" / "formats.yaml").write_text(
        "formats:\n  aiff: {extension: aiff, codec: pcm_s16be, container: aiff, tagger: id3, sample_rate: 48000}\n")
    assert _run(built) == ["convert:one:aiff", "convert:two:aiff", "publish:crate"]
    assert _run(built) == []


def test_a_new_format_converts_only_that_format(built: Workspace) -> None:
    _manifest(built, formats="[wav, aiff, flac]")
    assert _run(built) == ["convert:one:flac", "convert:two:flac", "publish:crate"]
    assert _run(built) == []


def test_a_new_analysis_version_analyzes_again(built: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import cratefile.analysis

    monkeypatch.setattr(cratefile.analysis, "ALGO_VERSION", cratefile.analysis.ALGO_VERSION + "-next")
    ran = _run(built)
    assert ran == ["analyze:one", "analyze:two", "convert:one:aiff", "convert:one:wav",
                   "convert:two:aiff", "convert:two:wav", "publish:crate"]
    assert _run(built) == []


def test_an_edited_name_template_renames_every_file(built: Workspace) -> None:
    (built.root / "rules").mkdir()
    (built.root / "rules" / "naming.yaml").write_text('template: "{title} by {artist}"\n')
    ran = _run(built)
    assert ran == ["convert:one:aiff", "convert:one:wav", "convert:two:aiff", "convert:two:wav", "publish:crate"]
    assert _plan(built)["retagged"] == 4  # renamed: the files were copied under their new names and tagged
    assert sorted(p.name for p in (built.root / "library" / "wav").iterdir()) == [
        "02 two by Unknown Artist.wav", "One by A.wav"]
    assert _run(built) == []


def test_a_renamed_playlist_is_tagged_again_not_encoded(built: Workspace) -> None:
    wav = built.root / "library" / "wav" / "A - One.wav"
    linked = built.root / "library" / "playlists" / "Crate" / "wav" / wav.name
    _manifest(built, name="Renamed")
    ran = _run(built)
    assert [t for t in ran if t.startswith("convert:")] == [
        "convert:one:aiff", "convert:one:wav", "convert:two:aiff", "convert:two:wav"]
    assert _plan(built)["retagged"] == 4
    assert read_tags(wav)["grouping"] == "Renamed"
    assert read_tags(built.root / "library" / "playlists" / "Renamed" / "wav" / wav.name)["grouping"] == "Renamed"
    assert read_tags(linked)["grouping"] == "Crate"  # the old folder's link kept the file it had
    assert _run(built) == []


def test_a_new_key_notation_retags_without_analysis(built: Workspace) -> None:
    assert read_tags(built.root / "library" / "aiff" / "A - One.aiff")["key"] == "8A"
    _manifest(built, notation="openkey")
    ran = _run(built)
    assert [t for t in ran if not t.startswith("publish:")] == [
        "convert:one:aiff", "convert:one:wav", "convert:two:aiff", "convert:two:wav"]
    assert _plan(built)["retagged"] == 4
    assert read_tags(built.root / "library" / "aiff" / "A - One.aiff")["key"] == "1m"
    assert _run(built) == []


def test_a_second_playlist_listing_the_tracks_retags_them(built: Workspace) -> None:
    built.manifest(MANIFEST.format(formats="[wav, aiff]", name="Crate", notation="camelot")
                   + "  - {name: Other, folder: music, formats: [wav]}\n")
    ran = _run(built)
    assert [t for t in ran if t.startswith("convert:")] == [
        "convert:one:aiff", "convert:one:wav", "convert:two:aiff", "convert:two:wav"]
    assert _plan(built)["retagged"] == 4
    assert read_tags(built.root / "library" / "wav" / "A - One.wav")["grouping"] == "Crate, Other"


def test_a_changed_recipe_encodes_again(built: Workspace) -> None:
    (built.root / "rules").mkdir()
    (built.root / "rules" / "formats.yaml").write_text(
        "formats:\n  wav: {extension: wav, codec: pcm_s16le, container: wav, tagger: id3, sample_rate: 22050}\n")
    assert _run(built) == ["convert:one:wav", "convert:two:wav", "publish:crate"]
    assert _plan(built)["retagged"] == 0
    import wave

    with wave.open(str(built.root / "library" / "wav" / "A - One.wav")) as w:
        assert w.getframerate() == 22050


def test_a_lost_doit_db_rebuilds_no_track(built: Workspace) -> None:
    (built.root / "cache" / "doit.sqlite").unlink()
    assert [t for t in _run(built) if not t.startswith("publish:")] == []


def test_a_lost_catalog_is_refilled_and_rebuilds_nothing(built: Workspace) -> None:
    (built.root / "cache" / "catalog.sqlite").unlink()
    assert [t for t in _run(built) if not t.startswith("publish:")] == []
    assert _plan(built)["planned"] == 2  # planned in full while refilling, then proven
    assert _run(built) == []
    assert _plan(built)["planned"] == 0


def test_plain_doit_builds_are_proven_by_the_next_run(built: Workspace) -> None:
    # a run that did not prove what it built (plain doit does not): the next one proves it
    with closing(sqlite3.connect(built.root / "cache" / "catalog.sqlite")) as conn:
        conn.execute("DELETE FROM clean")
        conn.commit()
    assert _run(built) == []
    assert _plan(built) == {"tracks": 2, "planned": 0, "proven": 2, "retagged": 0}


def test_a_failed_track_is_retried_once_its_cool_off_ended(built: Workspace) -> None:
    broken = built.music / "03 broken.mp3"
    broken.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 500)
    ran = _run(built, rc=1)
    assert [t for t in ran if t.startswith("download:")] == []  # failed: not 'done'
    assert _run(built) == []  # held back: no task for it
    assert _plan(built)["planned"] == 0
    with closing(sqlite3.connect(built.root / "cache" / "catalog.sqlite")) as conn:
        conn.execute("UPDATE tracks SET failed_at = failed_at - 8 * 86400 WHERE status = 'failed'")
        conn.commit()
    _run(built, rc=1)  # tried again (and failing again), the others untouched
    plan = _plan(built)
    assert plan["planned"] == 1
    assert built.report()["playlists"][0]["failed"][0]["category"] == "unreadable"


def test_named_tasks_see_the_whole_graph(built: Workspace) -> None:
    rc, out, _ = built.run("list", "--all")
    assert rc == 0
    assert len([line for line in out.splitlines() if line.startswith("convert:")]) == 4
    stem = _stems(built)["one"]
    (built.root / "library" / "wav" / "A - One.wav").unlink()
    assert _run(built, f"convert:{stem}:wav") == ["convert:one:wav"]


def test_stamps_go_with_the_file_rows(built: Workspace) -> None:
    """A track's stamp is dropped when its file rows change behind the fast path's back."""
    db = built.root / "cache" / "catalog.sqlite"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM clean").fetchone() == (2,)
        conn.execute("UPDATE files SET inputs = 'other' WHERE path LIKE ?", ("%One.wav",))
        conn.commit()
        assert conn.execute("SELECT count(*) FROM clean").fetchone() == (1,)
    assert _run(built) == ["convert:one:wav", "publish:crate"]



def test_a_deleted_playlist_link_or_m3u8_is_made_again(built: Workspace) -> None:
    folder = built.root / "library" / "playlists" / "Crate"
    (folder / "wav" / "A - One.wav").unlink()
    assert _run(built) == ["publish:crate"]
    assert (folder / "wav" / "A - One.wav").is_file()
    (folder / "Crate (aiff).m3u8").unlink()
    assert _run(built) == ["publish:crate"]
    assert "A - One.aiff" in (folder / "Crate (aiff).m3u8").read_text(encoding="utf-8")
    assert _run(built) == []


def test_a_leftover_of_a_killed_run_goes_even_from_a_folder_found_clean(built: Workspace) -> None:
    wav = built.root / "library" / "wav"
    old = wav.stat().st_mtime_ns - 10 * 10**9
    os.utime(wav, ns=(old, old))  # changed long ago: listed once more, then remembered as clean
    assert _run(built) == []
    assert str(wav) in json.loads((built.root / "cache" / "swept.json").read_text())
    leftover = wav / ".A - One.3f2a9c.part.wav"
    leftover.write_bytes(b"half a file")
    assert _run(built) == []
    assert not leftover.exists()


def test_tracks_wanting_one_name_keep_their_names_when_clean(workspace: Workspace) -> None:
    make_track(workspace.music / "01 one.mp3", bpm=124, key="Am", title="Same", artist="A", seconds=6)
    make_track(workspace.music / "02 two.mp3", bpm=100, key="C", title="Same", artist="A", seconds=6, seed=1)
    _manifest(workspace, formats="[wav]")
    _run(workspace)
    names = sorted(p.name for p in (workspace.root / "library" / "wav").iterdir())
    assert len(names) == 2 and all(n.startswith("A - Same") for n in names)
    assert _run(workspace) == []
    assert _plan(workspace)["planned"] == 0
    assert sorted(p.name for p in (workspace.root / "library" / "wav").iterdir()) == names
    assert workspace.report()["playlists"][0]["up_to_date"] == 2


def test_a_snapshot_rewritten_at_once_is_read_again(tmp_path: Any) -> None:
    """A run reuses a snapshot's parse while the file holds the same bytes: a rewrite of the
    same size within one mtime tick is still seen."""
    from cratefile.records import Snapshot, TrackRef
    from cratefile.snapshots import read_snapshot, snapshot_and_meta, write_snapshot

    path = tmp_path / "p.json"
    write_snapshot(path, Snapshot("p", "x", 1.0, (TrackRef("local a", "file:///a", title="One"),)))
    assert read_snapshot(path).tracks[0].title == "One"  # type: ignore[union-attr]
    st = path.stat()
    write_snapshot(path, Snapshot("p", "x", 1.0, (TrackRef("local a", "file:///a", title="Two"),)))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    snap, meta = snapshot_and_meta(path)
    assert snap is not None and snap.tracks[0].title == "Two"
    assert meta["tracks"][0]["title"] == "Two"
    meta["tracks"] = []  # a caller's copy: the next reader still gets the file's
    assert snapshot_and_meta(path)[1]["tracks"][0]["title"] == "Two"


def test_a_republished_playlist_links_the_new_file_and_shows_new_tags(built: Workspace) -> None:
    """publish:<playlist> reuses what it knew of the other tracks (links by inode, M3U8 lines
    by their JSON files' signatures) and still follows each change."""
    wav = built.root / "library" / "wav" / "A - One.wav"
    link = built.root / "library" / "playlists" / "Crate" / "wav" / "A - One.wav"
    m3u8 = built.root / "library" / "playlists" / "Crate" / "Crate (wav).m3u8"
    assert os.path.samefile(wav, link)
    st = wav.stat()
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _run(built) == ["convert:one:wav", "publish:crate"]
    assert wav.stat().st_ino != st.st_ino and os.path.samefile(wav, link)  # made again: linked again
    assert (built.root / "cache" / "publish" / "crate.json").is_file()
    make_track(built.music / "01 one.mp3", bpm=124, key="Am", title="Uno", artist="A", seconds=6)
    _run(built)
    text = m3u8.read_text(encoding="utf-8")
    assert ",A - Uno\n" in text and ",A - One\n" not in text


def test_a_republished_format_rewrites_an_m3u8_edited_since(built: Workspace) -> None:
    """A format published again keeps its M3U8 only when that file is the one it wrote: one
    edited by hand (here: its lines reversed) is written again with the playlist's order."""
    folder = built.root / "library" / "playlists" / "Crate"
    m3u8 = folder / "Crate (aiff).m3u8"
    written = m3u8.read_text(encoding="utf-8")
    head, *lines = written.splitlines()
    pairs = [lines[i:i + 2] for i in range(0, len(lines), 2)]
    m3u8.write_text("\n".join([head, *[x for pair in reversed(pairs) for x in pair]]) + "\n", encoding="utf-8")
    aiff = built.root / "library" / "aiff" / "A - One.aiff"
    st = aiff.stat()
    os.utime(aiff, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert _run(built) == ["convert:one:aiff", "publish:crate"]
    assert m3u8.read_text(encoding="utf-8") == written
    assert os.path.samefile(folder / "aiff" / "A - One.aiff", aiff)


def test_status_table_counts_every_track_and_lists_only_what_it_shows(built: Workspace) -> None:
    """`cratefile status` (the table) counts as `status --json` does, without a line per built
    track; a deleted library file makes its track pending in both."""
    from cratefile.manifest import load_manifest
    from cratefile.status import collect

    manifest = load_manifest(built.root / "playlists.yaml")
    full, table = collect(manifest), collect(manifest, details=False)
    keep = ("total", "built", "failed", "pending", "aliases", "quality")
    assert [{k: p[k] for k in keep} for p in table["playlists"]] == [{k: p[k] for k in keep} for p in full["playlists"]]
    assert full["playlists"][0]["built"] == 2 and len(full["playlists"][0]["tracks"]) == 2
    assert table["playlists"][0]["tracks"] == []
    gone = next((built.root / "library" / "aiff").iterdir())
    gone.unlink()
    full, table = collect(manifest), collect(manifest, details=False)
    # the line it shows carries the whole row (title, bpm, files...), as --json has it
    assert table["playlists"][0]["tracks"] == [t for t in full["playlists"][0]["tracks"] if t["state"] == "pending"]
    assert table["playlists"][0]["tracks"][0]["title"]
    assert table["playlists"][0]["pending"] == full["playlists"][0]["pending"] == 1


def test_a_touched_file_republishes_its_format_alone(built: Workspace) -> None:
    """publish:<playlist> runs over the whole playlist, but a format whose entries and linked
    files are as they were last published is left as it is: its M3U8 is not written again. The
    touched format gets the new file linked, and keeps its M3U8 too: no line of it changed."""
    folder = built.root / "library" / "playlists" / "Crate"
    wav_m3u, aiff_m3u = folder / "Crate (wav).m3u8", folder / "Crate (aiff).m3u8"
    before = wav_m3u.stat().st_mtime_ns, aiff_m3u.stat().st_mtime_ns
    aiff = built.root / "library" / "aiff" / "A - One.aiff"
    st = aiff.stat()
    os.utime(aiff, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert _run(built) == ["convert:one:aiff", "publish:crate"]
    assert wav_m3u.stat().st_mtime_ns == before[0]
    assert aiff_m3u.stat().st_mtime_ns == before[1]
    linked = folder / "aiff" / "A - One.aiff"
    assert os.path.samefile(linked, aiff)  # the new file is linked, not the one it replaced
    assert _run(built) == []


def test_a_playlist_folder_is_trusted_unlisted_only_while_its_inode_and_fine_mtime_stay(tmp_path: Any) -> None:
    """publish.unchanged_since: the folder's (inode, mtime_ns) as recorded vouches for its links
    without a listing; an entry added or removed, or a file system whose mtimes are whole
    seconds (FAT: a change in the same second keeps the mtime), is listed instead."""
    from cratefile.sinks.playlists.publish import unchanged_since

    folder = tmp_path / "wav"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"x")
    fine = 1_796_000_000_123_456_789
    os.utime(folder, ns=(fine, fine))
    st = folder.stat()
    record = {"dir": [st.st_ino, st.st_mtime_ns]}
    assert unchanged_since(str(folder), record)
    assert not unchanged_since(str(folder), None) and not unchanged_since(str(folder), {})
    (folder / "a.wav").unlink()
    assert not unchanged_since(str(folder), record)
    coarse = 1_796_000_000_000_000_000
    os.utime(folder, ns=(coarse, coarse))
    assert not unchanged_since(str(folder), {"dir": [st.st_ino, coarse]})
    folder.rmdir()
    assert not unchanged_since(str(folder), record)

"""End-to-end builds of a folder playlist through the real CLI: real ffmpeg, librosa, mutagen, doit."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Workspace, make_track
from cratefile.tags import read_tags

MANIFEST = """
library: library
formats: [wav]
analysis:
  bpm_range: [88, 176]
  key_notation: camelot
playlists:
  - name: Crate One
    folder: music
    formats: {formats}
"""


def _setup(ws: Workspace, formats: str = "[wav, aiff]", n: int = 3) -> list[Path]:
    specs = [
        ("01 first.mp3", dict(bpm=124, key="Am", title="First Song", artist="Artist A")),
        ("02 second.flac", dict(bpm=100, key="C", title="Second Song", artist="Artist B", seed=1)),
        ("03 third.wav", dict(bpm=140, key="F#m", seed=2)),
    ][:n]
    tracks = [make_track(ws.music / name, **kw) for name, kw in specs]
    ws.manifest(MANIFEST.format(formats=formats))
    return tracks


def _executed(ws: Workspace) -> int:
    return ws.report()["tasks_executed"]


def test_first_build_makes_every_format_tagged_and_a_playlist(workspace: Workspace) -> None:
    _setup(workspace)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    lib = workspace.root / "library"
    wavs = sorted(p.name for p in (lib / "wav").iterdir())
    aiffs = sorted(p.name for p in (lib / "aiff").iterdir())
    assert wavs == ["Artist A - First Song.wav", "Artist B - Second Song.wav", "Unknown Artist - 03 third.wav"]
    assert len(aiffs) == 3
    tags = read_tags(lib / "aiff" / "Artist A - First Song.aiff")
    assert tags["title"] == "First Song" and tags["artist"] == "Artist A"
    assert tags["key"] == "8A"  # A minor in Camelot, as configured
    assert abs(float(tags["bpm"]) - 124) <= 1
    assert tags["grouping"] == "Crate One"
    m3u = (lib / "playlists" / "Crate One" / "Crate One (wav).m3u8").read_text().splitlines()
    entries = [line for line in m3u if not line.startswith("#")]
    assert entries == ["wav/Artist A - First Song.wav", "wav/Artist B - Second Song.wav",
                       "wav/Unknown Artist - 03 third.wav"]
    linked = lib / "playlists" / "Crate One" / "wav" / "Artist A - First Song.wav"
    assert linked.stat().st_ino == (lib / "wav" / "Artist A - First Song.wav").stat().st_ino
    report = workspace.report()
    (playlist,) = report["playlists"]
    assert (playlist["total"], playlist["built_now"], playlist["up_to_date"], playlist["failed"]) == (3, 3, 0, [])
    rows = workspace.catalog_rows("SELECT key, bpm, musical_key, status, bpm_alt FROM tracks ORDER BY key")
    assert len(rows) == 3 and all(r[3] == "built" for r in rows)
    assert {r[2] for r in rows} == {"Am", "C", "F#m"}
    # the other octave the analysis weighed is kept too
    assert all(r[4] is not None and min(abs(r[4] / r[1] - 2), abs(r[4] / r[1] - 0.5)) < 0.01 for r in rows)
    assert workspace.catalog_rows("SELECT count(*) FROM files")[0][0] == 6


def test_rerun_executes_nothing_and_new_work_is_only_the_new_work(workspace: Workspace) -> None:
    _setup(workspace, formats="[wav]")
    assert workspace.run()[0] == 0
    assert workspace.run()[0] == 0
    assert _executed(workspace) == 0
    assert workspace.report()["playlists"][0]["up_to_date"] == 3

    # a new format: three conversions and the playlist, nothing else
    workspace.manifest(MANIFEST.format(formats="[wav, mp3]"))
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1] for line in out.splitlines() if line.startswith("done ")]
    assert sorted(t.split(":")[0] for t in ran) == ["convert"] * 3 + ["publish"]
    assert all(t.endswith(":mp3") for t in ran if t.startswith("convert"))

    # a changed recipe: that format only
    (workspace.root / "rules").mkdir()
    (workspace.root / "rules" / "formats.yaml").write_text(
        "formats:\n  mp3: {extension: mp3, codec: libmp3lame, container: mp3, tagger: id3, bitrate: 192k}\n"
    )
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1] for line in out.splitlines() if line.startswith("done ")]
    converted = [t for t in ran if t.startswith("convert")]
    assert len(converted) == 3 and all(t.endswith(":mp3") for t in converted)

    # a new file in the folder: only its download, analysis and conversions
    make_track(workspace.music / "04 fourth.wav", bpm=128, key="G", seed=3)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1] for line in out.splitlines() if line.startswith("done ")]
    stems = {t.split(":")[1] for t in ran if not t.startswith(("publish", "fetch"))}
    assert len(stems) == 1
    assert sorted(t.split(":")[0] for t in ran if t.split(":")[0] in {"download", "analyze", "convert"}) == [
        "analyze", "convert", "convert", "download"]


def test_track_in_two_playlists_is_downloaded_once(workspace: Workspace) -> None:
    _setup(workspace, n=2)
    workspace.manifest("""
        formats: [wav]
        playlists:
          - name: One
            folder: music
          - name: Two
            folder: music
            formats: [wav, flac]
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1] for line in out.splitlines() if line.startswith("done ")]
    assert len([t for t in ran if t.startswith("download:")]) == 2
    assert len([t for t in ran if t.startswith("convert:")]) == 4  # 2 wav + 2 flac, each once
    lib = workspace.root / "library"
    assert len(list((lib / "wav").iterdir())) == 2
    for name in ("One", "Two"):
        assert len(list((lib / "playlists" / name / "wav").iterdir())) == 2
    tags = read_tags(next((lib / "flac").iterdir()))
    assert tags["grouping"] == "One, Two"


def test_a_bad_file_fails_alone_is_recorded_and_waits_for_its_cool_off(workspace: Workspace) -> None:
    _setup(workspace, n=2, formats="[wav]")
    (workspace.music / "05 broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 500)
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    (playlist,) = workspace.report()["playlists"]
    assert playlist["built_now"] == 2
    (failure,) = playlist["failed"]
    assert failure["category"] == "unreadable"
    assert failure["message"]
    rows = workspace.catalog_rows("SELECT status, error_category, attempts FROM tracks WHERE status = 'failed'")
    assert rows == [("failed", failure["category"], 1)]

    rc, out, err = workspace.run()  # permanent failure: not retried on every run
    assert rc == 0, out + err
    assert _executed(workspace) == 0
    assert len(workspace.report()["playlists"][0]["held_back"]) == 1

    rc, out, err = workspace.run("--retry-failed")
    assert rc == 1
    assert workspace.catalog_rows("SELECT attempts FROM tracks WHERE status = 'failed'") == [(2,)]

    rc, out, err = workspace.run("status")
    assert rc == 0 and re.search(r"Crate One\s+3\s+2\s+1\s+0", out), out


def test_status_json_lists_every_track(workspace: Workspace) -> None:
    import json

    _setup(workspace, n=2, formats="[wav]")
    workspace.run()
    rc, out, _ = workspace.run("status", "--json")
    assert rc == 0
    data = json.loads(out)
    (playlist,) = data["playlists"]
    assert [t["title"] for t in playlist["tracks"]] == ["First Song", "Second Song"]
    assert all(t["state"] == "built" and t["bpm"] for t in playlist["tracks"])


def test_bad_manifest_exits_2_and_writes_nothing(workspace: Workspace) -> None:
    workspace.manifest("""
        playlists:
          - name: X
            folder: music
            formats: [flac24]
    """)
    rc, out, err = workspace.run()
    assert rc == 2
    assert "playlists.yaml:5" in err and "flac24" in err
    assert not (workspace.root / "cache").exists() and not (workspace.root / "library").exists()


def test_second_run_in_the_same_workspace_is_refused(workspace: Workspace) -> None:
    from cratefile.engine.lock import WorkspaceLock

    _setup(workspace, n=1, formats="[wav]")
    with WorkspaceLock(workspace.root / "cache" / ".lock"):
        rc, out, err = workspace.run()
    assert rc == 75
    assert "another cratefile run" in err and "--wait" in err
    assert not (workspace.root / "library").exists()


def test_doit_commands_work_per_track(workspace: Workspace) -> None:
    _setup(workspace, n=2, formats="[wav]")
    workspace.run()
    rc, out, _ = workspace.run("list", "--all")
    assert rc == 0
    assert len([line for line in out.splitlines() if line.startswith("convert:")]) == 2
    lib = workspace.root / "library" / "wav"
    rc, out, err = workspace.run("clean", *[f"convert:{line.split()[0].split(':', 1)[1]}"
                                            for line in workspace.run("list", "--all")[1].splitlines()
                                            if line.startswith("convert:")][:1])
    assert rc == 0, out + err
    assert len(list(lib.iterdir())) == 1
    rc, out, err = workspace.run()
    assert rc == 0 and len(list(lib.iterdir())) == 2


def test_hostile_titles_give_safe_unique_names_inside_the_library(workspace: Workspace) -> None:
    hostile = [
        ("../../etc/passwd", "a/b"),
        ("CON", "NUL"),
        ("x" * 400, "Long"),
        ("Emoji 🎧🔥 Track", "Ünïcødé"),
        ("Same Name", "Twin"),
        ("same name", "twin"),
        ("..", ".."),
        ('What?<>:"|*', "Win\\dows"),
    ]
    for i, (title, artist) in enumerate(hostile):
        make_track(workspace.music / f"{i:02d}.mp3", title=title, artist=artist, seconds=4, seed=i)
    workspace.manifest("""
        playlists:
          - name: ../../Hostile/Playlist
            folder: music
            formats: [wav]
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    lib = (workspace.root / "library").resolve()
    files = [p for p in lib.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(lib) for p in files)
    wavs = sorted((lib / "wav").iterdir())
    assert len(wavs) == len(hostile)
    assert len({p.name.lower() for p in wavs}) == len(hostile)  # unique, even case-insensitively
    reserved = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
    for p in wavs:
        assert len(p.name.encode()) <= 160
        assert not set('<>:"|?*\\\0') & set(p.name)
        assert p.stem.split(".")[0].strip().lower() not in reserved
        assert not p.name.startswith(".")
    (playlist_dir,) = [p for p in (lib / "playlists").iterdir() if p.is_dir()]
    assert "/" not in playlist_dir.name and ".." not in playlist_dir.name.split(" ")
    assert len(list((playlist_dir / "wav").iterdir())) == len(hostile)


def test_rekordbox_export_loads_with_pyrekordbox(workspace: Workspace) -> None:
    from pyrekordbox.rbxml import RekordboxXml

    make_track(workspace.music / "01 é one.mp3", title="Café del Mar", artist="Zoë", bpm=120, key="Am")
    make_track(workspace.music / "02 two.mp3", title="Two Words", artist="B", bpm=126, key="G", seed=1)
    workspace.manifest("""
        analysis:
          bpm_range: [88, 176]
          key_notation: camelot
        playlists:
          - name: Späti Set
            folder: music
            formats: [aiff, wav]
    """)
    assert workspace.run()[0] == 0
    rc, out, err = workspace.run("export", "rekordbox", "-o", "out/rb.xml")
    assert rc == 0, out + err
    xml = RekordboxXml(str(workspace.root / "out" / "rb.xml"))
    tracks = xml.get_tracks()
    assert sorted(t["Name"] for t in tracks) == ["Café del Mar", "Two Words"]
    cafe = next(t for t in tracks if t["Name"] == "Café del Mar")
    assert abs(float(cafe["AverageBpm"]) - 120) < 0.5 and cafe["Tonality"] == "8A"
    assert cafe["Location"].endswith("Zoë - Café del Mar.aiff")
    order = [int(k) for k in xml.get_playlist("Späti Set").get_tracks()]
    by_id = {int(t["TrackID"]): t["Name"] for t in tracks}
    assert [by_id[i] for i in order] == ["Café del Mar", "Two Words"]  # playlist order, first format


def test_rekordbox_xml_as_a_build_target_follows_the_playlist(workspace: Workspace) -> None:
    from cratefile.sinks.rekordbox.xml import read_locations

    make_track(workspace.music / "01 a.mp3", title="A", artist="X", bpm=120, key="Am")
    workspace.manifest("""
        playlists:
          - name: Set
            folder: music
            formats: [aiff]
        rekordbox:
          path: exports/rekordbox.xml
    """)
    assert workspace.run()[0] == 0
    xml = workspace.root / "exports" / "rekordbox.xml"
    assert [p.name for p in read_locations(xml)] == ["X - A.aiff"]
    assert workspace.run()[0] == 0 and workspace.report()["tasks_executed"] == 0
    make_track(workspace.music / "02 b.mp3", title="B", artist="Y", bpm=126, key="C", seed=1)
    assert workspace.run()[0] == 0
    assert [p.name for p in read_locations(xml)] == ["X - A.aiff", "Y - B.aiff"]


def test_a_lost_catalog_is_refilled_without_rebuilding(workspace: Workspace) -> None:
    import json

    _setup(workspace, n=2, formats="[wav, aiff]")
    assert workspace.run()[0] == 0
    query = "SELECT key, title, bpm, bpm_alt, musical_key, status FROM tracks ORDER BY key"
    before = workspace.catalog_rows(query)
    for f in (workspace.root / "cache").glob("catalog.sqlite*"):
        f.unlink()
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert workspace.report()["tasks_executed"] == 0  # nothing rebuilt
    assert workspace.catalog_rows(query) == before
    assert workspace.catalog_rows("SELECT count(*) FROM files") == [(4,)]
    data = json.loads(workspace.run("status", "--json")[1])
    assert [t["state"] for t in data["playlists"][0]["tracks"]] == ["built", "built"]


def test_prune_removes_only_what_the_manifest_no_longer_asks_for(workspace: Workspace) -> None:
    _setup(workspace, n=3, formats="[wav, aiff]")
    assert workspace.run()[0] == 0
    lib = workspace.root / "library"
    (workspace.music / "03 third.wav").unlink()  # a track leaves the playlist
    workspace.manifest(MANIFEST.format(formats="[wav]"))  # and aiff is no longer wanted
    assert workspace.run()[0] == 0
    assert len(list((lib / "aiff").iterdir())) == 3  # a build never deletes what it did not replace

    rc, out, _ = workspace.run("prune", "--dry-run")
    # 3 aiff files, the dropped track's wav, the playlist's aiff folder and its aiff M3U8
    assert rc == 0 and "6 would be removed" in out
    assert len(list((lib / "aiff").iterdir())) == 3
    rc, out, _ = workspace.run("prune")
    assert rc == 0
    assert sorted(p.name for p in (lib / "wav").iterdir()) == ["Artist A - First Song.wav",
                                                               "Artist B - Second Song.wav"]
    assert list((lib / "aiff").iterdir()) == []
    playlist = lib / "playlists" / "Crate One"
    assert sorted(p.name for p in playlist.iterdir()) == ["Crate One (wav).m3u8", "wav"]
    assert workspace.catalog_rows("SELECT count(*) FROM files") == [(2,)]
    assert workspace.run()[0] == 0 and workspace.report()["tasks_executed"] == 0  # nothing to rebuild


def test_a_lost_doit_db_costs_a_check_not_a_rebuild(workspace: Workspace) -> None:
    _setup(workspace, n=2, formats="[wav, m4a]")
    assert workspace.run()[0] == 0
    lib = workspace.root / "library"
    stamps = {p: p.stat().st_mtime_ns for p in lib.glob("*/*") if p.is_file()}
    for f in (workspace.root / "cache").glob("doit.sqlite*"):
        f.unlink()
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1].split(":")[0] for line in out.splitlines() if line.startswith("done ")]
    assert not {"download", "analyze", "convert"} & set(ran), ran  # only the cheap playlist step may rerun
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # and a library file changed behind our back is rebuilt
    victim = next(p for p in stamps if p.parent.name == "wav")
    victim.write_bytes(b"not audio any more")
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert victim.stat().st_size > 1000


def test_one_task_can_be_asked_for_by_name(workspace: Workspace) -> None:
    _setup(workspace, n=2, formats="[wav]")
    assert workspace.run()[0] == 0
    target = workspace.root / "library" / "wav" / "Artist B - Second Song.wav"
    target.unlink()
    names = [line.split()[0] for line in workspace.run("list", "--all")[1].splitlines() if line.startswith("convert:")]
    (task,) = [n for n in names if "Second Song" in workspace.run("info", n)[1]]
    rc, out, err = workspace.run(task)
    assert rc == 0, out + err
    assert [line.split()[1] for line in out.splitlines() if line.startswith("done ")] == [task]
    assert target.exists()
    rc, out, err = workspace.run("no-such:task")
    assert rc == 2 and "no-such:task" in out + err


def test_a_first_build_converts_each_track_as_soon_as_it_is_analyzed(workspace: Workspace) -> None:
    """Files appear as tracks finish: the first library file is written before the last
    download of the run ends (doit alone would download every track before converting any)."""
    n = 8
    for i in range(n):
        make_track(workspace.music / f"{i:02d} t.wav", bpm=100 + 5 * i, seconds=4, title=f"Song {i}",
                   artist="Artist", seed=i)
    workspace.manifest(MANIFEST.format(formats="[wav]"))
    rc, out, err = workspace.run("-n", "2")
    assert rc == 0, out + err
    sidecars = sorted((workspace.root / "cache" / "audio").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    files = sorted((workspace.root / "library" / "wav").glob("*.wav"), key=lambda p: p.stat().st_mtime_ns)
    assert len(sidecars) == n and len(files) == n
    first_file = files[0].stat().st_mtime_ns
    downloaded_after = [p for p in sidecars if p.stat().st_mtime_ns > first_file]
    assert len(downloaded_after) >= n // 2, "downloads should not all come before the first conversion"


def test_tracks_named_as_they_finish_keep_their_names(workspace: Workspace) -> None:
    """Two new tracks that want one name: each gets its own, and a rerun keeps both (no rebuild)."""
    for i in range(2):
        make_track(workspace.music / f"{i} twin.wav", bpm=120 + 10 * i, seconds=4, title="Twin", artist="Same",
                   seed=i)
    workspace.manifest(MANIFEST.format(formats="[wav]"))
    rc, out, err = workspace.run("-n", "2")
    assert rc == 0, out + err
    names = sorted(p.name for p in (workspace.root / "library" / "wav").iterdir())
    assert len(names) == 2 and len({n.casefold() for n in names}) == 2
    assert all(n.startswith("Same - Twin") for n in names)
    m3u = (workspace.root / "library" / "playlists" / "Crate One" / "Crate One (wav).m3u8").read_text()
    assert sorted(line.removeprefix("wav/") for line in m3u.splitlines() if not line.startswith("#")) == names
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert _executed(workspace) == 0
    assert sorted(p.name for p in (workspace.root / "library" / "wav").iterdir()) == names

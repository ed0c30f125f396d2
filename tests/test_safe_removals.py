"""Safe removals, end to end through the CLI: prune moves files to library/.trash/<stamp>/ and
--restore brings them back; old trash is emptied; a track still listed is never removed; the
shrink guard keeps a playlist's previous list when a fetch lost too many tracks at once."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Workspace, make_track
from cratefile.manifest import load_manifest
from cratefile.records import PrunePolicy, SafetyPolicy

ONE = """
playlists:
  - name: Crate
    folder: music
    formats: {formats}
{extra}"""


def _tracks(ws: Workspace, n: int, folder: Path | None = None, first: int = 0) -> list[Path]:
    where = folder or ws.music
    return [make_track(where / f"{i:02d} Artist {i} - Title {i}.wav", bpm=120 + i, seconds=4.0, seed=i)
            for i in range(first, first + n)]


def _digests(root: Path) -> dict[str, str]:
    """Every file under root (the trash left out), by its path under root: its content's digest."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".trash" not in p.relative_to(root).parts}


def _trash(ws: Workspace) -> Path:
    return ws.root / "library" / ".trash"


def _snapshot(ws: Workspace, slug: str = "crate") -> list[str]:
    data = json.loads((ws.root / "cache" / "playlists" / f"{slug}.json").read_text())
    return [t["title"] for t in data["tracks"]]


def _published(ws: Workspace, name: str = "Crate") -> tuple[list[str], list[str]]:
    """(files in the playlist's wav folder, entries of its M3U8)."""
    base = ws.root / "library" / "playlists" / name
    m3u = (base / f"{name} (wav).m3u8").read_text().splitlines()
    return sorted(p.name for p in (base / "wav").iterdir()), [line for line in m3u if not line.startswith("#")]


def _wavs(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.root / "library" / "wav").iterdir())


# ---------------------------------------------------------------- the trash


def test_prune_moves_files_to_the_trash_and_restore_brings_every_one_back(workspace: Workspace) -> None:
    _tracks(workspace, 3)
    workspace.manifest(ONE.format(formats="[wav, aiff]", extra=""))
    assert workspace.run()[0] == 0
    lib = workspace.root / "library"
    before = _digests(lib)
    workspace.manifest(ONE.format(formats="[wav]", extra=""))  # aiff is no longer asked for
    assert workspace.run()[0] == 0

    rc, out, err = workspace.run("prune", "--dry-run")
    assert rc == 0 and "5 would be removed" in out, out + err  # 3 aiff files, the aiff folder and M3U8
    assert _digests(lib) == before and not _trash(workspace).exists()  # a dry run moves nothing

    rc, out, err = workspace.run("prune")
    assert rc == 0, out + err
    (stamp,) = [p.name for p in _trash(workspace).iterdir()]
    assert time.strptime(stamp, "%Y%m%dT%H%M%S")
    assert f"--restore {stamp}" in out
    gone = {rel for rel in before if rel.startswith("aiff/") or "(aiff)" in rel or "/aiff/" in rel}
    assert len(gone) == 3 + 3 + 1  # library/aiff/*, the playlist's aiff links, its M3U8
    assert set(_digests(lib)) == set(before) - gone
    assert not (lib / "playlists" / "Crate" / "aiff").exists()  # the emptied folder is removed
    trash = _trash(workspace) / stamp
    assert _digests(trash) == {rel: before[rel] for rel in gone} | {"manifest.json": _digests(trash)["manifest.json"]}
    record = json.loads((trash / "manifest.json").read_text())["files"]
    assert set(record) == gone
    first = record["aiff/Artist 0 - Title 0.aiff"]
    assert first["from"] == str(lib / "aiff" / "Artist 0 - Title 0.aiff")
    assert first["size"] == (trash / "aiff" / "Artist 0 - Title 0.aiff").stat().st_size
    assert first["mtime"] and "aiff" in first["why"]
    assert workspace.catalog_rows("SELECT count(*) FROM files WHERE format = 'aiff'") == [(0,)]

    # the trash is cratefile's own: a build neither rebuilds, publishes nor sweeps it; a prune leaves it
    assert workspace.run()[0] == 0 and workspace.report()["tasks_executed"] == 0
    rc, out, _ = workspace.run("prune")
    assert rc == 0 and "0 removed" in out
    assert _digests(trash) == {rel: before[rel] for rel in gone} | {"manifest.json": _digests(trash)["manifest.json"]}

    rc, out, _ = workspace.run("prune", "--list-trash")
    assert rc == 0 and f"{stamp}  7 files" in out

    workspace.manifest(ONE.format(formats="[wav, aiff]", extra=""))  # wanted again: restore, no rebuild
    rc, out, err = workspace.run("prune", "--restore", stamp)
    assert rc == 0 and "7 restored" in out, out + err
    assert _digests(lib) == before  # every file back, byte for byte
    assert not trash.exists()
    assert workspace.catalog_rows("SELECT count(*) FROM files WHERE format = 'aiff'") == [(3,)]
    rc, out, err = workspace.run()  # nothing converted again: only the playlist's aiff M3U8 is rewritten
    assert rc == 0, out + err
    assert [line.split()[1] for line in out.splitlines() if line.startswith("done ")] == ["publish:crate"]
    assert _digests(lib) == before

    rc, out, err = workspace.run("prune", "--restore", stamp)  # gone now
    assert rc == 2 and "no trash folder" in err


def test_restore_never_overwrites_a_file_that_is_back(workspace: Workspace) -> None:
    _tracks(workspace, 2)
    workspace.manifest(ONE.format(formats="[wav, aiff]", extra=""))
    assert workspace.run()[0] == 0
    workspace.manifest(ONE.format(formats="[wav]", extra=""))
    assert workspace.run("prune")[0] == 0
    (stamp,) = [p.name for p in _trash(workspace).iterdir()]
    squatter = workspace.root / "library" / "aiff" / "Artist 0 - Title 0.aiff"
    squatter.parent.mkdir(exist_ok=True)
    squatter.write_bytes(b"mine")
    rc, out, err = workspace.run("prune", "--restore", stamp, "--dry-run")  # a restore has no dry run
    assert rc == 2 and "--restore" in err
    assert not (workspace.root / "library" / "aiff" / "Artist 1 - Title 1.aiff").exists()
    rc, out, _ = workspace.run("prune", "--restore", stamp)
    assert rc == 1
    assert f"not restored {squatter}" in out and "1 left in the trash" in out
    assert squatter.read_bytes() == b"mine"
    assert (workspace.root / "library" / "aiff" / "Artist 1 - Title 1.aiff").stat().st_size > 1000
    assert (_trash(workspace) / stamp / "aiff" / "Artist 0 - Title 0.aiff").is_file()
    assert list(json.loads((_trash(workspace) / stamp / "manifest.json").read_text())["files"]) == [
        "aiff/Artist 0 - Title 0.aiff"]


def test_trash_older_than_keep_trash_is_emptied_at_the_next_prune(workspace: Workspace) -> None:
    _tracks(workspace, 1)
    workspace.manifest(ONE.format(formats="[wav]", extra="prune: {keep_trash: 2d}\n"))
    assert load_manifest(workspace.root / "playlists.yaml").prune == PrunePolicy(keep_trash_seconds=2 * 86400)
    assert workspace.run()[0] == 0
    trash = _trash(workspace)
    stamps = {name: time.strftime("%Y%m%dT%H%M%S", time.localtime(time.time() - age))
              for name, age in (("old", 3 * 86400), ("recent", 1 * 86400))}
    for stamp in stamps.values():
        (trash / stamp / "wav").mkdir(parents=True)
        (trash / stamp / "wav" / "x.wav").write_bytes(b"x")
    (trash / "not-a-stamp").mkdir()  # not one of ours: left alone

    rc, out, _ = workspace.run("prune", "--dry-run")
    assert rc == 0 and f"would empty trash {stamps['old']}" in out
    assert (trash / stamps["old"]).is_dir()
    rc, out, _ = workspace.run("prune")
    assert rc == 0 and f"emptied trash {stamps['old']}" in out
    assert sorted(p.name for p in trash.iterdir()) == sorted([stamps["recent"], "not-a-stamp"])
    assert _wavs(workspace) == ["Artist 0 - Title 0.wav"]

    workspace.manifest(ONE.format(formats="[wav]", extra=""))  # the default keeps 30 days
    (trash / "20000101T000000" / "wav").mkdir(parents=True)
    assert workspace.run("prune")[0] == 0
    assert sorted(p.name for p in trash.iterdir()) == sorted([stamps["recent"], "not-a-stamp"])


def test_a_track_still_listed_by_another_playlist_is_never_removed(workspace: Workspace) -> None:
    _tracks(workspace, 2)
    _tracks(workspace, 2, folder=workspace.music / "shared", first=2)
    workspace.manifest("""
        playlists:
          - {name: All, folder: music, formats: [wav]}
          - {name: Shared, folder: music/shared, formats: [wav]}
    """)
    assert workspace.run()[0] == 0
    assert len(_wavs(workspace)) == 4
    workspace.manifest("""
        playlists:
          - {name: Shared, folder: music/shared, formats: [wav]}
    """)
    # the sidecars are gone too (a cleaned cache): the catalog still ties the files to listed tracks
    for sidecar in (workspace.root / "cache" / "audio").glob("*.json"):
        sidecar.unlink()
    rc, out, err = workspace.run("prune")
    assert rc == 0, out + err
    assert _wavs(workspace) == ["Artist 2 - Title 2.wav", "Artist 3 - Title 3.wav"]
    (stamp,) = [p.name for p in _trash(workspace).iterdir()]
    moved = json.loads((_trash(workspace) / stamp / "manifest.json").read_text())["files"]
    assert sorted(k for k in moved if k.startswith("wav/")) == ["wav/Artist 0 - Title 0.wav",
                                                                "wav/Artist 1 - Title 1.wav"]
    assert moved["wav/Artist 0 - Title 0.wav"]["why"] == "its track is no longer listed by any playlist"
    assert not (workspace.root / "library" / "playlists" / "All").exists()  # its playlist folder went too


@pytest.mark.slow
def test_prune_across_volumes_moves_each_file_whole(workspace: Workspace) -> None:
    _tracks(workspace, 2)
    workspace.manifest(ONE.format(formats="[wav, aiff]", extra=""))
    assert workspace.run()[0] == 0
    lib = workspace.root / "library"
    before = _digests(lib)
    trash = _trash(workspace)
    trash.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(trash)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        workspace.manifest(ONE.format(formats="[wav]", extra=""))
        rc, out, err = workspace.run("prune")
        assert rc == 0, out + err
        (stamp,) = [p.name for p in trash.iterdir()]
        assert not (lib / "aiff").exists() or list((lib / "aiff").iterdir()) == []
        assert not [p for p in (trash / stamp).rglob("*") if ".part" in p.name]
        rc, out, err = workspace.run("prune", "--restore", stamp)
        assert rc == 0, out + err
        assert _digests(lib) == before
    finally:
        subprocess.run(["umount", "-l", str(trash)], capture_output=True)


# ---------------------------------------------------------------- the shrink guard


def test_a_playlist_that_loses_too_many_tracks_at_once_keeps_its_files(workspace: Workspace) -> None:
    files = _tracks(workspace, 9)
    workspace.manifest(ONE.format(formats="[wav]", extra=""))
    assert workspace.run()[0] == 0

    # one track leaving (1 of 9) is an edit, not a disappearance
    files[8].unlink()
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert len(_snapshot(workspace)) == 8
    rc, out, err = workspace.run("prune")
    assert rc == 0 and "1 removed" in out and "Artist 8 - Title 8.wav" in out, out + err
    first_prune = {p.name for p in _trash(workspace).iterdir()}

    # half the set gone at once (a set gone private): the previous list stands
    elsewhere = workspace.root / "private"
    elsewhere.mkdir()
    for f in files[4:8]:
        shutil.move(f, elsewhere / f.name)
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    (playlist,) = workspace.report()["playlists"]
    assert "playlist 'Crate' lost 4 of 8 tracks at once" in playlist["fetch_error"]
    assert "--accept-shrink" in playlist["fetch_error"] and "--accept-shrink" in out
    assert playlist["total"] == 8  # the 4 gone files also fail their download (they are gone): not their library files
    assert playlist["up_to_date"] == 4 and {f["category"] for f in playlist["failed"]} == {"not_found"}
    assert _snapshot(workspace) == [f"Title {i}" for i in range(8)]
    rejected = json.loads((workspace.root / "cache" / "playlists" / "crate.rejected.json").read_text())
    assert [t["title"] for t in rejected["tracks"]] == [f"Title {i}" for i in range(4)]
    links, entries = _published(workspace)
    assert len(links) == 8 and len(entries) == 8  # still published
    rc, out, err = workspace.run("prune")
    assert rc == 0 and "0 removed" in out, out + err
    assert len(_wavs(workspace)) == 8  # and not pruned

    rc, out, err = workspace.run()  # the source is asked again, and the guard holds until accepted
    assert rc == 1 and "lost 4 of 8" in workspace.report()["playlists"][0]["fetch_error"]

    rc, out, err = workspace.run("--accept-shrink")
    assert rc == 0, out + err
    assert "fetch_error" not in workspace.report()["playlists"][0]
    assert any("--accept-shrink" in n for n in workspace.report()["notes"])
    assert _snapshot(workspace) == [f"Title {i}" for i in range(4)]
    assert not (workspace.root / "cache" / "playlists" / "crate.rejected.json").exists()
    assert [len(x) for x in _published(workspace)] == [4, 4]
    rc, out, err = workspace.run("prune")
    assert rc == 0 and "4 removed" in out, out + err
    assert _wavs(workspace) == [f"Artist {i} - Title {i}.wav" for i in range(4)]
    (stamp,) = {p.name for p in _trash(workspace).iterdir()} - first_prune
    assert sorted(p.name for p in (_trash(workspace) / stamp / "wav").iterdir()) == [
        f"Artist {i} - Title {i}.wav" for i in range(4, 8)]
    assert workspace.run()[0] == 0  # the smaller list is the list now


def test_an_emptied_source_is_held_back(workspace: Workspace) -> None:
    files = _tracks(workspace, 2)
    workspace.manifest(ONE.format(formats="[wav]", extra=""))
    assert workspace.run()[0] == 0
    for f in files:
        f.unlink()
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    assert "came back empty (it had 2 tracks" in workspace.report()["playlists"][0]["fetch_error"]
    assert len(_snapshot(workspace)) == 2
    assert workspace.run("prune")[0] == 0
    assert len(_wavs(workspace)) == 2 and [len(x) for x in _published(workspace)] == [2, 2]

    _tracks(workspace, 2)  # the source answers again: the list is taken, the guard lets go
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert not (workspace.root / "cache" / "playlists" / "crate.rejected.json").exists()


def test_shrink_guard_is_set_per_manifest_and_per_playlist(workspace: Workspace) -> None:
    files = _tracks(workspace, 4)
    workspace.manifest("""
        safety: {shrink_guard: 0.1}
        playlists:
          - {name: Crate, folder: music, formats: [wav], shrink_guard: 0.6}
          - {name: Other, folder: music, formats: [wav]}
    """)
    m = load_manifest(workspace.root / "playlists.yaml")
    assert m.safety == SafetyPolicy(shrink_guard=0.1)
    assert [p.shrink_guard for p in m.playlists] == [0.6, 0.1]
    assert workspace.run()[0] == 0
    files[0].unlink()
    files[1].unlink()  # 2 of 4: within Crate's 60 %, more than Other's 10 %
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    errors = {p["name"]: p.get("fetch_error") for p in workspace.report()["playlists"]}
    assert errors["Crate"] is None and "lost 2 of 4 tracks at once (more than 10%" in (errors["Other"] or "")
    assert len(_snapshot(workspace, "crate")) == 2 and len(_snapshot(workspace, "other")) == 4
    assert workspace.run("prune")[0] == 0
    assert len(_wavs(workspace)) == 4  # Other still lists all four

    workspace.manifest("""
        playlists:
          - {name: Crate, folder: music, shrink_guard: 1.5}
    """)
    rc, _, err = workspace.run()
    assert rc == 2 and "shrink_guard" in err


def test_first_fetch_and_a_new_source_are_never_held_back(workspace: Workspace) -> None:
    _tracks(workspace, 3)
    other = workspace.root / "other"
    _tracks(workspace, 1, folder=other)
    workspace.manifest(ONE.format(formats="[wav]", extra=""))
    assert workspace.run()[0] == 0
    workspace.manifest("""
        playlists:
          - {name: Crate, folder: other, formats: [wav]}
    """)
    rc, out, err = workspace.run()  # 3 -> 1, but a different folder: the user's edit
    assert rc == 0, out + err
    assert _snapshot(workspace) == ["Title 0"] and len(_published(workspace)[0]) == 1

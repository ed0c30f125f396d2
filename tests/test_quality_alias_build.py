"""Aliases through whole builds (the real CLI, ffmpeg, chromaprint, doit; a fake Eagle on
127.0.0.1): a rip of a master published in its place, its own file pruned, and back to a
track of its own when the master leaves; from_lossy warn -> skip -> warn on built files."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import Workspace, make_track
from cratefile.proc import ffmpeg_exe, run
from fakes.eagle import FakeEagle

pytestmark = pytest.mark.slow

RIPS = """
  - name: Rips
    folder: music/rips
    formats: [mp3]
"""
MASTERS = """
  - name: Masters
    folder: music/masters
    formats: [wav]
"""


def _manifest(ws: Workspace, playlists: str, eagle: str) -> None:
    ws.manifest(f"library: library\nplaylists:\n{playlists}\neagle:\n  api_url: {eagle}\n  formats: [wav, mp3]\n"
                "rekordbox: {}\n")


def _status(ws: Workspace) -> dict[str, dict]:
    rc, out, err = ws.run("status", "--json")
    assert rc == 0, out + err
    return {p["slug"]: p for p in json.loads(out)["playlists"]}


def _linked(ws: Workspace, playlist: str, fmt: str) -> list[Path]:
    folder = ws.root / "library" / "playlists" / playlist / fmt
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _m3u(ws: Workspace, playlist: str, fmt: str) -> list[str]:
    (m3u,) = (ws.root / "library" / "playlists" / playlist).glob(f"* ({fmt}).m3u8")
    text = m3u.read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_a_rip_of_a_master_publishes_the_master_and_its_own_file_goes_by_prune(workspace: Workspace,
                                                                               tmp_path: Path) -> None:
    ws = workspace
    make_track(ws.music / "rips" / "b copy.mp3", title="Master (rip)", artist="A", seed=1)
    make_track(ws.music / "rips" / "c other.mp3", title="Other", artist="C", seed=5)
    with FakeEagle(tmp_path / "Music.library") as eagle:
        _manifest(ws, RIPS, eagle.url)
        rc, out, err = ws.run()
        assert rc == 0, out + err
        (rip_mp3, other_mp3) = sorted((ws.root / "library" / "mp3").iterdir())
        assert rip_mp3.name == "A - Master (rip).mp3"

        # the master arrives in another playlist: the same recording, lossless, so it is kept; the
        # rip was built before anyone knew
        make_track(ws.music / "masters" / "a master.wav", title="Master", artist="A", seed=1)
        _manifest(ws, MASTERS + RIPS, eagle.url)
        rc, out, err = ws.run()
        assert rc == 0, out + err
        keys = dict(ws.catalog_rows("SELECT title, key FROM tracks"))
        master, rip = keys["Master"], keys["Master (rip)"]
        assert ws.catalog_rows(f"SELECT duplicate_of FROM tracks WHERE key = '{rip}'") == [(master,)]
        assert rip_mp3.exists()  # never deleted by a build

        # from now on the master is claimed by both playlists: built as mp3 too, and the rip's
        # position in Rips publishes it
        rc, out, err = ws.run()
        assert rc == 0, out + err
        master_mp3 = ws.root / "library" / "mp3" / "A - Master.mp3"
        assert master_mp3.exists() and rip_mp3.exists()
        linked = _linked(ws, "Rips", "mp3")
        assert len(linked) == 2 and any(os.path.samefile(p, master_mp3) for p in linked)
        assert not any(os.path.samefile(p, rip_mp3) for p in linked)
        assert _m3u(ws, "Rips", "mp3") == ["mp3/A - Master.mp3", "mp3/C - Other.mp3"]  # at the rip's position
        report = {p["slug"]: p for p in ws.report()["playlists"]}
        assert report["rips"]["aliases"] == 1 and report["rips"]["pending"] == 0 and report["rips"]["failed"] == []
        assert report["masters"]["aliases"] == 0
        status = _status(ws)
        rips = {t["key"]: t for t in status["rips"]["tracks"]}
        assert rips[rip]["alias_of"] == master and rips[rip]["state"] == "built"
        master_wav = ws.root / "library" / "wav" / "A - Master.wav"
        assert rips[rip]["files"] == {"mp3": str(master_mp3), "wav": str(master_wav)}
        assert status["rips"]["aliases"] == 1 and status["rips"]["pending"] == 0
        # Rekordbox: the Rips playlist's entry is the master's file
        root = ET.parse(ws.root / "library" / "rekordbox.xml").getroot()
        locations = {t.get("TrackID"): t.get("Location") for t in root.iter("TRACK") if t.get("Location")}
        rips_node = next(n for n in root.iter("NODE") if n.get("Name") == "Rips")
        entries = [locations[t.get("Key")] for t in rips_node.iter("TRACK")]
        assert len(entries) == 2 and entries[0].endswith("A%20-%20Master.mp3"), entries
        # Eagle: the master's items are in both playlist folders, the rip has none of its own
        rips_folder, masters_folder = eagle.folder_id("Playlists/Rips"), eagle.folder_id("Playlists/Masters")
        master_items = [i for i in eagle.live_items() if i["name"] == "A - Master"]
        assert sorted(i["ext"] for i in master_items) == ["mp3", "wav"]
        mp3_item = next(i for i in master_items if i["ext"] == "mp3")
        assert rips_folder in mp3_item["folders"]
        assert masters_folder in next(i for i in master_items if i["ext"] == "wav")["folders"]

        # a rerun does nothing
        assert ws.run()[0] == 0 and ws.report()["tasks_executed"] == 0

        # prune: the rip's own file goes to the trash, saying why; the master's stay
        rc, out, err = ws.run("prune")
        assert rc == 0, out + err
        assert not rip_mp3.exists() and master_mp3.exists() and other_mp3.exists()
        (trash,) = (ws.root / "library" / ".trash").iterdir()
        moved = json.loads((trash / "manifest.json").read_text())["files"]
        assert "same recording as" in moved["mp3/A - Master (rip).mp3"]["why"]
        assert ws.run()[0] == 0 and ws.report()["tasks_executed"] == 0  # pruning the alias costs no rebuild

        # the master leaves: the rip is a track of its own again and gets its own file back
        _manifest(ws, RIPS, eagle.url)
        rc, out, err = ws.run()
        assert rc == 0, out + err
        assert rip_mp3.exists()
        assert _m3u(ws, "Rips", "mp3") == ["mp3/A - Master (rip).mp3", "mp3/C - Other.mp3"]
        status = _status(ws)
        rips = {t["key"]: t for t in status["rips"]["tracks"]}
        assert rips[rip]["alias_of"] is None and rips[rip]["duplicate_of"] == master
        assert ws.report()["playlists"][0]["aliases"] == 0


def test_from_lossy_is_an_input_of_built_files(workspace: Workspace) -> None:
    """warn -> skip: the lossless file of a lossy source is no longer wanted (not published,
    pruned); skip -> warn builds it again."""
    ws = workspace
    make_track(ws.music / ".b.mp3", seed=5)
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(ws.music / ".b.mp3"),
         str(ws.music / "U - fake.wav")])  # a WAV made from a 128k MP3
    os.unlink(ws.music / ".b.mp3")
    make_track(ws.music / "U - true.wav", seed=2)
    manifest = "library: library\n{top}\nplaylists:\n  - {{name: Crate, folder: music, formats: [wav, mp3]}}\n"
    ws.manifest(manifest.format(top=""))
    assert ws.run()[0] == 0
    wav_dir = ws.root / "library" / "wav"
    assert sorted(p.name for p in wav_dir.iterdir()) == ["U - fake.wav", "U - true.wav"]
    assert _m3u(ws, "Crate", "wav") == ["wav/U - fake.wav", "wav/U - true.wav"]

    ws.manifest(manifest.format(top="from_lossy: {wav: skip}"))
    rc, out, err = ws.run()
    assert rc == 0, out + err
    assert _m3u(ws, "Crate", "wav") == ["wav/U - true.wav"]  # not published any more
    assert [p.name for p in _linked(ws, "Crate", "wav")] == ["U - true.wav"]
    assert _m3u(ws, "Crate", "mp3") == ["mp3/U - fake.mp3", "mp3/U - true.mp3"]
    (crate,) = _status(ws).values()
    fake = next(t for t in crate["tracks"] if t["title"] == "fake")
    assert fake["state"] == "built" and set(fake["skipped"]) == {"wav"}
    assert ws.report()["playlists"][0]["pending"] == 0
    rc, out, err = ws.run("prune")
    assert rc == 0, out + err
    assert sorted(p.name for p in wav_dir.iterdir()) == ["U - true.wav"]
    (trash,) = (ws.root / "library" / ".trash").iterdir()
    moved = json.loads((trash / "manifest.json").read_text())["files"]
    assert "from_lossy: skip" in moved["wav/U - fake.wav"]["why"]

    ws.manifest(manifest.format(top="from_lossy: {wav: warn}"))
    rc, out, err = ws.run()
    assert rc == 0, out + err
    assert sorted(p.name for p in wav_dir.iterdir()) == ["U - fake.wav", "U - true.wav"]
    assert _m3u(ws, "Crate", "wav") == ["wav/U - fake.wav", "wav/U - true.wav"]

"""Provenance and duplicates through a whole build (the real CLI, ffmpeg, mutagen, doit): each
download measured once, the facts in the catalog, `status --json`, the files' tags, and the
report; `from_lossy` warn and skip for a lossless target."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import Workspace, make_track
from cratefile.layout import Layout
from cratefile.proc import ffmpeg_exe, run
from cratefile.quality.record import record_path
from cratefile.tags import read_quality

MANIFEST = """
library: library
{top}
playlists:
  - name: Crate
    folder: music
    formats: [wav, mp3]
{own}
"""

pytestmark = pytest.mark.slow


def _setup(ws: Workspace, top: str = "", own: str = "") -> None:
    make_track(ws.music / "a master.wav", title="Master", artist="A", seed=1)
    make_track(ws.music / "b copy.mp3", title="Master (rip)", artist="A", seed=1)  # the same recording as a
    make_track(ws.music / ".b.mp3", seed=5)
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(ws.music / ".b.mp3"),
         str(ws.music / "c fake.wav")])  # a WAV made from a 128k MP3
    os.unlink(ws.music / ".b.mp3")
    ws.manifest(MANIFEST.format(top=top, own=own))


def _status(ws: Workspace) -> dict[str, dict]:
    rc, out, err = ws.run("status", "--json")
    assert rc == 0, out + err
    (playlist,) = json.loads(out)["playlists"]
    return {t["title"]: t for t in playlist["tracks"]} | {"": playlist}


def test_provenance_and_duplicates_reach_catalog_status_tags_and_report(workspace: Workspace) -> None:
    _setup(workspace)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    tracks = _status(workspace)
    assert tracks["Master"]["quality"]["verdict"] == "lossless"
    assert tracks["Master"]["quality"]["bit_depth"] == 16
    assert tracks["Master (rip)"]["quality"]["label"].startswith("lossy mp3 ~")
    fake = next(t for t in tracks.values() if t.get("title") and t["title"].startswith("c fake"))
    assert fake["quality"]["verdict"] == "upscaled" and fake["quality"]["label"].startswith("upscaled from ~128k")
    assert tracks[""]["quality"] == {"lossless": 1, "lossy": 1, "upscaled": 1}
    # the rip is the same recording as the master, which is kept as the better source
    master_key = tracks["Master"]["key"]
    assert tracks["Master (rip)"]["duplicate_of"] == master_key and tracks["Master"]["duplicate_of"] is None
    assert fake["duplicate_of"] is None
    # the tag of every format carries the label; warn (the default) builds and flags
    for fmt, ext in (("wav", "wav"), ("mp3", "mp3")):
        assert read_quality(Path(fake["files"][fmt])) == fake["quality"]["label"], ext
    notes = workspace.report()["notes"]
    assert any("duplicates:" in n and master_key in n for n in notes), notes
    # the rip is an alias of the master: its position publishes the master's files (it was built
    # as wav only if it was converted before the master's download found the pair)
    assert tracks["Master (rip)"]["alias_of"] == master_key and tracks["Master (rip)"]["state"] == "built"
    assert set(tracks["Master (rip)"]["files"]) == {"wav", "mp3"}
    assert all(os.path.basename(p).startswith("A - Master.") for p in tracks["Master (rip)"]["files"].values())
    warned = {(w["key"], w["format"]) for w in workspace.report()["quality"]["from_lossy_warn"]}
    assert (fake["key"], "wav") in warned and warned <= {(fake["key"], "wav"), (tracks["Master (rip)"]["key"], "wav")}
    assert not any("from_lossy" in n for n in notes)  # one line per file in the report, not a note each
    row = workspace.catalog_rows(f"SELECT quality_verdict, src_codec, src_sample_rate, src_channels FROM tracks "
                                 f"WHERE key = '{master_key}'")
    assert row == [("lossless", "pcm_s16le", 44100, 2)]
    _, table, _ = workspace.run("status")
    assert "same recording as" in table and "upscaled from ~128k" in table
    # Rekordbox shows the label in its Comments column
    rc, out, err = workspace.run("export", "rekordbox", "-o", str(workspace.root / "rb.xml"))
    assert rc == 0, out + err
    comments = {t.get("Name"): t.get("Comments") for t in ET.parse(workspace.root / "rb.xml").iter("TRACK")
                if t.get("Location")}
    assert comments["Master"] == "lossless" and comments[fake["title"]] == fake["quality"]["label"]
    rc, out, err = workspace.run("check")
    assert rc == 0 and "ok    fingerprints: ffmpeg has the chromaprint muxer" in out, out + err

    # measured once: a rerun does nothing, and a lost record is measured again without a rebuild
    assert workspace.run()[0] == 0 and workspace.report()["tasks_executed"] == 0
    records = sorted((workspace.root / "cache" / "quality").glob("*.json"))
    assert len(records) == 3
    record = record_path(Layout(workspace.root / "cache", workspace.root / "library"), fake["key"])
    os.unlink(record)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    ran = [line.split()[1].split(":")[0] for line in out.splitlines() if line.startswith("done ")]
    # measured again without a fetch, and the track's files follow the record (re-tagged, not encoded)
    assert sorted(ran) == ["convert", "convert", "download", "publish"] and record.exists(), ran


def test_from_lossy_skip_leaves_the_lossless_format_out_and_says_why(workspace: Workspace) -> None:
    _setup(workspace, own="    from_lossy: {wav: skip}")
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    tracks = _status(workspace)
    fake = next(t for t in tracks.values() if t.get("title") and t["title"].startswith("c fake"))
    rip = tracks["Master (rip)"]
    assert set(fake["files"]) == {"mp3"}, fake  # the lossy target is built, the lossless one is not
    assert fake["state"] == "built" and set(fake["skipped"]) == {"wav"}
    # the rip publishes the (lossless) master in its place: nothing held back there
    assert rip["alias_of"] == tracks["Master"]["key"] and rip["state"] == "built" and rip["skipped"] == {}
    assert set(tracks["Master"]["files"]) == {"wav", "mp3"} and tracks["Master"]["skipped"] == {}
    report = workspace.report()
    notes = report["notes"]
    assert any(fake["key"] in n and "not built (from_lossy: skip)" in n for n in notes), notes
    counts = [(p["pending"], p["built_now"] + p["up_to_date"]) for p in report["playlists"]]
    assert all(pending == 0 for pending, _ in counts), counts  # a held-back format is not pending work
    assert workspace.catalog_rows(f"SELECT from_lossy_skipped FROM tracks WHERE key = '{fake['key']}'") == [("wav",)]
    wavs = sorted(p.name for p in (workspace.root / "library" / "wav").iterdir())
    assert wavs == ["A - Master.wav"]

    # allow at the top level, the playlist's own policy gone: the wav is built now
    workspace.manifest(MANIFEST.format(top="from_lossy: allow", own=""))
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    tracks = _status(workspace)
    assert all(set(t["files"]) == {"wav", "mp3"} and t["skipped"] == {} for k, t in tracks.items() if k)
    assert not any("from_lossy" in n for n in workspace.report()["notes"])


def test_a_bad_from_lossy_is_a_manifest_error(workspace: Workspace) -> None:
    workspace.manifest(MANIFEST.format(top="from_lossy: sometimes", own=""))
    rc, out, err = workspace.run()
    assert rc == 2 and "from_lossy" in out + err
    workspace.manifest(MANIFEST.format(top="", own="    from_lossy: {wave: skip}"))
    rc, out, err = workspace.run()
    assert rc == 2 and "'wave' is not a format" in out + err

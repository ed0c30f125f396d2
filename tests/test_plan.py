"""plan.py is pure: records + snapshots + what exists → task dicts, compared as dicts."""

from __future__ import annotations

import time
from pathlib import Path

from cratefile import plan
from cratefile.catalog.sqlite import Failure
from cratefile.context import RunContext
from cratefile.engine.tasks import STEPS
from cratefile.freshness import analysis_current, output_current
from cratefile.manifest import load_manifest
from cratefile.records import Sidecar, Snapshot, TrackRef
from cratefile.sinks import SINKS, BuildView
from cratefile.stages.download import run_download, sidecar_current


def _ctx(tmp_path: Path, retry_failed: bool = False) -> RunContext:
    (tmp_path / "a").mkdir()
    (tmp_path / "playlists.yaml").write_text(
        "formats: [wav]\nplaylists:\n"
        "  - {name: A, folder: a, formats: [wav, aiff]}\n"
        "  - {name: B, folder: a, formats: [mp3], bpm_range: [120, 240]}\n"
    )
    return RunContext(load_manifest(tmp_path / "playlists.yaml", env={}), retry_failed=retry_failed)


def _snaps() -> dict[str, Snapshot]:
    t1 = TrackRef("soundcloud 1", "https://soundcloud.com/x/one", entry={"id": "1"})
    t2 = TrackRef("soundcloud 2", "https://soundcloud.com/x/two", title="Two", artist="X")
    return {"a": Snapshot("a", "a", 0.0, (t1, t2)), "b": Snapshot("b", "a", 0.0, (t2,))}


def _strip(task: dict) -> dict:
    return {k: v for k, v in task.items() if k in {"name", "file_dep", "task_dep", "targets"}}


def test_claims_merge_playlists_and_formats(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    claims = plan.claims(ctx.manifest, _snaps())
    assert list(claims) == ["soundcloud 1", "soundcloud 2"]
    assert [p.slug for p in claims["soundcloud 2"].playlists] == ["a", "b"]
    assert claims["soundcloud 2"].formats == ("wav", "aiff", "mp3")
    assert claims["soundcloud 1"].formats == ("wav", "aiff")


def test_download_and_analyze_tasks(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    claims = plan.claims(ctx.manifest, _snaps())
    cache = ctx.manifest.cache
    tasks = list(plan.download_tasks(ctx, STEPS, claims, {}, time.time()))
    assert [_strip(t) for t in tasks] == [
        {"name": "soundcloud-1", "targets": [str(cache / "audio/soundcloud-1.json")]},
        {"name": "soundcloud-2", "targets": [str(cache / "audio/soundcloud-2.json")]},
    ]
    assert tasks[0]["actions"] == [(run_download, [ctx, {"key": "soundcloud 1", "url": "https://soundcloud.com/x/one",
                                                          "title": None, "artist": None, "duration": None,
                                                          "entry": {"id": "1"}}, "folder"])]
    assert tasks[0]["uptodate"] == [(sidecar_current, [ctx, "soundcloud 1", "folder"])]
    analyze = list(plan.analyze_tasks(ctx, STEPS, claims, {}, time.time(), "v1"))
    assert [_strip(t) for t in analyze] == [
        {"name": "soundcloud-1", "task_dep": ["download:soundcloud-1"],
         "targets": [str(cache / "analysis/soundcloud-1.json")]},
        {"name": "soundcloud-2", "task_dep": ["download:soundcloud-2"],
         "targets": [str(cache / "analysis/soundcloud-2.json")]},
    ]
    # freshness is judged from files (engine/freshness.py), not from doit's DB
    options = ctx.manifest.playlists[0].analysis
    assert analyze[0]["uptodate"] == [(analysis_current, [ctx, "soundcloud 1", options, "v1"])]
    # the first playlist's analysis options win for a shared track
    assert analyze[1]["actions"][0][1][2].bpm_min is None


def test_permanent_failure_is_held_back_until_cool_off_or_retry(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    claims = plan.claims(ctx.manifest, _snaps())
    now = time.time()
    recent = {"soundcloud 1": Failure("soundcloud 1", "download", "not_found", "404", 1, now - 60)}
    old = {"soundcloud 1": Failure("soundcloud 1", "download", "not_found", "404", 1, now - 8 * 86400)}
    transient = {"soundcloud 1": Failure("soundcloud 1", "download", "transient", "503", 1, now - 60)}
    names = lambda failures, c=ctx: [t["name"] for t in plan.download_tasks(c, STEPS, claims, failures, now)]  # noqa: E731
    assert names(recent) == ["soundcloud-2"]
    assert names(old) == ["soundcloud-1", "soundcloud-2"]
    assert names(transient) == ["soundcloud-1", "soundcloud-2"]
    retry_ctx = RunContext(ctx.manifest, retry_failed=True)
    assert names(recent, retry_ctx) == ["soundcloud-1", "soundcloud-2"]


def test_convert_tasks_name_files_and_digest_recipes(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    claims = plan.claims(ctx.manifest, _snaps())
    sidecars = {k: Sidecar(key=k, url="", audio="x", title="Same", artist="Name")
                for k in ("soundcloud 1", "soundcloud 2")}
    names = plan.file_names(ctx.manifest, claims, sidecars, {})
    assert names["soundcloud 1"] != names["soundcloud 2"]
    assert all(n.startswith("Name - Same") for n in names.values())
    tasks = list(plan.convert_tasks(ctx, STEPS, claims, names, {}, time.time()))
    assert [t["name"] for t in tasks] == ["soundcloud-1:wav", "soundcloud-1:aiff", "soundcloud-2:wav",
                                          "soundcloud-2:aiff", "soundcloud-2:mp3"]
    lib = ctx.manifest.library
    assert tasks[0]["targets"] == [str(lib / "wav" / f"{names['soundcloud 1']}.wav")]
    assert tasks[0]["task_dep"] == ["analyze:soundcloud-1"]
    (check, args), = tasks[0]["uptodate"]
    assert check is output_current and args[:4] == [ctx, "soundcloud 1", "wav", tasks[0]["targets"][0]]
    digests = [t["uptodate"][0][1][4] for t in tasks]
    assert len(set(digests)) == len(digests)  # each (track, format) has its own recipe digest
    again = [t["uptodate"][0][1][4] for t in plan.convert_tasks(ctx, STEPS, claims, names, {}, time.time())]
    assert digests == again  # and it is stable


def test_publish_lists_only_built_files_in_playlist_order(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    names = {"soundcloud 1": "X - One", "soundcloud 2": "X - Two"}
    lib = ctx.manifest.library
    built = frozenset({str(lib / "wav/X - Two.wav"), str(lib / "wav/X - One.wav"), str(lib / "aiff/X - Two.aiff")})
    view = BuildView(ctx, _snaps(), plan.claims(ctx.manifest, _snaps()), names, built)
    (a, b) = list(SINKS["playlists"].tasks(view, True))
    entries = a["actions"][0][1][3]
    assert entries == {
        "wav": [("soundcloud 1", "X - One.wav", str(lib / "wav/X - One.wav")),
                ("soundcloud 2", "X - Two.wav", str(lib / "wav/X - Two.wav"))],
        "aiff": [("soundcloud 2", "X - Two.aiff", str(lib / "aiff/X - Two.aiff"))],
    }
    assert a["targets"] == [str(lib / "playlists/A/A (wav).m3u8"), str(lib / "playlists/A/A (aiff).m3u8")]
    assert b["actions"][0][1][3] == {"mp3": []}

"""analyze:<key> — BPM, key, duration and loudness of the downloaded source, before conversion.

Runs in the long-lived analysis workers. A BPM or key the source file already carries (a
store's tags) is trusted unless `analysis.overwrite` is set; the JSON records which source
each value came from. Output: cache/analysis/<stem>.json, the input of every format's tags.
"""

from __future__ import annotations

from typing import Any

from doit.exceptions import TaskFailed

from cratefile.atomic import read_json, write_json
from cratefile.engine.context import RunContext
from cratefile.engine.freshness import analysis_inputs
from cratefile.engine.guard import guarded
from cratefile.errors import Category, TrackFailure
from cratefile.analysis.key import parse_key
from cratefile.records import AnalysisOptions
from cratefile.stages.download import audio_path


def choose(measured: dict[str, Any], carried: dict[str, Any], overwrite: bool) -> dict[str, Any]:
    """Final BPM/key: the file's own tags win unless overwrite; measured values otherwise."""
    # the analyzer says 0.0 when it finds no pulse: unknown, not zero
    out: dict[str, Any] = {"bpm": measured.get("bpm") or None, "bpm_source": "analysis",
                           "key": measured.get("key"), "key_source": "analysis"}
    if not overwrite:
        bpm = carried.get("bpm")
        if isinstance(bpm, (int, float)) and 0 < bpm < 400:
            out.update(bpm=round(float(bpm), 2), bpm_source="tag")
        try:
            key = parse_key(str(carried.get("key") or "")).standard
        except ValueError:  # absent or not a key: the measured one stands
            key = None
        if key:
            out.update(key=key, key_source="tag")
    return out


@guarded("analyze")
def run_analyze(ctx: RunContext, key: str, options: AnalysisOptions, algo: str) -> TaskFailed | bool:
    inputs = analysis_inputs(ctx.layout, key, options, algo)  # before reading: what this result is of
    sidecar = read_json(ctx.layout.sidecar(key)) or {}
    try:
        if "audio" not in sidecar:
            raise TrackFailure(Category.ANALYSIS_FAILED, "no downloaded audio to analyze")
        measured = ctx.pool.analyze(audio_path(ctx.layout.audio, sidecar), options)
    except TrackFailure as failure:
        ctx.failed(key, "analyze", failure)
        return TaskFailed(f"{key}: {failure}")
    final = choose(measured, sidecar.get("tags") or {}, options.overwrite)
    result = {"measured": measured, **final, "duration": measured.get("duration") or sidecar.get("duration"),
              "inputs": inputs}
    write_json(ctx.layout.analysis(key), result)
    ctx.catalog.upsert_track(
        key,
        bpm=final["bpm"],
        bpm_confidence=measured.get("bpm_confidence"),
        bpm_source=final["bpm_source"],
        musical_key=final["key"],
        key_confidence=measured.get("key_confidence"),
        key_source=final["key_source"],
        duration=result["duration"],
        status="analyzed",
    )
    ctx.succeeded(key, "analyze")
    return True

"""analyze:<key> — BPM, musical key, duration and loudness of the downloaded source, before conversion.

Runs in the long-lived analysis workers. A BPM or key the source file already carries (a
store's tags) is trusted unless `analysis.overwrite` is set; the result records which source
each value came from. Output: cache/analysis/<stem>.json (a `records.AnalysisResult`), the
input of every format's tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cratefile.actions import action
from cratefile.analysis.key import parse_key
from cratefile.atomic import write_json
from cratefile.context import RunContext
from cratefile.errors import Category, TrackFailure
from cratefile.freshness import analysis_inputs
from cratefile.records import AnalysisOptions, AnalysisResult
from cratefile.stages.download import audio_path, read_sidecar


def choose(measured: Mapping[str, Any], carried: Mapping[str, Any], overwrite: bool) -> dict[str, Any]:
    """Final BPM/key: the file's own tags win unless overwrite; measured values otherwise.

    `measured` is the analyzer's output and `carried` the file's tags (both say "key" for the
    musical key); the result names it `musical_key`."""
    # the analyzer says 0.0 when it finds no pulse, and no first beat when the pulse it found is
    # not reliable (noise, a beatless pad): unknown, not a confident-looking number
    reliable = "first_beat" not in measured or measured["first_beat"] is not None
    out: dict[str, Any] = {"bpm": (measured.get("bpm") or None) if reliable else None, "bpm_source": "analysis",
                           "musical_key": measured.get("key"), "key_source": "analysis"}
    if not overwrite:
        bpm = carried.get("bpm")
        if isinstance(bpm, (int, float)) and 0 < bpm < 400:
            out.update(bpm=round(float(bpm), 2), bpm_source="tag")
        try:
            musical_key = parse_key(str(carried.get("key") or "")).standard
        except ValueError:  # absent or not a key: the measured one stands
            musical_key = None
        if musical_key:
            out.update(musical_key=musical_key, key_source="tag")
    return out


@action("analyze")
def run_analyze(ctx: RunContext, key: str, options: AnalysisOptions, algo: str) -> None:
    inputs = analysis_inputs(ctx.layout, key, options, algo)  # before reading: what this result is of
    sidecar = read_sidecar(ctx.layout, key)
    if sidecar is None:
        raise TrackFailure(Category.ANALYSIS_FAILED, "no downloaded audio to analyze")
    measured = ctx.pool.analyze(audio_path(ctx.layout, sidecar), options)
    final = choose(measured, sidecar.tags, options.overwrite)
    result = AnalysisResult(
        **final,
        bpm_confidence=measured.get("bpm_confidence"),
        bpm_alt=measured.get("bpm_alt") or None,
        key_confidence=measured.get("key_confidence"),
        duration=measured.get("duration") or sidecar.duration,
        first_beat=measured.get("first_beat"),
        measured=measured,
        inputs=inputs,
    )
    write_json(ctx.layout.analysis(key), result.to_json())
    ctx.catalog.upsert_track(
        key,
        bpm=result.bpm,
        bpm_confidence=result.bpm_confidence,
        bpm_alt=result.bpm_alt,
        bpm_source=result.bpm_source,
        musical_key=result.musical_key,
        key_confidence=result.key_confidence,
        key_source=result.key_source,
        duration=result.duration,
        status="analyzed",
    )

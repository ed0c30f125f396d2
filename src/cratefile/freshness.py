"""Is a track's analysis or converted file still current? Answered from files, not doit's DB.

doit keeps file_dep states and config values in its DB; lose the DB and every analysis and
conversion would run again. So these two stages record what they were built from next to
what they built: the analysis JSON holds the sidecar's (mtime_ns, size), the algorithm
version and the options digest; the catalog's file row holds the output's (mtime_ns, size)
and a digest of the recipe and of the sidecar's and analysis's (mtime_ns, size). Losing the
doit DB then costs a check, not a rebuild.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cratefile.atomic import read_json
from cratefile.context import RunContext
from cratefile.layout import Layout
from cratefile.quality.record import record_path
from cratefile.records import AnalysisOptions, FormatRecipe, digest


def stat_sig(path: Path | str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


NOTATIONS = ("standard", "camelot", "openkey")


def options_digest(options: AnalysisOptions) -> str:
    """What an analysis depends on of its options: not the key notation, which is applied when
    a file is tagged (switching Camelot -> Open Key re-tags, it does not re-analyze)."""
    return digest(replace(options, key_notation="standard"))


def analysis_inputs(layout: Layout, key: str, options: AnalysisOptions, algo: str) -> dict[str, Any]:
    return {"sidecar": stat_sig(layout.sidecar(key)), "algo": algo, "options": options_digest(options)}


def analysis_current(ctx: RunContext, key: str, options: AnalysisOptions, algo: str) -> bool:
    """doit uptodate of analyze:<key>."""
    data = read_json(ctx.layout.analysis(key))
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), dict):
        return False
    inputs, wanted = data["inputs"], analysis_inputs(ctx.layout, key, options, algo)
    if inputs == wanted:
        return True
    # written while the options' digest still held the notation: the same analysis under any
    older = {replace(options, key_notation=n).digest for n in NOTATIONS}  # type: ignore[arg-type]
    return inputs.get("options") in older and {**inputs, "options": wanted["options"]} == wanted


def convert_inputs(layout: Layout, key: str, recipe_digest: str) -> str:
    # the quality record (cratefile.quality) gives the SOURCE QUALITY tag and the from_lossy decision
    quality = stat_sig(record_path(layout, key))
    return digest([recipe_digest, stat_sig(layout.sidecar(key)), stat_sig(layout.analysis(key)), quality])


def audio_inputs(layout: Layout, key: str, recipe: FormatRecipe) -> str:
    """What the encoded audio of a converted file is made of: the recipe and the source (its
    sidecar). Everything else a file depends on is in its tags, which can be rewritten alone."""
    return digest([recipe.digest, stat_sig(layout.sidecar(key))])


def audio_intact(row: Mapping[str, Any] | None, audio: str) -> bool:
    """The catalog's file row records a file, still there as it was written, whose encoded
    audio is what `audio` would encode now: re-tagging a copy of it is enough."""
    return row is not None and row.get("audio") == audio and stat_sig(row["path"]) == [row["mtime_ns"], row["size"]]


def output_current(ctx: RunContext, key: str, fmt: str, dst: str, recipe_digest: str) -> bool:
    """doit uptodate of convert:<key>:<fmt>: the file is the one recorded, built from today's inputs."""
    return output_matches(ctx.layout, ctx.file_records().get((key, fmt)), key, dst, recipe_digest)


def output_matches(layout: Layout, row: Mapping[str, Any] | None, key: str, dst: str, recipe_digest: str) -> bool:
    """`dst` is the file the catalog row records, built from today's inputs."""
    if row is None or row["path"] != dst:
        return False
    return (stat_sig(dst) == [row["mtime_ns"], row["size"]]
            and row["inputs"] == convert_inputs(layout, key, recipe_digest))

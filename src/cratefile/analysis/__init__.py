"""Audio analysis: BPM, key, duration and loudness of one track, in process or in workers.

    from cratefile.analysis import ALGO_VERSION, AnalyzerPool, analyze_file, key_in_notation

    result = analyze_file(path, AnalysisOptions())          # in this process
    with AnalyzerPool(workers=2) as pool:                   # long-lived worker processes
        result = pool.analyze(path, AnalysisOptions())

The result is a JSON-able dict: bpm (0.01; its octave chosen from the music, or by the
options' bpm_range: see tempo.py), bpm_alt (the other octave weighed), octave_confidence
(0.5..1), bpm_confidence (0..1, the octave's doubt included), first_beat (s, 0.001: the
first beat at or after 0, the phase of the beat grid first_beat + n * 60 / bpm; None without
a reliable pulse), key ("Am", "F#m", "Eb": the Camelot-wheel spelling of DJ software),
camelot ("8A"), openkey ("1m"), key_confidence (0..1: the calibrated probability that the key
is right, see keyfind.py), duration (s), loudness_db (EBU R128 integrated loudness, LUFS),
loudness_unit ("LUFS") and algo_version.

Names are resolved lazily (PEP 562) so that importing this package, or the worker module in a
fresh process, does not load numpy before the worker has pinned its thread counts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Bump whenever a result for the same file could change: it enters doit's uptodate, so a new
# version re-analyses (and re-tags) the library.
# 12-1: the octave from the music (bpm_alt), keys with bass and sections; 12-2: bars in the
# period search, the 8ths in the octave, the phrase-start chord in the key, a calibrated
# key_confidence; 12-3: the bass names chords, anti-correlated periods count against a tempo;
# 12-4: the snare and hats vote on the period; 12-5: the phrase start only tips a near tie, the
# confidence from the margin alone; 12-6: a minor key's VII counts for it (aeolian vamps);
# 12-7: a period whose half is less periodic than itself loses (3:2 rivals)
ALGO_VERSION = "2026.12-7"

_EXPORTS = {
    "analyze_file": "cratefile.analysis.track",
    "analyze_signal": "cratefile.analysis.track",
    "analyze_samples": "cratefile.analysis.track",
    "AnalyzerPool": "cratefile.analysis.workers",
    "key_in_notation": "cratefile.analysis.key",
    "parse_key": "cratefile.analysis.key",
    "Key": "cratefile.analysis.key",
    "fold_bpm": "cratefile.analysis.tempo",
}

__all__ = ["ALGO_VERSION", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    # the `X as X` form marks these as re-exports (for ruff and mypy; __all__ is built at run time)
    from cratefile.analysis.key import Key as Key
    from cratefile.analysis.key import key_in_notation as key_in_notation
    from cratefile.analysis.key import parse_key as parse_key
    from cratefile.analysis.tempo import fold_bpm as fold_bpm
    from cratefile.analysis.track import analyze_file as analyze_file
    from cratefile.analysis.track import analyze_samples as analyze_samples
    from cratefile.analysis.track import analyze_signal as analyze_signal
    from cratefile.analysis.workers import AnalyzerPool as AnalyzerPool


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cratefile.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

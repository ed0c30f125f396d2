"""A download's quality record (`cache/quality/<stem>.json`, keyed like its analysis): its
provenance and its acoustic fingerprint, measured once by one ffmpeg run.

The run reads the file a few times in one process: the first FINGERPRINT_SECONDS into the
chromaprint muxer, and EXCERPTS short excerpts from the body of the track (inputs seeked
before decoding, so only those seconds are decoded) as mono float PCM at the native rate for
the spectrum. ffmpeg's banner for the first input gives the stream facts. The record says what
it was measured from (the audio's size and mtime) and with which QUALITY_VERSION: a changed
file or a new version measures again.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.atomic import file_sig, read_json, write_json
from cratefile.errors import ToolError
from cratefile.layout import Layout
from cratefile.proc import ffmpeg_exe, run
from cratefile.quality.provenance import Provenance, effective_bandwidth, judge, parse_stream_info
from cratefile.records import stem_of

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

QUALITY_VERSION = "2026.12-2"  # bump when a measurement changes: every record is measured again
# The fingerprint covers FINGERPRINT_SECONDS from FINGERPRINT_AT of the way in (the whole of a
# shorter track): the body of a track, not the DJ-friendly drum intro different tracks share,
# and a bounded decode (a 5-minute MP3 decodes in ~0.8 s CPU, 90 s of it in ~0.2 s). Two copies
# of one recording take windows at the same share of lengths that agree within seconds, so
# the alignment search (fingerprint.MAX_SHIFT) absorbs the difference.
FINGERPRINT_SECONDS = 90.0
FINGERPRINT_AT = 0.25
EXCERPTS = (0.3, 0.5, 0.7)  # where the spectrum excerpts start, as shares of the duration
EXCERPT_SECONDS = 3.0
TIMEOUT = 600.0


def record_path(layout: Layout, key: str) -> Path:
    """Next to the analysis: cache/quality/<stem>.json."""
    return layout.cache / "quality" / f"{stem_of(key)}.json"


@dataclass(frozen=True)
class QualityRecord:
    provenance: Provenance | None
    fingerprint: str | None  # base64 of the raw little-endian uint32 items
    duration: float | None  # seconds, as measured from the file
    source: tuple[int, int] | None  # (mtime_ns, size) of the audio it was measured from
    version: str = QUALITY_VERSION
    error: str | None = None  # why something could not be measured (the rest still stands)
    seconds: float | None = None  # wall time of the measurement
    fingerprint_at: float = 0.0  # where in the audio the fingerprint starts (seconds)

    def items(self) -> np.ndarray | None:
        from cratefile.quality import fingerprint  # numpy: only where fingerprints are used

        return fingerprint.decode(self.fingerprint) if self.fingerprint else None

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "source": list(self.source) if self.source else None,
                "duration": self.duration, "provenance": self.provenance.to_json() if self.provenance else None,
                "fingerprint": self.fingerprint, "fingerprint_at": self.fingerprint_at, "error": self.error,
                "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: Any) -> QualityRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            return None
        source = data.get("source")
        return cls(provenance=Provenance.from_json(data.get("provenance")), fingerprint=data.get("fingerprint"),
                   duration=data.get("duration"), source=(int(source[0]), int(source[1])) if source else None,
                   version=data["version"], error=data.get("error"), seconds=data.get("seconds"),
                   fingerprint_at=float(data.get("fingerprint_at") or 0.0))


def read_record(layout: Layout, key: str) -> QualityRecord | None:
    return QualityRecord.from_json(read_json(record_path(layout, key)))


def write_record(layout: Layout, key: str, record: QualityRecord) -> None:
    write_json(record_path(layout, key), record.to_json())


def record_current(record: QualityRecord | None, audio: Path) -> bool:
    """Was `record` measured from this audio as it is now, by this version?"""
    return record is not None and record.version == QUALITY_VERSION and record.source == file_sig(audio)


def fingerprint_start(duration: float | None) -> float:
    """Seconds into the audio where its fingerprint window starts."""
    if not duration or duration <= FINGERPRINT_SECONDS:
        return 0.0
    return round(min(FINGERPRINT_AT * duration, duration - FINGERPRINT_SECONDS), 3)


def measure_argv(ffmpeg: str, audio: Path, duration: float | None, tmp: Path, with_fingerprint: bool) -> list[str]:
    from cratefile.quality import fingerprint

    src = f"file:{audio}"
    at = fingerprint_start(duration)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats",
            "-ss", f"{at:g}", "-t", f"{FINGERPRINT_SECONDS:g}", "-i", src]
    if duration and duration > 4 * EXCERPT_SECONDS:
        starts = [round(share * duration, 3) for share in EXCERPTS]
        length = EXCERPT_SECONDS
    else:
        starts, length = [0.0], 10.0
    for start in starts:
        argv += ["-ss", f"{start:g}", "-t", f"{length:g}", "-i", src]
    if with_fingerprint:
        argv += ["-map", "0:a:0", *fingerprint.chromaprint_output(str(tmp / "fp.raw"))]
    for n in range(len(starts)):
        argv += ["-map", f"{n + 1}:a:0", "-ac", "1", "-c:a", "pcm_f32le", "-f", "f32le", "-y", str(tmp / f"ex{n}.raw")]
    return argv


def measure(audio: Path, duration: float | None = None, ffmpeg: str | None = None) -> QualityRecord:
    """Provenance and fingerprint of `audio` (`duration`: what the download knows, to place the
    excerpts; `ffmpeg`: another binary than the run's). Never raises for a file ffmpeg cannot
    read: the record carries the error."""
    import numpy as np

    from cratefile.quality import fingerprint

    started = time.monotonic()
    sig = file_sig(audio)
    if not duration:  # the windows are placed by it: ask the file (mutagen, or ffmpeg remuxing)
        from cratefile.sources.probe import probe_audio

        duration = probe_audio(audio).duration
    ffmpeg = ffmpeg or ffmpeg_exe()
    with_fp = fingerprint.chromaprint_available(ffmpeg)
    error = None if with_fp else fingerprint.missing_message(ffmpeg)
    with tempfile.TemporaryDirectory(prefix="cratefile-quality-") as name:
        tmp = Path(name)
        try:
            proc = run(measure_argv(ffmpeg, audio, duration, tmp, with_fp), timeout=TIMEOUT, capture_stdout=False)
        except ToolError as exc:
            log.info("quality of %s not measured: %s", audio.name, exc)
            last = (exc.stderr_tail.strip().splitlines() or [str(exc)])[-1]
            return QualityRecord(None, None, duration, sig, error=f"ffmpeg could not read {audio.name}: {last}",
                                 seconds=round(time.monotonic() - started, 3))
        info = parse_stream_info(proc.stderr.decode("utf-8", "replace"), audio.suffix)
        excerpts = [np.fromfile(p, dtype="<f4") for p in sorted(tmp.glob("ex*.raw"))]
        bandwidth, cutoff = (effective_bandwidth(excerpts, info.sample_rate) if info.sample_rate else (None, None))
        items = fingerprint.parse_raw((tmp / "fp.raw").read_bytes()) if with_fp and (tmp / "fp.raw").exists() else None
    return QualityRecord(
        provenance=judge(info, bandwidth, cutoff),
        fingerprint=fingerprint.encode(items) if items is not None and len(items) else None,
        duration=info.duration or duration,
        source=sig,
        fingerprint_at=fingerprint_start(duration),
        error=error,
        seconds=round(time.monotonic() - started, 3),
    )


__all__ = ["QUALITY_VERSION", "QualityRecord", "measure", "read_record", "record_current", "record_path",
           "write_record"]

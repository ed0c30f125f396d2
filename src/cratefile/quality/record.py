"""A download's quality record (`cache/quality/<stem>.json`, keyed like its analysis): its
provenance and its acoustic fingerprint, measured once.

ffmpeg opens the file without decoding it, and its banner gives the stream facts. A second run
reads a few windows of the file inside one filter graph (`graph_argv`): FINGERPRINT_SECONDS from
FINGERPRINT_AT of the way in, into the chromaprint muxer, and EXCERPTS short excerpts from the body
of the track as mono float PCM at the native rate for the spectrum. Each window is seeked before
decoding, so only those seconds are decoded. A file the graph cannot read clean is measured by
the plain command line (`measure_argv`), which gives the same windows byte for byte. The record
says what it was measured from (the audio's size and mtime) and with which QUALITY_VERSION: a
changed file or a new version measures again.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile import graphinput
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
_START = re.compile(r"^\s+Duration: [^\n]*?, start: (-?\d+(?:\.\d+)?)", re.M)


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


def windows(duration: float | None) -> tuple[float, list[float], float]:
    """Where the fingerprint starts, where the spectrum excerpts start, and their length (s)."""
    if duration and duration > 4 * EXCERPT_SECONDS:
        return fingerprint_start(duration), [round(share * duration, 3) for share in EXCERPTS], EXCERPT_SECONDS
    return fingerprint_start(duration), [0.0], 10.0


def measure_argv(ffmpeg: str, audio: Path, duration: float | None, tmp: Path, with_fingerprint: bool) -> list[str]:
    """The plain command line: one seeked input per window (`-ss`/`-t`, counted from the
    stream's start time)."""
    from cratefile.quality import fingerprint

    src = f"file:{audio}"
    at, starts, length = windows(duration)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats",
            "-ss", f"{at:g}", "-t", f"{FINGERPRINT_SECONDS:g}", "-i", src]
    for start in starts:
        argv += ["-ss", f"{start:g}", "-t", f"{length:g}", "-i", src]
    if with_fingerprint:
        argv += ["-map", "0:a:0", *fingerprint.chromaprint_output(str(tmp / "fp.raw"))]
    for n in range(len(starts)):
        argv += ["-map", f"{n + 1}:a:0", "-ac", "1", "-c:a", "pcm_f32le", "-f", "f32le", "-y", str(tmp / f"ex{n}.raw")]
    return argv


def banner_argv(ffmpeg: str, audio: Path) -> list[str]:
    """Open `audio` and decode nothing (`-t 0` on the output: on the input it reads the whole
    file): its banner gives the stream facts and the start time the windows are counted from."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-i", f"file:{audio}", "-map", "0:a:0", "-t", "0",
            "-f", "null", "-"]


def stream_start(banner: str) -> float:
    """The input's start time (an MP3's encoder delay, some 25 ms), 0 where the banner has none."""
    found = _START.search(banner.split("\nOutput #", 1)[0])
    return float(found[1]) if found else 0.0


def graph_argv(ffmpeg: str, name: str, duration: float | None, start_time: float, out: Path,
               with_fingerprint: bool) -> list[str]:
    """The same windows as `measure_argv`, decoded inside one filter graph (cratefile.graphinput):
    a 60 s MP3 measured in 0.11 s of CPU where the plain command line took 0.21 s. The graph
    counts time from the file's clock, the command line from the stream's start time, so each
    window is cut at its start plus `start_time`. `amovie` seeks where `-ss` does (to the packet
    at or before the start, counted from the start time), so the decoder starts on the same
    packet and the windows come out byte for byte the command line's."""
    from cratefile.quality import fingerprint

    at, starts, length = windows(duration)
    cuts = ([(at, FINGERPRINT_SECONDS, "s16:channel_layouts=mono:sample_rates=11025")] if with_fingerprint else [])
    cuts += [(begin, length, "flt:channel_layouts=mono") for begin in starts]
    chains = [f"{graphinput.movie(name, begin)},atrim=start={begin + start_time:.6f}:"
              f"duration={seconds:g},aformat=sample_fmts={fmt},asetnsamples=n={graphinput.FRAME}:p=0[out{n}]"
              for n, (begin, seconds, fmt) in enumerate(cuts)]
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", *graphinput.LOGLEVEL, "-f", "lavfi", "-i", ";".join(chains)]
    if with_fingerprint:
        argv += ["-map", "0:0", *fingerprint.chromaprint_output(str(out / "fp.raw"))]
    for n in range(len(starts)):
        argv += ["-map", f"0:{n + len(cuts) - len(starts)}", "-c:a", "pcm_f32le", "-f", "f32le", "-y",
                 str(out / f"ex{n}.raw")]
    return argv


def measure_run(ffmpeg: str, audio: Path, duration: float | None, tmp: Path, with_fp: bool) -> tuple[str, Path]:
    """The log to read the stream facts from, and the folder holding fp.raw and ex*.raw. Raises
    ToolError where the file cannot be read."""
    graph_out, plain_out = tmp / "graph", tmp / "plain"  # a graph run that fell back leaves its files
    graph_out.mkdir()
    plain_out.mkdir()
    plain = measure_argv(ffmpeg, audio, duration, plain_out, with_fp)
    try:
        banner = run(banner_argv(ffmpeg, audio), timeout=TIMEOUT, capture_stdout=False).stderr.decode("utf-8",
                                                                                                    "replace")
    except ToolError as exc:
        if exc.returncode is None or exc.returncode == -1:
            raise
        return run(plain, timeout=TIMEOUT, capture_stdout=False).stderr.decode("utf-8", "replace"), plain_out
    offset = stream_start(banner)
    stderr, in_graph = graphinput.run_graph_or_plain(
        audio, tmp, lambda linked: graph_argv(ffmpeg, linked, duration, offset, graph_out, with_fp), plain, TIMEOUT)
    return (banner, graph_out) if in_graph else (stderr.decode("utf-8", "replace"), plain_out)


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
            log_text, out = measure_run(ffmpeg, audio, duration, tmp, with_fp)
        except ToolError as exc:
            log.info("quality of %s not measured: %s", audio.name, exc)
            last = (exc.stderr_tail.strip().splitlines() or [str(exc)])[-1]
            return QualityRecord(None, None, duration, sig, error=f"ffmpeg could not read {audio.name}: {last}",
                                 seconds=round(time.monotonic() - started, 3))
        info = parse_stream_info(log_text, audio.suffix)
        excerpts = [np.fromfile(p, dtype="<f4") for p in sorted(out.glob("ex*.raw"))]
        bandwidth, cutoff = (effective_bandwidth(excerpts, info.sample_rate) if info.sample_rate else (None, None))
        items = fingerprint.parse_raw((out / "fp.raw").read_bytes()) if with_fp and (out / "fp.raw").exists() else None
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

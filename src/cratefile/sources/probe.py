"""What an audio file says about itself: duration, codec, bitrate, sample rate, channels, the
BPM/key tags it carries, title/artist/album and its embedded cover art.

`read` opens the file once with mutagen and raises TrackFailure(UNREADABLE) when it is not
audio mutagen understands. `probe_audio` never raises: for containers mutagen does not know
(WebM/Matroska, YouTube's opus) it asks ffmpeg, which gives the stream facts but no tags.
The sources turn these facts into sidecars.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mutagen
import mutagen.flac
import mutagen.id3
import mutagen.mp4

from cratefile.errors import Category, ToolError, TrackFailure
from cratefile.proc import ffmpeg_exe, run

log = logging.getLogger(__name__)

BPM_RANGE = (0.0, 400.0)  # exclusive: DJ tools write TBPM "0" for "unknown"


@dataclass(frozen=True)
class AudioFacts:
    duration: float | None = None  # seconds
    codec: str | None = None  # ffmpeg's decoder name: mp3, aac, alac, flac, pcm_s16le, opus, ...
    bitrate: int | None = None  # kbps
    sample_rate: int | None = None  # Hz
    channels: int | None = None
    bpm: float | None = None  # a carried BPM tag, only when it is a plausible tempo
    key: str | None = None  # a carried key tag, as written (Am, 8A, F#m, ...)
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    cover: bytes | None = field(default=None, repr=False)  # the first embedded picture

    @property
    def tags(self) -> dict[str, Any]:
        """The sidecar's `tags`: what the file claims, for analysis to trust or overrule."""
        return {"bpm": self.bpm, "key": self.key}


def read(path: Path) -> AudioFacts:
    """Everything mutagen finds in `path`; TrackFailure(UNREADABLE) if it is not audio to mutagen."""
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError) as exc:
        raise TrackFailure(Category.UNREADABLE, f"{path.name}: not readable as audio ({exc})") from exc
    if audio is None or not getattr(audio, "info", None):
        raise TrackFailure(Category.UNREADABLE, f"{path.name}: not an audio file mutagen can read")
    info, tags = audio.info, audio.tags
    # a WAV's RIFF INFO chunk (what most WAV taggers and DAWs write) fills what ID3 leaves out
    riff = riff_info(path) if path.suffix.lower() in (".wav", ".wave") else {}
    return AudioFacts(
        duration=float(getattr(info, "length", 0.0) or 0.0),
        codec=_codec_name(info),
        bitrate=round(info.bitrate / 1000) if getattr(info, "bitrate", 0) else None,
        sample_rate=getattr(info, "sample_rate", None) or None,
        channels=getattr(info, "channels", None) or None,
        bpm=_bpm(_tag(tags, "bpm")),
        key=_tag(tags, "key") or riff.get("IKEY"),
        title=_tag(tags, "title") or riff.get("INAM"),
        artist=_tag(tags, "artist") or riff.get("IART"),
        album=_tag(tags, "album") or riff.get("IPRD"),
        cover=_cover(audio),
    )


_RIFF_FIELDS = frozenset({"INAM", "IART", "IPRD", "IGNR", "ICMT", "ICRD", "IKEY", "ITRK"})
_RIFF_SCAN_LIMIT = 64  # chunks; a hostile file cannot make us walk forever


def riff_info(path: Path) -> dict[str, str]:
    """The text fields of a WAV's LIST/INFO chunk (INAM title, IART artist, IPRD album, ...)."""
    found: dict[str, str] = {}
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return found
            for _ in range(_RIFF_SCAN_LIMIT):
                chunk = fh.read(8)
                if len(chunk) < 8:
                    break
                cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"LIST" and 4 <= size <= 1 << 20:
                    body = fh.read(size)
                    if body[:4] == b"INFO":
                        found.update(_info_fields(body[4:]))
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return found
    return found


def _info_fields(body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos + 8 <= len(body):
        fid = body[pos:pos + 4].decode("ascii", "replace")
        size = int.from_bytes(body[pos + 4:pos + 8], "little")
        raw = body[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
        if fid in _RIFF_FIELDS:
            text = raw.split(b"\0", 1)[0]
            try:
                value = text.decode("utf-8").strip()
            except UnicodeDecodeError:
                value = text.decode("latin-1").strip()
            if value:
                out[fid] = value
    return out


def probe_audio(path: Path) -> AudioFacts:
    """`read`, or ffmpeg's stream facts when mutagen cannot read the file or finds no duration.

    A file neither can read gives AudioFacts() (duration None): the caller decides what that means.
    """
    try:
        facts = read(path)
    except TrackFailure as failure:
        log.debug("mutagen: %s", failure.message)
    else:
        if facts.duration:
            return facts
    return _ffmpeg_probe(path)


def _codec_name(info: Any) -> str:
    if isinstance(info, mutagen.flac.StreamInfo):  # the one info class not named after its format
        return "flac"
    name = type(info).__name__
    if name == "MPEGInfo":
        return "mp3" if getattr(info, "layer", 3) == 3 else f"mp{info.layer}"
    if name == "WaveStreamInfo":
        return f"pcm_s{info.bits_per_sample}le"
    if name == "AIFFInfo":
        return f"pcm_s{info.bits_per_sample}be"
    if name == "MP4Info":
        codec = str(getattr(info, "codec", "") or "")
        return "aac" if codec.startswith("mp4a") else codec or "mp4"
    known = {"OggOpusInfo": "opus", "OggVorbisInfo": "vorbis", "OggFLACStreamInfo": "flac"}
    return known.get(name, name.removesuffix("Info").lower())


# Where each fact lives: ID3 frame (MP3, WAV, AIFF), MP4 atom, Vorbis comment / APE names.
_FIELDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "title": ("TIT2", "\xa9nam", ("title",)),
    "artist": ("TPE1", "\xa9ART", ("artist",)),
    "album": ("TALB", "\xa9alb", ("album",)),
    "bpm": ("TBPM", "tmpo", ("bpm",)),
    "key": ("TKEY", "----:com.apple.iTunes:initialkey", ("initialkey", "key")),
}


def _tag(tags: Any, fact: str) -> str | None:
    id3, mp4, names = _FIELDS[fact]
    if isinstance(tags, mutagen.id3.ID3):
        return _first_text(tags.get(id3))
    if isinstance(tags, mutagen.mp4.MP4Tags):
        return _first_text(tags.get(mp4))
    if tags is not None and hasattr(tags, "get"):
        return next(filter(None, (_first_text(tags.get(name)) for name in names)), None)
    return None


def _first_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, mutagen.id3.Frame):
        value = getattr(value, "text", None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes | mutagen.mp4.MP4FreeForm):
        value = bytes(value).decode("utf-8", "replace")
    text = str(value).strip() if value is not None else ""
    return text or None


def _bpm(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:  # a non-numeric BPM tag is no claim at all: analysis provides one
        return None
    return value if value is not None and BPM_RANGE[0] < value < BPM_RANGE[1] else None


def _cover(audio: Any) -> bytes | None:
    pictures = getattr(audio, "pictures", None)  # FLAC's own picture blocks
    if pictures:
        return bytes(pictures[0].data)
    tags = audio.tags
    if isinstance(tags, mutagen.id3.ID3):
        apic = tags.getall("APIC")
        return bytes(apic[0].data) if apic else None
    if isinstance(tags, mutagen.mp4.MP4Tags):
        covr = tags.get("covr")
        return bytes(covr[0]) if covr else None
    return None


_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Audio: (\w+)[^,\n]*, (\d+) Hz, ([^,\n]+)")
_LAYOUTS = {"mono": 1, "stereo": 2, "5.1": 6, "5.1(side)": 6, "7.1": 8}


def _ffmpeg_probe(path: Path) -> AudioFacts:
    """Remux the first audio stream to nowhere (no decoding) and read what ffmpeg reports."""
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0", "-c", "copy", "-f", "null", "-"]
    try:
        stderr = run(argv, timeout=120).stderr.decode("utf-8", "replace")
    except ToolError as exc:
        log.debug("ffmpeg cannot read %s: %s", path.name, exc)
        return AudioFacts()
    found: dict[str, Any] = {}
    if times := _TIME.findall(stderr):
        h, m, s = times[-1]
        found["duration"] = int(h) * 3600 + int(m) * 60 + float(s)
    if stream := _STREAM.search(stderr):
        layout = stream[3].strip()
        channels = _LAYOUTS.get(layout)
        if channels is None and (count := re.match(r"(\d+) channels", layout)):
            channels = int(count[1])
        found.update(codec=stream[1], sample_rate=int(stream[2]), channels=channels)
    return AudioFacts(**found)


__all__ = ["AudioFacts", "probe_audio", "read"]

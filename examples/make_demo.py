"""Regenerate the bundled demo crate (examples/demo/): short synthetic tracks, CC0.

Each track has a known tempo and key so a build can be checked by ear and by the tests:
    python examples/make_demo.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cratefile.proc import ffmpeg_exe, run
from cratefile.synth import render

DEMO = Path(__file__).with_name("demo")
# (file name, title, artist, bpm, key, style, seed)
TRACKS = [
    ("01 Night Drive.mp3", "Night Drive", "Crate Demo", 124.0, "Am", "four_on_floor_intro", 1),
    ("02 Sunday Break.mp3", "Sunday Break", "Crate Demo", 98.0, "F", "breakbeat", 2),
    ("03 Low Orbit.mp3", "Low Orbit", "Loop Station", 174.0, "F#m", "dnb", 3),
    ("04 Late Bloom.mp3", "Late Bloom", "Loop Station", 128.0, "Eb", "four_on_floor_breakdown", 4),
]
SECONDS = 20.0


def main() -> int:
    DEMO.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, title, artist, bpm, key, style, seed in TRACKS:
            wav = Path(tmp) / "src.wav"
            render(wav, bpm=bpm, key=key, seconds=SECONDS, style=style, seed=seed)
            run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(wav), "-c:a", "libmp3lame",
                 "-b:a", "128k", "-metadata", f"title={title}", "-metadata", f"artist={artist}",
                 "-metadata", "album=cratefile demo crate", "-metadata",
                 f"comment=CC0 synthetic track: {bpm:g} BPM, {key}", str(DEMO / name)])
            print(f"{name}: {bpm:g} BPM, {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

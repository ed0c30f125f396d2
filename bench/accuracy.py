"""Tempo and key accuracy of cratefile.analysis on a labelled synthetic set, next to librosa's
default recipe measured in the same run.

The set: 24 keys x 6 tempos (90 halftime, 105.5 breakbeat, 122 polyrhythm, 126 four-on-the-
floor, 140 breakbeat or halftime, 174 drum & bass), intro and breakdown variants, a third of
the tracks detuned by up to 30 cents, and four conditions in turn: clean WAV, pink noise at
15 dB SNR, MP3 128k, noise + Opus 96k.

    python bench/accuracy.py [--quick] [--seconds 30] [--workdir DIR] [--no-librosa] [-v]

Prints tempo Acc1 (within 4 %), Acc2 (also x2, x1/2, x3, x1/3), the share within 0.1 BPM, key
exact and MIREX-weighted scores, and CPU seconds (this process and ffmpeg) per minute of audio.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cratefile import synth
from cratefile.analysis import keyfind as keymod
from cratefile.analysis.decode import ANALYSIS_SR, ArraySamples, decode_array
from cratefile.analysis.key import MAJOR_NAMES, MINOR_NAMES, Key, parse_key
from cratefile.analysis.keyfind import key_chroma, key_from_chroma
from cratefile.analysis.tempo import fold_bpm
from cratefile.analysis.track import analyze_signal
from cratefile.proc import ffmpeg_exe, run
from cratefile.records import AnalysisOptions

TEMPOS: list[tuple[float, tuple[str, ...]]] = [
    (90.0, ("halftime",)),
    (105.5, ("breakbeat",)),
    (122.0, ("polyrhythm",)),
    (126.0, ("four_on_floor",)),
    (140.0, ("breakbeat", "halftime")),
    (174.0, ("dnb",)),
]
VARIANTS = ("", "_intro", "_breakdown")
CONDITIONS = ("clean", "noise", "mp3", "noise+opus")


@dataclass(frozen=True)
class Case:
    name: str
    bpm: float
    key: str
    style: str
    condition: str
    seed: int
    cents: float  # detuning of every note from A = 440 Hz


def labelled_set(quick: bool) -> list[Case]:
    cases = []
    keys = list(MAJOR_NAMES) + list(MINOR_NAMES)
    for ki, key in enumerate(keys):
        for ti, (bpm, drums) in enumerate(TEMPOS):
            index = ki * len(TEMPOS) + ti
            if quick and index % 3:
                continue
            style = drums[ki % len(drums)] + VARIANTS[(ki + ti) % len(VARIANTS)]
            condition = CONDITIONS[(ki + 2 * ti) % len(CONDITIONS)]
            cents = float((index * 37) % 61 - 30) if index % 3 == 1 else 0.0
            name = f"{index:03d}_{key.replace('#', 's')}_{bpm:g}_{style}_{condition.replace('+', '_')}_d{cents:+g}"
            cases.append(Case(name, bpm, key, style, condition, seed=index, cents=cents))
    return cases


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[1:] /= np.sqrt(np.arange(1, len(spec)))
    spec[0] = 0
    return np.fft.irfft(spec, n)


def build(case: Case, seconds: float, workdir: Path) -> Path:
    """The audio file of one case (reused when it exists already)."""
    ext = {"clean": "wav", "noise": "wav", "mp3": "mp3", "noise+opus": "opus"}[case.condition]
    final = workdir / f"{case.name}_{seconds:g}s.{ext}"
    if final.exists():
        return final
    sr = 44100
    wav = workdir / f"{case.name}_{seconds:g}s.src.wav"
    if "noise" in case.condition:
        mix = synth.render_array(
            bpm=case.bpm, key=case.key, seconds=seconds, style=case.style, sr=sr, seed=case.seed,
            tuning_cents=case.cents,
        )
        rng = np.random.default_rng(case.seed + 10_000)
        noise = np.stack([_pink(len(mix), rng), _pink(len(mix), rng)], axis=1)
        gain = np.sqrt(np.mean(mix**2) / np.mean(noise**2)) * 10 ** (-15 / 20)
        mix = mix + gain * noise
        mix *= 0.89 / np.max(np.abs(mix))
        _write_wav(wav, mix, sr)
    else:
        synth.render(
            wav, bpm=case.bpm, key=case.key, seconds=seconds, style=case.style, sr=sr, seed=case.seed,
            tuning_cents=case.cents,
        )
    if ext == "wav":
        os.replace(wav, final)
        return final
    codec = ["-c:a", "libmp3lame", "-b:a", "128k"] if ext == "mp3" else ["-c:a", "libopus", "-b:a", "96k"]
    run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(wav), *codec, str(final)])
    wav.unlink()
    return final


def _write_wav(path: Path, mix: np.ndarray, sr: int) -> None:
    import wave

    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes(pcm.tobytes())


def cpu_now() -> float:
    """CPU seconds of this process plus its finished children (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# --- scoring ------------------------------------------------------------------------------


def acc1(est: float, truth: float) -> bool:
    return abs(est - truth) <= 0.04 * truth


def acc2(est: float, truth: float) -> bool:
    return any(acc1(est, truth * f) for f in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))


def mirex(est: Key, truth: Key) -> float:
    if est == truth:
        return 1.0
    if est.minor == truth.minor and (est.tonic - truth.tonic) % 12 in (5, 7):
        return 0.5
    relative = (truth.tonic + (3 if truth.minor else 9)) % 12
    if est.minor != truth.minor and est.tonic == relative:
        return 0.3
    if est.minor != truth.minor and est.tonic == truth.tonic:
        return 0.2
    return 0.0


@dataclass
class Tally:
    name: str
    n: int = 0
    a1: int = 0
    a2: int = 0
    fine: int = 0
    key_exact: int = 0
    key_weighted: float = 0.0
    cpu: float = 0.0
    audio_seconds: float = 0.0
    has_key: bool = True

    def add(self, bpm: float, truth_bpm: float, key: Key | None, truth_key: Key) -> None:
        self.n += 1
        self.a1 += acc1(bpm, truth_bpm)
        self.a2 += acc2(bpm, truth_bpm)
        self.fine += abs(bpm - truth_bpm) <= 0.1
        if key is not None:
            self.key_exact += key == truth_key
            self.key_weighted += mirex(key, truth_key)

    def row(self) -> str:
        pct = lambda x: f"{100.0 * x / max(self.n, 1):6.1f}"  # noqa: E731
        key = f"{pct(self.key_exact)} {pct(self.key_weighted)}" if self.has_key else "     -      -"
        per_min = self.cpu / max(self.audio_seconds / 60.0, 1e-9)
        cpu = f"{per_min:8.3f}" if self.cpu else "       -"
        return f"{self.name:34s} {pct(self.a1)} {pct(self.a2)} {pct(self.fine)}  {key}  {cpu}"


# --- librosa's default recipe -------------------------------------------------------------


def librosa_default(path: Path) -> tuple[float, float, Key]:
    """librosa.load at 22,050 Hz, beat_track and feature.tempo at hop 512, chroma_stft +
    Krumhansl-Kessler correlation."""
    import librosa

    y, sr = librosa.load(str(path))
    beat_tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    tempo = float(librosa.feature.tempo(y=y, sr=sr)[0])
    chroma = librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1)
    est = key_from_chroma(chroma, "krumhansl")
    return float(np.atleast_1d(beat_tempo)[0]), tempo, est.key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every third case (48 of 144)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each track")
    parser.add_argument("--workdir", type=Path, help="keep generated audio here and reuse it")
    parser.add_argument("--no-librosa", action="store_true", help="skip the librosa baseline")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args(argv)

    cases = labelled_set(args.quick)
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="cratefile-bench-")
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    files = [build(c, args.seconds, workdir) for c in cases]
    print(f"{len(cases)} tracks of {args.seconds:g} s ready in {time.monotonic() - t0:.1f} s ({workdir})")

    options = AnalysisOptions()
    ours = Tally("cratefile (ours)")
    profiles = {p: Tally(f"  key profile {p}") for p in keymod.PROFILES}
    lib_beat = Tally("librosa beat_track", has_key=True)
    lib_tempo = Tally("librosa feature.tempo", has_key=False)
    lib_folded = Tally("librosa feature.tempo, folded", has_key=False)
    misses: list[str] = []
    for case, path in zip(cases, files, strict=True):
        truth_key = parse_key(case.key)
        start = cpu_now()
        samples, loudness = decode_array(path, ANALYSIS_SR)
        result = analyze_signal(samples, ANALYSIS_SR, options, loudness)
        ours.cpu += cpu_now() - start
        duration = len(samples) / ANALYSIS_SR
        ours.audio_seconds += duration
        est_key = parse_key(result["key"])
        ours.add(result["bpm"], case.bpm, est_key, truth_key)
        if abs(result["bpm"] - case.bpm) > 0.1 or est_key != truth_key:
            misses.append(
                f"  {case.name}: bpm {result['bpm']} (conf {result['bpm_confidence']}), "
                f"key {result['key']} (margin {result['key_confidence']})"
            )
        chroma, cents = key_chroma(ArraySamples(samples, ANALYSIS_SR))
        for name, tally in profiles.items():
            tally.add(result["bpm"], case.bpm, key_from_chroma(chroma, name, cents).key, truth_key)
        if not args.no_librosa:
            start = cpu_now()
            beat_bpm, tempo_bpm, lib_key = librosa_default(path)
            lib_beat.cpu += cpu_now() - start
            lib_beat.audio_seconds += duration
            lib_beat.add(beat_bpm, case.bpm, lib_key, truth_key)
            lib_tempo.add(tempo_bpm, case.bpm, None, truth_key)
            lib_folded.add(fold_bpm(tempo_bpm, 88.0, 176.0), case.bpm, None, truth_key)
    if tmp is not None:
        tmp.cleanup()

    print()
    print(f"{'':34s} {'Acc1':>6s} {'Acc2':>6s} {'±0.1':>6s}  {'key':>6s} {'MIREX':>6s}  {'CPU s/min':>8s}")
    rows = [ours, *profiles.values()]
    if not args.no_librosa:
        rows += [lib_beat, lib_tempo, lib_folded]
    for tally in rows:
        print(tally.row())
    print(f"(key profile rows: tempo columns repeat ours; default profile is {keymod.DEFAULT_PROFILE})")
    if args.verbose and misses:
        print("\nmisses (ours):")
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())

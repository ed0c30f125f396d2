"""Which AAC coder the m4a recipe should use: speed and quality of ffmpeg's native encoder's
coders at the recipe's bitrate, measured on the same material in the same run.

    python bench/aac_coder.py [--seconds 60] [--bitrate 256k] [--coders fast twoloop]

Material: generated tracks of several styles (cratefile.synth: drums, bass, pads, plucks),
plus white noise and a dense cymbal-like noise bed (the hardest case for a perceptual coder).
Each is encoded by each coder, decoded back to PCM by ffmpeg and aligned to the source by
cross-correlation. Printed per coder:

- CPU seconds per minute of audio for the encode (user + system of ffmpeg);
- SNR over the whole signal (dB);
- band SNR: the mean over 50 % overlapping 2048-sample frames and 24 Bark-like bands up to
  16 kHz of 10 log10(signal energy / error energy) in that band, frames and bands with no
  signal left out. A perceptual coder shapes its noise under the signal band by band, so a
  coder that does worse here has audibly more noise where the music is quiet;
- bandwidth: the highest frequency (kHz) whose long-term decoded energy is within 60 dB of the
  source's in that band (a coder that low-passes harder loses air).

The CPU ratio and the quality differences to the first coder are printed last. This is not
PEAQ: band SNR and bandwidth are simple, reproducible proxies that rank AAC coders as a
listening test would only when the differences are large. Differences under about 1 dB of band
SNR at 256k are not audible on club material.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from cratefile.proc import ffmpeg_exe
from cratefile.synth import render

SR = 44100


def cpu_children() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return data.reshape(-1, w.getnchannels()).mean(axis=1)


def write_wav(path: Path, mono: np.ndarray) -> None:
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.repeat(pcm, 2).tobytes())


def material(folder: Path, seconds: float) -> list[tuple[str, Path]]:
    out = []
    for i, (style, bpm, key) in enumerate((("four_on_floor", 124, "Am"), ("breakbeat", 132, "F#m"),
                                           ("dnb", 174, "C"), ("halftime", 86, "Ebm"))):
        path = folder / f"{style}.wav"
        render(path, bpm=bpm, key=key, seconds=seconds, seed=i, style=style)
        out.append((style, path))
    rng = np.random.default_rng(7)
    n = int(seconds * SR)
    white = rng.normal(0, 0.15, n)
    write_wav(folder / "white_noise.wav", white)
    out.append(("white_noise", folder / "white_noise.wav"))
    # cymbal-like: high-passed noise with a 16th-note envelope
    spectrum = np.fft.rfft(rng.normal(0, 0.3, n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    bed = np.fft.irfft(spectrum * (freqs > 5000), n)
    env = 0.3 + 0.7 * np.exp(-((np.arange(n) % (SR // 8)) / (SR * 0.03)))
    write_wav(folder / "cymbals.wav", bed * env)
    out.append(("cymbals", folder / "cymbals.wav"))
    return out


def encode_decode(src: Path, coder: str, bitrate: str, folder: Path) -> tuple[float, np.ndarray]:
    m4a, back = folder / f"{src.stem}.{coder}.m4a", folder / f"{src.stem}.{coder}.wav"
    before = cpu_children()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c:a", "aac", "-b:a", bitrate,
                    "-aac_coder", coder, "-ar", str(SR), "-ac", "2", str(m4a)], check=True)
    spent = cpu_children() - before
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(m4a), "-c:a", "pcm_s16le", str(back)], check=True)
    return spent, read_wav(back)


def aligned(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals cut to their overlap at the lag that best aligns them (encoder delay)."""
    probe = min(len(ref), len(test), SR * 5)
    corr = np.fft.irfft(np.fft.rfft(ref[:probe], 2 * probe) * np.conj(np.fft.rfft(test[:probe], 2 * probe)))
    lag = int(np.argmax(np.abs(np.concatenate([corr[-4096:], corr[:4096]])))) - 4096
    if lag > 0:
        ref = ref[lag:]
    elif lag < 0:
        test = test[-lag:]
    n = min(len(ref), len(test))
    return ref[:n], test[:n]


EDGES = np.array([0, 100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700, 3150,
                  3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500, 20000])  # critical bands (Zwicker)
FULL_SCALE_SPL = 96.0  # dB SPL of a full-scale sine: the listening level the threshold in quiet assumes


def _bark(f: np.ndarray) -> np.ndarray:
    return 13 * np.arctan(0.00076 * f) + 3.5 * np.arctan((f / 7500) ** 2)


def _masking_matrix() -> tuple[np.ndarray, np.ndarray]:
    """Schroeder's spreading function between band centres, and each band's mask offset (dB):
    Johnston's 14.5 + z for tonal and 5.5 for noise-like maskers, halfway between the two."""
    centres = np.sqrt(np.maximum(EDGES[:-1], 50) * EDGES[1:])
    z = _bark(centres)
    dz = z[None, :] - z[:, None]  # masker (row) -> maskee (column)
    spread_db = 15.81 + 7.5 * (dz + 0.474) - 17.5 * np.sqrt(1 + (dz + 0.474) ** 2)
    offset_db = 0.5 * (14.5 + z) + 0.5 * 5.5
    return 10 ** (spread_db / 10), offset_db


def _threshold_in_quiet() -> np.ndarray:
    """Terhardt's threshold in quiet at each band centre, as energy relative to full scale."""
    f = np.sqrt(np.maximum(EDGES[:-1], 50) * EDGES[1:]) / 1000
    spl = 3.64 * f ** -0.8 - 6.5 * np.exp(-0.6 * (f - 3.3) ** 2) + 1e-3 * f ** 4
    return 10 ** ((spl - FULL_SCALE_SPL) / 10)


def nmr(ref: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """Noise-to-mask ratio of the coding error, in the spirit of PEAQ's NMR and RDF: per frame,
    the source's band energies spread across bands and lowered by the mask offset (plus the
    threshold in quiet) give what the ear cannot hear; the error's band energy over that mask.
    Returns the mean NMR (dB, averaged as energy) and the share of frames where some band's
    noise is more than 1.5 dB above its mask (PEAQ's 'relative disturbed frames')."""
    frame, hop = 2048, 1024
    window = np.hanning(frame)
    norm = np.sum(window ** 2) * frame / 2  # a full-scale sine -> band energy ~1
    freqs = np.fft.rfftfreq(frame, 1 / SR)
    bands = [(freqs >= lo) & (freqs < hi) for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True)]
    spread, offset_db = _masking_matrix()
    quiet = _threshold_in_quiet()
    ratios, disturbed, frames = [], 0, 0
    for start in range(0, len(ref) - frame, hop):
        s = np.abs(np.fft.rfft(ref[start:start + frame] * window)) ** 2 / norm
        e = np.abs(np.fft.rfft((ref[start:start + frame] - test[start:start + frame]) * window)) ** 2 / norm
        sig = np.array([s[b].sum() for b in bands])
        err = np.array([e[b].sum() for b in bands])
        if sig.sum() < 1e-9:
            continue  # silence: nothing to judge
        mask = np.maximum(sig @ spread * 10 ** (-offset_db / 10), quiet)
        r = err / mask
        ratios.append(r.mean())
        frames += 1
        disturbed += bool(np.max(10 * np.log10(np.maximum(r, 1e-12))) > 1.5)
    return float(10 * np.log10(np.mean(ratios))), disturbed / max(1, frames)


def bandwidth(ref: np.ndarray, test: np.ndarray) -> float:
    """The highest 500-Hz band (kHz) where the decoded signal keeps at least a tenth of the
    source's energy: where the coder's low-pass sits."""
    freqs = np.fft.rfftfreq(len(ref), 1 / SR)
    s, t = np.abs(np.fft.rfft(ref)) ** 2, np.abs(np.fft.rfft(test)) ** 2
    top = 0.0
    for lo in range(1000, 22000, 500):
        band = (freqs >= lo) & (freqs < lo + 500)
        if s[band].sum() > 1e-6 * s.sum() and t[band].sum() > 0.1 * s[band].sum():
            top = (lo + 500) / 1000
    return top


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bitrate", default="256k")
    parser.add_argument("--coders", nargs="+", default=["fast", "twoloop"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-aac-") as tmp:
        folder = Path(tmp)
        sources = material(folder, args.seconds)
        minutes = args.seconds / 60 * len(sources)
        results: dict[str, dict[str, float]] = {}
        print(f"{'material':<14}" + "".join(f"{c:>10} SNR {'NMR':>6} {'RDF':>5} {'kHz':>5}" for c in args.coders))
        totals: dict[str, dict[str, list[float]]] = {c: {"cpu": [], "snr": [], "nmr": [], "rdf": [], "bw": []}
                                                     for c in args.coders}
        for name, src in sources:
            ref = read_wav(src)
            row = f"{name:<14}"
            for coder in args.coders:
                spent, decoded = encode_decode(src, coder, args.bitrate, folder)
                r, t = aligned(ref, decoded)
                snr = 10 * np.log10(np.sum(r ** 2) / max(np.sum((r - t) ** 2), 1e-12))
                noise, rdf = nmr(r, t)
                bw = bandwidth(r, t)
                for k, v in (("cpu", spent), ("snr", snr), ("nmr", noise), ("rdf", rdf), ("bw", bw)):
                    totals[coder][k].append(v)
                row += f"{snr:>14.1f} {noise:>6.1f} {rdf:>5.0%} {bw:>5.1f}"
            print(row)
        for coder in args.coders:
            t = totals[coder]
            results[coder] = {"cpu_per_min": sum(t["cpu"]) / minutes, "snr": float(np.mean(t["snr"])),
                              "nmr": float(np.mean(t["nmr"])), "rdf": float(np.mean(t["rdf"])),
                              "bw": float(np.mean(t["bw"]))}
        print()
        base = results[args.coders[0]]
        for coder in args.coders:
            r = results[coder]
            print(f"{coder:<8} {r['cpu_per_min']:.2f} s CPU per minute of audio "
                  f"({r['cpu_per_min'] / base['cpu_per_min']:.2f}x {args.coders[0]}); mean SNR {r['snr']:.1f} dB, "
                  f"NMR {r['nmr']:.1f} dB ({r['nmr'] - base['nmr']:+.1f}), disturbed frames {r['rdf']:.0%}, "
                  f"bandwidth {r['bw']:.1f} kHz")
    return 0


if __name__ == "__main__":
    sys.exit(main())

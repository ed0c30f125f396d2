"""The convert stage against the real ffmpeg on generated audio: every bundled recipe."""

from __future__ import annotations

import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import mutagen
import numpy as np
import pytest
import yaml
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

import cratefile
from cratefile import graphinput
from cratefile.errors import Category, TrackFailure
from cratefile.proc import ffmpeg_exe
from cratefile.records import FormatRecipe
from cratefile.stages.convert import convert, ffmpeg_argv
from cratefile.tags import TrackTags, read_tags

FORMATS_YAML = Path(cratefile.__file__).parent / "rules" / "formats.yaml"
SECONDS = 3.0


def load_recipes() -> dict[str, FormatRecipe]:
    """rules/formats.yaml as FormatRecipe records (the real loader lives elsewhere)."""
    doc = yaml.safe_load(FORMATS_YAML.read_text(encoding="utf-8"))["formats"]
    recipes = {}
    for name, spec in doc.items():
        spec = dict(spec)
        spec["args"] = tuple(spec.get("args", ()))
        recipes[name] = FormatRecipe(name=name, **spec)
    return recipes


RECIPES = load_recipes()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 48 kHz stereo MP3 carrying tags and a cover (which must not leak), and a JPEG."""
    root = tmp_path_factory.mktemp("media")
    cover = root / "cover.jpg"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(cover))
    src = root / "source.mp3"
    ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}:sample_rate=48000",
        "-i", str(cover),
        "-map", "0:a", "-map", "1:v", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
        "-c:v", "copy", "-disposition:v", "attached_pic",
        "-metadata", "title=LEAKED TITLE", "-metadata", "album=LEAKED ALBUM",
        str(src),
    )  # fmt: skip
    return {"source": src, "cover": cover}


TAGS = TrackTags(
    title="Nöël 🎧 Dub",
    artist="Ærsted & 東京",
    grouping="Deep Cuts",
    bpm=127.5,
    musical_key="F#m",
    url="https://soundcloud.com/artist/noel-dub",
    comment="from soundcloud 123",
    genre="House",
)


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size must match the file"
    chunks, pos = {}, 12
    while pos < len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks[cid] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return chunks


def aiff_chunk_ids(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b"FORM" and data[8:12] == b"AIFF"
    ids, pos = [], 12
    while pos < len(data):
        cid, size = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        ids.append(cid)
        pos += 8 + size + (size & 1)
    return ids


def decodes(path: Path) -> bool:
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0 and not proc.stderr.strip()


def check_codec(path: Path, recipe: FormatRecipe) -> mutagen.FileType:
    """The container/codec mutagen finds must be the recipe's."""
    audio = mutagen.File(path)
    expected = {"wav": WAVE, "aiff": AIFF, "m4a": MP4, "mp3": MP3, "flac": FLAC}[recipe.name]
    assert isinstance(audio, expected)
    if recipe.codec == "pcm_s16le":
        fmt = riff_chunks(path)[b"fmt "]
        tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
        # 0x0001 plain PCM, 16-byte chunk: not WAVE_FORMAT_EXTENSIBLE (0xFFFE), which CDJs reject.
        assert (tag, len(fmt), bits) == (1, 16, 16)
        assert (channels, rate) == (recipe.channels, recipe.sample_rate)
    if recipe.codec in ("pcm_s16le", "pcm_s16be", "flac"):
        assert audio.info.bits_per_sample == 16
    if recipe.codec == "aac":
        assert audio.info.codec == "mp4a.40.2"
    if recipe.codec == "libmp3lame":
        assert audio.info.layer == 3
        assert audio.info.bitrate == int(recipe.bitrate.rstrip("k")) * 1000
    return audio


@pytest.mark.parametrize("fmt", sorted(RECIPES))
def test_every_recipe_converts_decodes_and_is_tagged(
    fmt: str, media: dict[str, Path], tmp_path: Path
) -> None:
    recipe = RECIPES[fmt]
    dst = tmp_path / "lib" / f"Ærsted - Nöël 🎧.{recipe.extension}"
    convert(media["source"], dst, recipe, replace(TAGS, artwork=media["cover"]))

    assert [p.name for p in dst.parent.iterdir()] == [dst.name], "no temp leftovers"
    audio = check_codec(dst, recipe)
    assert audio.info.sample_rate == recipe.sample_rate  # resampled from 48 kHz
    assert audio.info.channels == recipe.channels
    assert audio.info.length == pytest.approx(SECONDS, abs=0.1)
    assert decodes(dst)

    got = read_tags(dst)
    assert got["title"] == TAGS.title
    assert got["artist"] == TAGS.artist
    assert got["bpm"] == "128"
    assert got["key"] == "F#m"
    assert got["url"] == TAGS.url
    assert got["grouping"] == "Deep Cuts"
    assert got["album"] is None, "the source's album must not leak"
    assert got["has_artwork"] is True


def test_wav_has_no_info_chunk_and_aiff_has_its_id3_chunk(
    media: dict[str, Path], tmp_path: Path
) -> None:
    wav = tmp_path / "a.wav"
    convert(media["source"], wav, RECIPES["wav"], TAGS)
    chunks = riff_chunks(wav)
    # -map_metadata -1 and bitexact: no LIST/INFO chunk with the source title or 'Lavf'.
    assert set(chunks) == {b"fmt ", b"data", b"id3 "}
    assert b"LEAKED" not in wav.read_bytes()

    aiff = tmp_path / "a.aiff"
    convert(media["source"], aiff, RECIPES["aiff"], TAGS)
    assert b"ID3 " in aiff_chunk_ids(aiff)


def test_corrupt_source_fails_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "broken.mp3"
    src.write_bytes(b"\x00not audio at all\xff" * 500)
    lib = tmp_path / "lib"
    for recipe in RECIPES.values():
        with pytest.raises(TrackFailure) as info:
            convert(src, lib / f"x.{recipe.extension}", recipe, TAGS)
        assert info.value.category is Category.CONVERSION_FAILED
        assert "ffmpeg" in info.value.message and "broken.mp3" in info.value.message
    assert list(lib.iterdir()) == []


def _plain_convert(src: Path, dst: Path, recipe: FormatRecipe) -> Path:
    """What the plain command line (the fallback) makes of `src`, untagged."""
    subprocess.run(ffmpeg_argv(src, dst, recipe, ffmpeg_exe()), check=True)
    return dst


def pcm(path: Path) -> bytes:
    """The decoded samples of `path` (tags and container aside)."""
    argv = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "s32le", "-"]
    return subprocess.run(argv, capture_output=True, check=True).stdout


def test_the_graph_run_encodes_what_the_command_line_does(media: dict[str, Path], tmp_path: Path) -> None:
    for name in ("wav", "aiff", "flac"):
        recipe = RECIPES[name]
        dst = tmp_path / f"x.{recipe.extension}"
        convert(media["source"], dst, recipe, TAGS)
        plain = _plain_convert(media["source"], tmp_path / f"plain.{recipe.extension}", recipe)
        assert pcm(dst) == pcm(plain), name


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_runs_clean_in_the_graph(media: dict[str, Path], tmp_path: Path, name: str) -> None:
    # Not only a good file at the end: the graph run itself must succeed, or every file of the
    # format pays for two ffmpeg runs (FLAC once refused the graph's 65536-sample frames).
    recipe = RECIPES[name]
    work = tmp_path / "work"
    work.mkdir()
    dst = tmp_path / f"x.{recipe.extension}"
    argv = ffmpeg_argv(media["source"], dst, recipe, ffmpeg_exe(), graphinput.link(media["source"], work))
    assert graphinput.run_graph(argv, work, 60.0) is not None
    assert pcm(dst) == pcm(_plain_convert(media["source"], tmp_path / f"plain.{recipe.extension}", recipe))
    if name == "flac":  # the FLAC subset's largest block at 44.1/48 kHz, which hardware players decode
        assert FLAC(dst).info.max_blocksize <= 4608


def test_a_flac_source_runs_clean_in_the_graph_every_time(tmp_path: Path) -> None:
    # With threaded decoding inside the graph, ffmpeg 9 crashed on about every other run of a FLAC.
    src = tmp_path / "source.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1:sample_rate=44100", "-ac", "2", str(src))
    work = tmp_path / "work"
    work.mkdir()
    argv = ffmpeg_argv(src, tmp_path / "x.wav", RECIPES["wav"], ffmpeg_exe(), graphinput.link(src, work))
    failed = sum(graphinput.run_graph(argv, work, 60.0) is None for _ in range(20))
    assert failed == 0


def test_a_damaged_mp3_converts_as_far_as_the_command_line_gets(media: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "damaged.mp3"
    data = bytearray(media["source"].read_bytes())
    at = len(data) * 2 // 3
    data[at:at + 400] = np.random.default_rng(5).integers(0, 256, 400, dtype=np.uint8).tobytes()
    src.write_bytes(bytes(data))
    work = tmp_path / "work"
    work.mkdir()
    argv = ffmpeg_argv(src, tmp_path / "graph.wav", RECIPES["wav"], ffmpeg_exe(), graphinput.link(src, work))
    assert graphinput.run_graph(argv, work, 60.0) is None  # the graph run logs the damage
    dst = tmp_path / "lib" / "x.wav"
    convert(src, dst, RECIPES["wav"], TAGS)
    assert pcm(dst) == pcm(_plain_convert(src, tmp_path / "plain.wav", RECIPES["wav"]))
    assert len(pcm(dst)) > 0.9 * SECONDS * 44100 * 8


def test_failure_keeps_the_previous_complete_file(tmp_path: Path) -> None:
    src = tmp_path / "broken.flac"
    src.write_bytes(b"fLaC" + b"\x00" * 64)
    dst = tmp_path / "lib" / "kept.wav"
    dst.parent.mkdir()
    dst.write_bytes(b"previous build")
    with pytest.raises(TrackFailure):
        convert(src, dst, RECIPES["wav"], TAGS)
    assert dst.read_bytes() == b"previous build"
    assert [p.name for p in dst.parent.iterdir()] == ["kept.wav"]


def test_tagging_failure_is_a_conversion_failure_and_leaves_nothing(
    media: dict[str, Path], tmp_path: Path
) -> None:
    gif = tmp_path / "cover.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 32)
    lib = tmp_path / "lib"
    with pytest.raises(TrackFailure) as info:
        convert(media["source"], lib / "x.m4a", RECIPES["m4a"], replace(TAGS, artwork=gif))
    assert info.value.category is Category.CONVERSION_FAILED
    assert "JPEG" in info.value.message
    assert list(lib.iterdir()) == []


def test_awkward_relative_names_are_not_protocols(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Bare, ffmpeg would read 'concat:odd.mp3' as its concat protocol over 'odd.mp3'.
    src = Path("concat:odd.mp3")
    src.write_bytes(media["source"].read_bytes())
    dst = Path("lib") / "-out: 1.flac"
    convert(src, dst, RECIPES["flac"], TAGS)
    assert decodes(tmp_path / dst)


def test_unset_channels_folds_surround_to_stereo_plain_pcm(tmp_path: Path) -> None:
    src = tmp_path / "surround.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1:sample_rate=44100", "-ac", "6", str(src))
    recipe = replace(RECIPES["wav"], channels=None)
    dst = tmp_path / "out.wav"
    convert(src, dst, recipe, TAGS)
    tag, channels = struct.unpack("<HH", riff_chunks(dst)[b"fmt "][:4])
    assert (tag, channels) == (1, 2)


def test_ffmpeg_argv_for_the_m4a_recipe() -> None:
    argv = ffmpeg_argv(Path("/c/in.webm"), Path("/lib/.a.1.part.m4a"), RECIPES["m4a"], "/bin/ff")
    assert argv == [
        "/bin/ff", "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
        "-i", "file:/c/in.webm",
        "-map", "0:a:0", "-vn", "-map_metadata", "-1", "-map_chapters", "-1",
        "-c:a", "aac", "-b:a", "256k", "-ar", "44100", "-ac", "2",
        "-aac_coder", "fast",
        "-fflags", "+bitexact", "-f", "ipod", "file:/lib/.a.1.part.m4a",
    ]  # fmt: skip


def test_the_graph_argv_reads_the_link_and_keeps_the_recipe() -> None:
    plain = ffmpeg_argv(Path("/c/in.webm"), Path("lib/.a.1.part.m4a"), RECIPES["m4a"], "/bin/ff")
    graph = ffmpeg_argv(Path("/c/in.webm"), Path("lib/.a.1.part.m4a"), RECIPES["m4a"], "/bin/ff", "in.webm")
    assert graph[graph.index("-i") + 1] == "amovie=in.webm:s=a\\\\:0:dec_threads=1,asetnsamples=n=4096:p=0"
    assert graph[graph.index("-loglevel") + 1] == "level+error"  # errors marked: a damaged file is noticed
    assert graph[-1] == f"file:{Path.cwd() / 'lib/.a.1.part.m4a'}" and plain[-1] == "file:lib/.a.1.part.m4a"
    start = plain.index("-map_metadata")
    assert graph[graph.index("-map_metadata"):-1] == plain[start:-1]


def test_ffmpeg_argv_applies_sample_fmt_and_keeps_layout_when_unset() -> None:
    recipe = FormatRecipe(
        name="flac24", extension="flac", codec="flac", container="flac", tagger="flac",
        sample_fmt="s32",
    )  # fmt: skip
    argv = ffmpeg_argv(Path("in.wav"), Path("out.flac"), recipe, "ffmpeg")
    assert argv[argv.index("-sample_fmt") + 1] == "s32"
    assert argv[argv.index("-af") + 1] == "aformat=channel_layouts=mono|stereo"
    assert "-ar" not in argv and "-ac" not in argv and "-b:a" not in argv
    assert argv[-2:] == ["flac", "file:out.flac"]

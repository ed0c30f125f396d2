"""Hardening of the manifest loader, the CLI and plain `doit`: hostile or mistaken input gives
one clear message (file, line, fix; or `error: ...` and exit 2), fast, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from cratefile.cli import main
from cratefile.engine.lock import WorkspaceLock
from cratefile.errors import ManifestError
from cratefile.manifest import load_manifest
from cratefile.yamlpos import MAX_DEPTH, parse_yaml

REPO = Path(__file__).resolve().parents[1]
DOIT = Path(sys.executable).with_name("doit")
ENV = {"HOME": "/nonexistent-home"}
URL = "https://soundcloud.com/user/sets/name"
ONE = f"""\
playlists:
  - name: A
    url: {URL}
"""
FOLDER = """\
playlists:
  - name: A
    folder: music
"""


def write(root: Path, manifest: str, files: Mapping[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "playlists.yaml"
    path.write_text(textwrap.dedent(manifest).lstrip("\n"), encoding="utf-8")
    for name, content in (files or {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return path


def error(root: Path, manifest: str, files: Mapping[str, str] | None = None) -> str:
    path = write(root, manifest, files)
    with pytest.raises(ManifestError) as info:
        load_manifest(path, env=ENV)
    return str(info.value)


def timed_error(root: Path, manifest: str) -> tuple[str, float]:
    start = time.perf_counter()
    message = error(root, manifest)
    return message, time.perf_counter() - start


# ---------------------------------------------------------------- non-finite numbers


@pytest.mark.parametrize("word", [".inf", ".nan", ".NaN", "-.Inf", "1.0e+999"])
def test_non_finite_bpm_range_names_line_and_path(tmp_path: Path, word: str) -> None:
    msg = error(tmp_path, ONE + f"analysis: {{bpm_range: [{word}, {word}]}}\n")
    assert msg.splitlines() == [
        f"playlists.yaml:4 analysis.bpm_range[{i}]: {word} is not a finite number (no setting "
        "takes infinity or NaN: give a plain number, or quote it if you mean text)"
        for i in (0, 1)
    ]


@pytest.mark.parametrize("line, path", [
    ("retry: {attempts: .inf}", "retry.attempts"),
    ("download: {sleep_requests: .nan}", "download.sleep_requests"),
    ("playlists:\n  - name: B\n    url: " + URL + "\n    bpm_range: [80, .inf]",
     "playlists[0].bpm_range[1]"),
])
def test_non_finite_number_anywhere_in_the_manifest(tmp_path: Path, line: str, path: str) -> None:
    manifest = line + "\n" if line.startswith("playlists") else ONE + line + "\n"
    msg = error(tmp_path, manifest)
    assert f" {path}: " in msg and "is not a finite number" in msg
    assert msg.startswith("playlists.yaml:")


def test_non_finite_number_in_a_rules_file(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE, {"rules/formats.yaml": """
        formats:
          wav:
            extension: wav
            codec: pcm_s16le
            container: wav
            tagger: id3
            sample_rate: .nan
        """})
    assert msg.startswith("rules/formats.yaml:7 formats.wav.sample_rate: .nan is not a finite "
                          "number (")
    msg = error(tmp_path / "other", ONE, {"rules/naming.yaml": "max_length: .inf\n"})
    assert msg.startswith("rules/naming.yaml:1 max_length: .inf is not a finite number (")


def test_numbers_and_dates_python_cannot_hold_are_manifest_errors(tmp_path: Path) -> None:
    digits = "1" + "0" * 5000  # past int()'s 4,300-digit limit: a ValueError without a line
    msg = error(tmp_path, ONE + f"retry: {{attempts: {digits}}}\n")
    assert msg.startswith("playlists.yaml:4 retry.attempts: 10000000000000000000... (5001 "
                          "characters) is too large a number (")
    msg = error(tmp_path, ONE + f"retry: {{attempts: {digits[:400]}}}\n")  # past float's range
    assert "retry.attempts: " in msg and "is too large a number" in msg
    msg = error(tmp_path, "playlists:\n  - name: 2024-02-30\n    url: " + URL + "\n")
    assert msg.startswith("playlists.yaml:2 playlists[0].name: 2024-02-30 is not a valid date (")


def test_finite_numbers_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, ONE + "analysis: {bpm_range: [85.5, 171.0]}\nretry: {attempts: 0x10}\n")
    manifest = load_manifest(path, env=ENV)
    assert (manifest.analysis.bpm_min, manifest.analysis.bpm_max) == (85.5, 171.0)
    assert manifest.retry.transient_attempts == 16


# ---------------------------------------------------------------- library and cache folders


@pytest.mark.parametrize("key", ["library", "cache"])
def test_library_or_cache_naming_a_file(tmp_path: Path, key: str) -> None:
    (tmp_path / "stuff.txt").write_text("not a folder\n")
    msg = error(tmp_path, ONE + f"{key}: stuff.txt\n")
    assert msg == (f"playlists.yaml:4 {key}: 'stuff.txt' is a file, not a folder "
                   f"({tmp_path / 'stuff.txt'}) ({key}: is a folder, made if missing: move that "
                   "file away, or give another path)")


def test_default_library_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "library").write_text("oops\n")
    msg = error(tmp_path, ONE)
    assert msg.startswith(f"playlists.yaml:1 library: 'library' is a file, not a folder "
                          f"({tmp_path / 'library'}) (")


def test_cache_inside_a_file_or_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "blob").write_text("x")
    msg = error(tmp_path, ONE + "cache: blob/state\n")
    assert msg.startswith(f"playlists.yaml:4 cache: 'blob/state' is inside a file, not a folder "
                          f"({tmp_path / 'blob'}) (")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    msg = error(tmp_path, ONE + "cache: gone\n")
    assert msg.startswith(f"playlists.yaml:4 cache: 'gone' is a broken symbolic link "
                          f"({tmp_path / 'gone'}) (")


def test_library_and_cache_folders_that_exist_or_not_yet_load(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    path = write(tmp_path, ONE + "library: out/lib\ncache: state/deep/er\n")
    manifest = load_manifest(path, env=ENV)
    assert manifest.library == tmp_path / "out" / "lib"
    assert manifest.cache == tmp_path / "state" / "deep" / "er"


# ---------------------------------------------------------------- nesting and aliases


@pytest.mark.parametrize("deep", [
    "x: " + "[" * 5000 + "]" * 5000,
    "x: " + "{a: " * 5000 + "1" + "}" * 5000,
    "x:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 2500)),  # block style
])
def test_deep_nesting_fails_fast_with_a_line(tmp_path: Path, deep: str) -> None:
    msg, seconds = timed_error(tmp_path, ONE + deep + "\n")
    assert seconds < 1.5
    where, what = msg.split(" ", 1)
    line = int(where.split(":")[1])  # playlists.yaml:<line>:<column>:
    assert line == 4 if deep.startswith("x: ") else 4 < line < 4 + MAX_DEPTH
    assert what.startswith(f"values are nested more than {MAX_DEPTH} levels deep (a manifest "
                           "needs only a few levels")
    assert "\n" not in msg


def test_nesting_up_to_the_bound_parses() -> None:
    inside = MAX_DEPTH - 1  # the top-level mapping is the first level
    doc = parse_yaml(("x: " + "[" * inside + "]" * inside + "\n").encode(), "deep.yaml")
    assert doc.has(("x",) + (0,) * (inside - 1))
    with pytest.raises(ManifestError, match=r"^deep\.yaml:1:\d+: values are nested more than"):
        parse_yaml(("x: " + "[" * (inside + 1) + "]" * (inside + 1) + "\n").encode(), "deep.yaml")


def test_billion_laughs_fails_fast_at_the_alias(tmp_path: Path) -> None:
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for level in range(1, 9):
        name, prev = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    msg, seconds = timed_error(tmp_path, "\n".join(lines) + "\n" + ONE)
    assert seconds < 1.5
    # 9**7 values are reached at the first *f of line 7
    assert msg == ("playlists.yaml:7:8: aliases repeat more than 1,000,000 values (an alias "
                   "bomb? write the values out, or use fewer aliases)")


def test_aliases_nesting_too_deep_fail_at_the_alias(tmp_path: Path) -> None:
    chain = ["x0: &x0 {k: v}"] + [f"x{i}: &x{i} {{<<: *x{i - 1}, k{i}: v}}" for i in range(1, 3000)]
    lists = ["l0: &l0 [1]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, 3000)]
    for lines in (chain, lists):
        msg, seconds = timed_error(tmp_path, "\n".join(lines) + "\n" + ONE)
        assert seconds < 1.5
        assert f"this alias nests values more than {MAX_DEPTH} levels deep" in msg
        line = int(msg.split(":")[1])
        assert 90 < line <= MAX_DEPTH + 1


def test_alias_that_refers_to_itself_is_still_reported(tmp_path: Path) -> None:
    msg = error(tmp_path, "loop: &l [1, *l]\n" + ONE)
    assert msg == "playlists.yaml:1 loop[1]: an alias refers to itself (remove the loop)"


def test_huge_legitimate_manifest_with_shared_aliases_loads(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    entries = "".join(f"  - name: Crate {i}\n    folder: music\n    formats: *both\n"
                      for i in range(5000))
    path = write(tmp_path, "formats: &both [wav, aiff]\nplaylists:\n" + entries)
    manifest = load_manifest(path, env=ENV)
    assert len(manifest.playlists) == 5000
    assert manifest.playlists[4999].name == "Crate 4999"
    assert manifest.playlists[4999].formats == ("wav", "aiff")


# ---------------------------------------------------------------- the command line


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ws"
    (root / "music").mkdir(parents=True)
    write(root, FOLDER)
    monkeypatch.chdir(root)
    monkeypatch.setenv("CRATEFILE_LOG_DIR", str(root / "crash-logs"))
    return root


@pytest.mark.parametrize("argv, expected", [
    (["--bogus-option"], "error: unknown option --bogus-option (see cratefile --help)"),
    (["status", "--bogus"], "error: unknown option --bogus (see cratefile --help)"),
    (["status", "--refresh"],
     "error: --refresh is not an option of cratefile status (see cratefile --help)"),
    (["status", "everything"],
     "error: cratefile status takes no words ('everything') (see cratefile --help)"),
    (["export", "bogus"], "error: cratefile export what? (cratefile export rekordbox [-o FILE] "
                          "[--format FMT]) (see cratefile --help)"),
    (["export"], "error: cratefile export what? (cratefile export rekordbox [-o FILE] "
                 "[--format FMT]) (see cratefile --help)"),
    (["prune", "--bogus"], "error: unknown option --bogus (see cratefile --help)"),
    (["list", "--bogus"], "error: unknown option --bogus (see cratefile --help)"),
    (["--json"], "error: --json is not an option of cratefile run (see cratefile --help)"),
    (["fetch:a", "--bogus"], "error: unknown option --bogus (see cratefile --help)"),
    (["fetch:a", "-n", "2"],
     "error: option -n must come before the task names (see cratefile --help)"),
    (["-n"], "error: option -n needs a value (see cratefile --help)"),
    (["-n", "many"], "error: option -n/--process: invalid literal for int() with base 10: "
                     "'many' (see cratefile --help)"),
    (["--wait", "soon"],
     "error: argument --wait: invalid float value: 'soon' (see cratefile --help)"),
])
def test_misuse_is_one_error_line_and_exit_2(ws: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], expected: str) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", expected + "\n")
    assert not (ws / "cache").exists()  # nothing ran: no lock, no log, no catalog


def test_a_verbs_own_misuse_is_one_line_too(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "rekordbox", "--json"]) == 2  # the verb parses its own words
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and "'--json'" in err
    assert err.count("\n") == 1 and "usage:" not in err


def test_misuse_is_reported_before_the_manifest_is_read(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no playlists.yaml here
    assert main(["prune", "--bogus"]) == 2
    assert capsys.readouterr().err == "error: unknown option --bogus (see cratefile --help)\n"


def test_bogus_option_as_a_real_process_shows_no_doit_internals(ws: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "cratefile.cli", "--bogus-option"], cwd=ws,
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: unknown option --bogus-option (see cratefile --help)\n"


def test_status_takes_json_and_manifest(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.move(ws / "playlists.yaml", ws / "other.yaml")
    assert main(["status", "--json", "-m", "other.yaml"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data["playlists"]] == ["A"]


def test_real_options_and_commands_still_pass_through(ws: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-n", "2", "--refresh", "--retry-failed", "--wait", "1", "-v", "2"]) == 0
    out = capsys.readouterr().out
    assert "done    fetch:a" in out and "A: 0 tracks" in out
    assert main(["list", "--all", "-q"]) == 0
    assert "fetch:a" in capsys.readouterr().out.split()
    assert main(["fetch:a", "--refresh"]) == 0  # our options may follow task names
    assert main(["clean", "--dry-run", "fetch:a"]) == 0  # clean's own --dry-run (-n)
    assert main(["prune", "--dry-run"]) == 0
    assert main(["info", "fetch:a"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"]])
def test_help_into_a_closed_pipe_exits_quietly(ws: Path, argv: list[str]) -> None:
    read, write_end = os.pipe()
    os.close(read)  # the reader is gone before a byte is written: `cratefile --help | head -0`
    try:
        proc = subprocess.run([sys.executable, "-m", "cratefile.cli", *argv], cwd=ws,
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert proc.stderr == b""
    assert proc.returncode == 141  # 128 + SIGPIPE, as the shell reports for `yes | head -1`


def test_help_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: cratefile ")


# ---------------------------------------------------------------- plain doit


@pytest.fixture
def doit_ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "music").mkdir(parents=True)
    write(root, FOLDER)
    shutil.copy(REPO / "dodo.py", root / "dodo.py")
    return root


def doit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DOIT), *args], cwd=root, capture_output=True, text=True,
                          timeout=60)


def test_plain_doit_in_a_busy_workspace_is_one_line_and_exit_75(doit_ws: Path) -> None:
    with WorkspaceLock(doit_ws / "cache" / ".lock"):
        proc = doit(doit_ws)
    assert proc.returncode == 75
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"busy: another cratefile run holds {doit_ws} (pid {os.getpid()} ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_plain_doit_with_a_bad_manifest_is_one_error_and_exit_2(doit_ws: Path) -> None:
    write(doit_ws, "playlists: 3\n")
    proc = doit(doit_ws)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: playlists.yaml:1 playlists: 3 is not a list (")
    assert proc.stderr.count("\n") == 1


def test_plain_doit_in_a_free_workspace_still_works(doit_ws: Path) -> None:
    proc = doit(doit_ws, "list")
    assert proc.returncode == 0, proc.stderr
    assert "fetch" in proc.stdout.split()

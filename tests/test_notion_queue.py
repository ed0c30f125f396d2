"""Several machines, one Notion queue: two workspaces (each one machine) share one fake Notion
database as their work queue and one fake SoundCloud. A track another machine is building or
has built is not downloaded, not a failure and not a cool-off; the report counts it apart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Workspace
from fakes.notion import FakeNotion
from fakes.soundcloud import MEDIA, FakeSoundCloud

N = 6


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSoundCloud, FakeNotion]]:
    with FakeSoundCloud() as sc, FakeNotion() as notion:
        monkeypatch.setenv("CRATEFILE_YTDLP_LOOPBACK", sc.base_url)
        monkeypatch.setenv("NOTION_TOKEN", notion.token)
        yield sc, notion


def _queue(sc: FakeSoundCloud, notion: FakeNotion, n: int = N) -> dict[int, str]:
    """n tracks on SoundCloud, one unprocessed page each: track id -> page id."""
    pages = {}
    for i in range(1, n + 1):
        sc.add_track(i, f"Queued {i}", "DJ Q", 6)
        pages[i] = notion.seed_page({"Title": f"Queued {i}", "SoundCloud URL": sc.url_of_track(i),
                                     "Downloaded": False})
    return pages


def _machine(root: Path, notion: FakeNotion) -> Workspace:
    ws = Workspace(root)
    ws.manifest(f"""
        playlists:
          - name: Inbox
            notion: {{filter: unprocessed}}
            formats: [wav]
            refresh: 0
        notion:
          database: {notion.database_id}
          api_url: {notion.url}
    """)
    return ws


def _downloads(sc: FakeSoundCloud) -> dict[int, int]:
    """Media requests per track id: one per download."""
    return {i: sum(1 for h in sc.requests if h.host == MEDIA and t.secret in h.path) for i, t in sc.tracks.items()}


def _file(ws: Workspace, i: int) -> str:
    return str(ws.root / "library" / "wav" / f"DJ Q - Queued {i}.wav")


def _built(ws: Workspace) -> set[int]:
    wav = ws.root / "library" / "wav"
    return {int(p.stem.rsplit(" ", 1)[1]) for p in wav.glob("DJ Q - Queued *.wav")} if wav.exists() else set()


def _run_both(a: Workspace, b: Workspace) -> list[tuple[int, str]]:
    """Both machines at once, each a real `cratefile` process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "cratefile.cli", "-n", "3"], cwd=ws.root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for ws in (a, b)]
    out = []
    for p in procs:
        text, _ = p.communicate(timeout=300)
        out.append((p.returncode, text))
    return out


@pytest.mark.slow
def test_two_machines_split_the_queue_and_never_build_what_the_other_built(tmp_path: Path, services) -> None:
    sc, notion = services
    pages = _queue(sc, notion)
    a, b = _machine(tmp_path / "a", notion), _machine(tmp_path / "b", notion)

    first = _run_both(a, b)
    assert [rc for rc, _ in first] == [0, 0], first  # a track held by the other is not a failure
    built_a, built_b = _built(a), _built(b)
    assert built_a | built_b == set(pages) and not built_a & built_b, (built_a, built_b, first)
    assert set(_downloads(sc).values()) == {1}  # every track downloaded once, by one machine
    assert all(notion.value(p, "Downloaded") is True for p in pages.values())
    for i, page in pages.items():  # each page names the file of the machine that built it
        owner = a if i in built_a else b
        assert notion.value(page, "WAV/AIFF/M4A File Path") == _file(owner, i)
        assert notion.value(page, "Processing Lock") == ""  # released
    for ws, (_rc, out) in zip((a, b), first, strict=True):
        report = ws.report()
        assert report["playlists"][0]["failed"] == [], out
        elsewhere = report["playlists"][0]["elsewhere"]
        # what this machine listed and did not build, it left to the other: being built, or built
        assert report["playlists"][0]["total"] - len(_built(ws)) == elsewhere["locked"] + elsewhere["built"], out

    second = _run_both(a, b)  # the next runs: nothing left to do anywhere
    assert [rc for rc, _ in second] == [0, 0], second
    assert set(_downloads(sc).values()) == {1}, second  # neither downloaded what the other built
    assert (_built(a), _built(b)) == (built_a, built_b)
    for ws, mine, (_rc, out) in zip((a, b), (built_a, built_b), second, strict=True):
        (playlist,) = ws.report()["playlists"]
        assert playlist["failed"] == [] and playlist["pending"] == 0, out
        assert playlist["up_to_date"] == len(mine), out
        listed = playlist["total"] - len(mine)  # the other machine's tracks this one had listed
        assert playlist["elsewhere"] == {"locked": 0, "built": listed}, out
        if listed:
            assert f"{listed} built by another machine" in out, out
        (line,) = [x for x in out.splitlines() if x.startswith("Inbox: ")]
        assert "failed" not in line, out
    for i, page in pages.items():  # and nobody wrote "not downloaded" over the other's pages
        owner = a if i in built_a else b
        assert notion.value(page, "Downloaded") is True
        assert notion.value(page, "WAV/AIFF/M4A File Path") == _file(owner, i)
        assert notion.value(page, "Processing Lock") == ""


@pytest.mark.slow
def test_a_page_built_by_another_machine_is_re_read_and_skipped(tmp_path: Path, services) -> None:
    """Machine B lists the whole queue, then machine A builds all of it: B's run looks at each
    page before downloading, sees it built and leaves it (no download, no lock, no write)."""
    sc, notion = services
    pages = _queue(sc, notion, 3)
    a, b = _machine(tmp_path / "a", notion), _machine(tmp_path / "b", notion)
    rc, out, err = b.run("fetch:inbox")  # B takes the queue into its playlist, builds nothing yet
    assert rc == 0, out + err
    rc, out, err = a.run()
    assert rc == 0, out + err
    assert _built(a) == set(pages)
    before = _downloads(sc)
    notion.clear_log()

    rc, out, err = b.run()
    assert rc == 0, out + err  # built elsewhere is not a failure
    assert _downloads(sc) == before  # not one download
    assert _built(b) == set()
    report = b.report()
    (playlist,) = report["playlists"]
    assert playlist["elsewhere"] == {"locked": 0, "built": 3} == report["elsewhere"]
    assert playlist["failed"] == [] and playlist["held_back"] == [] and playlist["pending"] == 0
    assert "Inbox: 3 tracks, 0 built now, 0 up to date, 3 built by another machine" in out
    assert "Notion queue: 3 tracks built by another machine (not downloaded here)" in out
    # one GET per page, nothing written: no lock taken, the pages stay the other machine's
    page_gets = [r for r in notion.requests if r.method == "GET" and r.path.startswith("/v1/pages/")]
    assert sorted(r.path.rsplit("/", 1)[1] for r in page_gets) == sorted(pages.values())
    assert notion.writes() == []
    rows = b.catalog_rows("SELECT error_category FROM tracks")
    assert {c for (c,) in rows} == {"built_elsewhere"}  # recorded, but never a permanent failure

    rc, out, err = b.run()  # and again: still nothing to download, still exit 0
    assert rc == 0, out + err
    assert _downloads(sc) == before
    assert notion.writes() == []


@pytest.mark.slow
def test_locked_and_built_elsewhere_are_counted_apart_and_retried_next_run(tmp_path: Path, services) -> None:
    sc, notion = services
    pages = _queue(sc, notion, 3)
    ws = _machine(tmp_path / "b", notion)
    rc, out, err = ws.run("fetch:inbox")
    assert rc == 0, out + err
    other = f"4242:other-host:{'d' * 32}:{int(time.time())}"
    notion.set_values(pages[1], {"Processing Lock": other})  # another machine is on it
    notion.set_values(pages[2], {"Downloaded": True, "WAV/AIFF/M4A File Path": "/elsewhere/Queued 2.wav"})

    rc, out, err = ws.run()
    assert rc == 0, out + err
    report = ws.report()
    (playlist,) = report["playlists"]
    assert playlist["elsewhere"] == {"locked": 1, "built": 1} == report["elsewhere"]
    assert playlist["built_now"] == 1 and playlist["failed"] == []
    assert _built(ws) == {3}
    assert ("Notion queue: 1 track being built by another machine (retried next run), "
            "1 built by another machine (not downloaded here); not failures") in out
    assert notion.value(pages[1], "Processing Lock") == other  # someone else's lock, untouched
    assert notion.value(pages[1], "Audio Processing Status") == []  # and its page not written
    assert notion.value(pages[2], "WAV/AIFF/M4A File Path") == "/elsewhere/Queued 2.wav"
    assert notion.value(pages[3], "Downloaded") is True
    assert notion.value(pages[3], "Processing Lock") == ""

    notion.set_values(pages[1], {"Processing Lock": ""})  # the other machine gave up on it
    rc, out, err = ws.run()  # no cool-off: retried at once, and built here
    assert rc == 0, out + err
    assert _built(ws) == {1, 3}
    assert ws.report()["playlists"][0]["elsewhere"] == {"locked": 0, "built": 1}
    assert notion.value(pages[1], "Downloaded") is True
    assert notion.value(pages[1], "Processing Lock") == ""

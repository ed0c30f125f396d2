"""The whole build against a fake SoundCloud on 127.0.0.1, through the real yt-dlp extractors
(requests are sent to the fake by the CRATEFILE_YTDLP_LOOPBACK base URL)."""

from __future__ import annotations

import pytest

from conftest import Workspace
from fakes.soundcloud import FakeSoundCloud


def _done(out: str, kind: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines()
            if line.startswith("done ") and line.split()[1].startswith(kind)]


@pytest.mark.slow
def test_soundcloud_set_builds_classifies_failures_and_reruns_offline(
        workspace: Workspace, soundcloud: FakeSoundCloud) -> None:
    fake = soundcloud
    fake.add_track(1, "Alpha", "DJ One", 6)
    fake.add_track(2, "Gone", "DJ One", 6, behavior="not_found")
    fake.add_track(3, "Teaser", "DJ Two", 40, behavior="preview")
    fake.add_track(4, "Master", "DJ Two", 6, behavior="original_wav")
    fake.add_track(5, "Busy", "DJ One", 6, behavior="rate_limited:2")
    fake.add_track(6, "Locked", "DJ Two", 6, behavior="drm")
    set_url = fake.add_set("DJ One", "friday", [1, 2, 3, 4, 5, 6])
    fake.add_track(7, "Solo", "DJ Three", 6)
    workspace.manifest(f"""
        formats: [wav]
        playlists:
          - name: Friday
            url: {set_url}
          - name: Singles
            url: {fake.url_of_track(1)}
            formats: [wav, mp3]
    """)
    rc, out, err = workspace.run()
    assert rc == 1, out + err  # some tracks failed, the others are built
    report = {p["slug"]: p for p in workspace.report()["playlists"]}
    friday = report["friday"]
    assert friday["total"] == 6 and friday["built_now"] == 3
    categories = {f["key"]: f["category"] for f in friday["failed"]}
    assert categories == {"soundcloud 2": "not_found", "soundcloud 3": "preview_only", "soundcloud 6": "drm"}
    assert len(_done(out, "download:soundcloud-1")) == 1  # listed twice, downloaded once
    lib = workspace.root / "library"
    names = sorted(p.name for p in (lib / "wav").iterdir())
    assert names == ["DJ One - Alpha.wav", "DJ One - Busy.wav", "DJ Two - Master.wav"]
    assert not any("Teaser" in p.name for p in lib.rglob("*"))  # the preview never lands
    assert not any("Teaser" in p.name or "soundcloud-3" in p.name for p in (workspace.root / "cache").rglob("*.mp3"))

    fake.reset_counts()
    rc, out, err = workspace.run()
    assert rc == 0, out + err  # permanent failures wait for their cool-off
    assert workspace.report()["tasks_executed"] == 0
    assert fake.requests == []  # fresh snapshots, built tracks: not one request

    fake.append_to_set(set_url, [7])
    fake.reset_counts()
    rc, out, err = workspace.run("--refresh")
    assert rc == 0, out + err
    assert _done(out, "download:") == ["download:soundcloud-7"]
    assert (lib / "wav" / "DJ Three - Solo.wav").exists()
    m3u = (lib / "playlists" / "Friday" / "Friday (wav).m3u8").read_text().splitlines()
    assert [line for line in m3u if not line.startswith("#")][-1] == "wav/DJ Three - Solo.wav"


@pytest.mark.slow
def test_soundcloud_down_keeps_the_last_snapshot_and_says_so(workspace: Workspace, soundcloud: FakeSoundCloud,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    fake = soundcloud
    fake.add_track(31, "Kept", "DJ Four", 6)
    fake.add_track(32, "Hls", "DJ Four", 6, behavior="hls_aac")
    set_url = fake.add_set("DJ Four", "offline", [31, 32])
    workspace.manifest(f"""
        playlists:
          - name: Offline
            url: {set_url}
            formats: [wav]
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    lib = workspace.root / "library" / "wav"
    assert sorted(p.name for p in lib.iterdir()) == ["DJ Four - Hls.wav", "DJ Four - Kept.wav"]

    with socket.socket() as s:  # SoundCloud unreachable: a closed port on loopback
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("CRATEFILE_YTDLP_LOOPBACK", f"http://127.0.0.1:{closed}")
    rc, out, err = workspace.run("--refresh")
    assert rc == 1, out + err
    (playlist,) = workspace.report()["playlists"]
    assert "fetch_error" in playlist and playlist["up_to_date"] == 2
    assert "playlist not refreshed" in out
    assert sorted(p.name for p in lib.iterdir()) == ["DJ Four - Hls.wav", "DJ Four - Kept.wav"]

"""A track about to be downloaded that the user's Eagle library already holds is taken from
Eagle, not downloaded (sinks/eagle/supply.py): fake SoundCloud and fake Eagle on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import Workspace, make_track
from fakes.eagle import FakeEagle
from fakes.soundcloud import AAC_HLS, DOWNLOAD, HLS, MEDIA, FakeSoundCloud

CDN = {MEDIA, HLS, AAC_HLS, DOWNLOAD}


def _manifest(ws: Workspace, urls: list[str], api_url: str) -> None:
    """One playlist per track URL: a track's own page names its title, artist and length before
    any download (a set's flat entries do not, so their tracks are always downloaded), as do
    the Spotify and Discogs tracks matched by search."""
    playlists = "".join(f"\n  - {{name: Friday {i}, url: '{url}'}}" for i, url in enumerate(urls))
    ws.manifest(f"formats: [wav]\nplaylists:{playlists}\neagle: {{api_url: '{api_url}', formats: [wav]}}\n")


def _media_requests(fake: FakeSoundCloud, track_id: int) -> int:
    """Requests for the track's audio bytes (the CDN hosts), not for its page or stream URLs."""
    secret = fake.tracks[track_id].secret
    return sum(1 for h in fake.requests if h.host in CDN and secret in h.path)


def _sidecars(ws: Workspace) -> dict[str, dict]:
    found = {}
    for path in (ws.root / "cache" / "audio").glob("*.json"):
        data = json.loads(path.read_text())
        found[data["title"]] = data
    return found


def test_a_track_eagle_holds_is_copied_from_eagle_not_downloaded(
        workspace: Workspace, soundcloud: FakeSoundCloud, tmp_path: Path) -> None:
    fake = soundcloud
    urls = [fake.add_track(1, "Alpha", "Ann", 20), fake.add_track(2, "Beta", "Bob", 20),
            fake.add_track(3, "Gamma", "Cy", 20)]
    with FakeEagle(tmp_path / "Music.library") as eagle:
        # the user's own WAV of Alpha: same name, same length
        mine = eagle.add_user_item(make_track(tmp_path / "old" / "alpha.wav", seconds=20), name="Ann - Alpha")
        # a Beta of another length (an extended mix): not the track
        eagle.add_user_item(make_track(tmp_path / "old" / "beta.wav", seconds=30, seed=3), name="Bob - Beta")
        # a Gamma under the title alone: the artist is not named, so not taken without a download
        eagle.add_user_item(make_track(tmp_path / "old" / "gamma.wav", seconds=20, seed=4), name="Gamma")
        _manifest(workspace, urls, eagle.url)
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        sidecars = _sidecars(workspace)
        assert sidecars["Alpha"]["supplied_by"] == f"eagle:{mine['id']}"
        assert sidecars["Beta"]["supplied_by"] is None and sidecars["Gamma"]["supplied_by"] is None
        assert _media_requests(fake, 1) == 0 and _media_requests(fake, 2) > 0 and _media_requests(fake, 3) > 0
        assert [s["from"] for s in workspace.report()["supplied"]] == [f"eagle:{mine['id']}"]
        wavs = sorted(p.name for p in (workspace.root / "library" / "wav").glob("*.wav"))
        assert wavs == ["Ann - Alpha.wav", "Bob - Beta.wav", "Cy - Gamma.wav"]
        # the Eagle step then files the user's item itself (same recording), imports the others
        imported = sorted(Path(c.body["path"]).name for c in eagle.calls("item/addFromPath"))
        assert imported == ["Bob - Beta.wav", "Cy - Gamma.wav"]
        assert eagle.folder_id("Playlists/Friday 0") in eagle.items[mine["id"]]["folders"]
        rc, out, err = workspace.run()
        assert rc == 0 and workspace.report()["tasks_executed"] == 0, out + err


def test_eagle_closed_means_the_tracks_are_downloaded(
        workspace: Workspace, soundcloud: FakeSoundCloud) -> None:
    url = soundcloud.add_track(1, "Alpha", "Ann", 6)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _manifest(workspace, [url], f"http://127.0.0.1:{port}")
    workspace.run()
    assert (workspace.root / "library" / "wav" / "Ann - Alpha.wav").is_file()
    assert _media_requests(soundcloud, 1) > 0


def test_an_item_name_never_leads_outside_its_folder(tmp_path: Path) -> None:
    from cratefile.sinks.eagle.supply import _file

    library = tmp_path / "Music.library"
    (library / "images" / "K1.info").mkdir(parents=True)
    (library / "images" / "K1.info" / "Ann - Alpha.wav").write_bytes(b"RIFF")
    (library / "secret.wav").write_bytes(b"RIFF")
    assert _file(library, {"id": "K1", "name": "Ann - Alpha"}, "wav") is not None
    assert _file(library, {"id": "K1", "name": "../../secret"}, "wav") is None
    assert _file(library, {"id": "../K1.info/../..", "name": "secret"}, "wav") is None

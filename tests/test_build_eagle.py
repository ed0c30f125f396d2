"""The build's Eagle step against a fake Eagle on 127.0.0.1: imported once, found again, and a
closed Eagle never stops the build."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import Workspace, make_track
from fakes.eagle import FakeEagle


def _manifest(ws: Workspace, api_url: str) -> None:
    ws.manifest(f"""
        playlists:
          - name: Warmup
            folder: music
            formats: [wav, m4a]
        eagle:
          api_url: {api_url}
          formats: [wav]
    """)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_eagle_imports_each_file_once_into_the_playlist_folder(workspace: Workspace, tmp_path: Path) -> None:
    make_track(workspace.music / "a.mp3", title="Alpha", artist="Ann", bpm=122, key="Am")
    make_track(workspace.music / "b.mp3", title="Beta", artist="Bob", bpm=128, key="C", seed=1)
    with FakeEagle(tmp_path / "Music.library") as eagle:
        _manifest(workspace, eagle.url)
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        items = eagle.live_items()
        assert sorted(i["name"] for i in items) == ["Ann - Alpha", "Bob - Beta"]
        folder = eagle.folder_id("Playlists/Warmup")
        assert folder and all(folder in i["folders"] for i in items)
        alpha = next(i for i in items if i["name"] == "Ann - Alpha")
        assert {"playlist:Warmup", "bpm:122", "key:Am", "camelot:8A", "artist:Ann"} <= set(alpha["tags"])
        ids = [json.loads(r[0]) for r in workspace.catalog_rows("SELECT eagle_ids FROM tracks")]
        assert sorted(i["wav"] for i in ids) == sorted(i["id"] for i in items)

        imports = len(eagle.calls("item/addFromPath")) + len(eagle.calls("item/addFromPaths"))
        rc, out, err = workspace.run()
        assert rc == 0 and workspace.report()["tasks_executed"] == 0
        assert len(eagle.calls("item/addFromPath")) + len(eagle.calls("item/addFromPaths")) == imports

        # a lost cache (catalog and doit DB gone) still finds the items instead of importing again
        for name in ("catalog.sqlite", "doit.sqlite"):
            for f in (workspace.root / "cache").glob(name + "*"):
                f.unlink()
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        assert len(eagle.live_items()) == 2
        assert len(eagle.calls("item/addFromPath")) + len(eagle.calls("item/addFromPaths")) == imports


def test_eagle_not_running_is_one_line_and_the_build_goes_on(workspace: Workspace, tmp_path: Path) -> None:
    make_track(workspace.music / "a.mp3", title="Alpha", artist="Ann")
    make_track(workspace.music / "b.mp3", title="Beta", artist="Bob", seed=1)
    _manifest(workspace, f"http://127.0.0.1:{_closed_port()}")
    rc, out, err = workspace.run()
    assert rc == 1
    assert len(list((workspace.root / "library" / "wav").iterdir())) == 2  # the build went on
    assert len(list((workspace.root / "library" / "m4a").iterdir())) == 2
    failed_lines = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed_lines) == 1 and "Eagle is not running" in failed_lines[0], out  # once, not per file
    assert "not running" in " ".join(workspace.report()["errors"])

    with FakeEagle(tmp_path / "Music.library") as eagle:  # next run, Eagle is up: the step is retried
        _manifest(workspace, eagle.url)
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        assert len(eagle.live_items()) == 2


def test_a_track_the_users_eagle_already_holds_is_reused_not_imported(workspace: Workspace, tmp_path: Path) -> None:
    make_track(workspace.music / "a.mp3", title="Alpha", artist="Ann", bpm=122, key="Am")
    make_track(workspace.music / "b.mp3", title="Beta", artist="Bob", bpm=128, key="C", seed=1)
    # the user's own WAV of Alpha, the same recording, imported into Eagle by hand long ago
    theirs = make_track(tmp_path / "old" / "alpha.wav", title="Alpha", artist="Ann", bpm=122, key="Am")
    with FakeEagle(tmp_path / "Music.library") as eagle:
        mine = eagle.add_user_item(theirs, name="Ann - Alpha", tags=["classic"])
        # and a Beta that is another recording under the same name: not reused
        other = eagle.add_user_item(make_track(tmp_path / "old" / "beta.wav", seed=7), name="Bob - Beta")
        _manifest(workspace, eagle.url)
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        imported = [c.body["path"] for c in eagle.calls("item/addFromPath")]
        assert [Path(p).name for p in imported] == ["Bob - Beta.wav"]
        ids = dict(workspace.catalog_rows("SELECT title, eagle_ids FROM tracks"))
        assert json.loads(ids["Alpha"]) == {"wav": mine["id"]}
        folder = eagle.folder_id("Playlists/Warmup")
        assert folder in eagle.items[mine["id"]]["folders"] and "classic" in eagle.items[mine["id"]]["tags"]
        assert json.loads(ids["Beta"])["wav"] != other["id"] and eagle.items[other["id"]]["folders"] == []
        rc, out, err = workspace.run()
        assert rc == 0 and workspace.report()["tasks_executed"] == 0
        assert len(eagle.calls("item/addFromPath")) == 1

"""An acoustic duplicate keeps its own Notion page, which shows the kept recording's files and
state (real notion-client against the fake Notion on 127.0.0.1, real ffmpeg and chromaprint)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import Workspace, make_track
from fakes.notion import FakeNotion

pytestmark = pytest.mark.slow


@pytest.fixture
def notion(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNotion]:
    with FakeNotion() as fake:
        monkeypatch.setenv("NOTION_TOKEN", fake.token)
        yield fake


def test_an_alias_page_shows_the_kept_file_and_is_not_pending(workspace: Workspace, notion: FakeNotion) -> None:
    make_track(workspace.music / "a master.wav", title="Master", artist="A", seed=1)
    make_track(workspace.music / "b rip.mp3", title="Master (rip)", artist="A", seed=1)  # the same recording
    make_track(workspace.music / "c other.mp3", title="Other", artist="C", seed=5)
    workspace.manifest(f"""
        playlists:
          - name: Crate
            folder: music
            formats: [wav]
        notion:
          database: {notion.database_id.replace('-', '')}
          api_url: {notion.url}
    """)
    for _ in range(2):  # found to be duplicates in the first run, an alias from the next one on
        rc, out, err = workspace.run()
        assert rc == 0, out + err
    keys = dict(workspace.catalog_rows("SELECT title, key FROM tracks"))
    assert workspace.catalog_rows(f"SELECT duplicate_of FROM tracks WHERE key = '{keys['Master (rip)']}'") == [
        (keys["Master"],)]
    pages = {notion.value(p["id"], "Title"): p["id"] for p in notion.live_pages()}
    assert sorted(pages) == ["Master", "Master (rip)", "Other"]  # the alias keeps its own page
    master, rip = pages["Master"], pages["Master (rip)"]
    path = "WAV/AIFF/M4A File Path"
    assert (notion.value(master, path) or "").endswith("/library/wav/A - Master.wav")
    assert notion.value(rip, path) == notion.value(master, path)  # the kept file, not a second one
    assert notion.value(rip, "Downloaded") is True
    notion.clear_log()
    assert workspace.run()[0] == 0
    assert notion.requests == []

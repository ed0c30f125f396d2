"""The build's Notion step against the fake Notion (real notion-client SDK) on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from conftest import Workspace
from fakes.notion import FakeNotion
from fakes.soundcloud import FakeSoundCloud


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSoundCloud, FakeNotion]]:
    with FakeSoundCloud() as sc, FakeNotion() as notion:
        monkeypatch.setenv("CRATEFILE_YTDLP_LOOPBACK", sc.base_url)
        monkeypatch.setenv("NOTION_TOKEN", notion.token)
        yield sc, notion


@pytest.mark.slow
def test_notion_mirror_follows_the_build_without_duplicates(workspace: Workspace, services) -> None:
    sc, notion = services
    sc.add_track(1, "Alpha", "DJ One", 6)
    sc.add_track(2, "Gone", "DJ One", 6, behavior="not_found")
    set_url = sc.add_set("DJ One", "sunday", [1, 2])
    workspace.manifest(f"""
        playlists:
          - name: Sunday
            url: {set_url}
            formats: [wav]
        notion:
          database: {notion.database_id.replace('-', '')}
          api_url: {notion.url}
    """)
    rc, out, err = workspace.run()
    assert rc == 1, out + err  # track 2 is gone
    assert len(notion.live_pages()) == 2  # the failed track has a page too, with its failure
    pages = {notion.value(p["id"], "Title"): p["id"] for p in notion.live_pages()}
    alpha = pages["Alpha"]
    assert notion.value(alpha, "Downloaded") is True
    assert notion.value(alpha, "Audio Duration (seconds)") == 6.0  # (the fake's tones have no pulse: no Tempo)
    assert (notion.value(alpha, "WAV/AIFF/M4A File Path") or "").endswith("/library/wav/DJ One - Alpha.wav")
    statuses = sorted(str(notion.value(p["id"], "Audio Processing Status")) for p in notion.live_pages())
    assert any("not_found" in s for s in statuses)
    recorded = workspace.catalog_rows("SELECT key, notion_page_id FROM tracks ORDER BY key")
    assert all(pid for _, pid in recorded)
    assert notion.token not in (out + err)
    assert notion.token not in (workspace.root / "cache" / "reports" / "latest.json").read_text()

    notion.clear_log()
    rc, out, err = workspace.run()  # nothing changed: not one request to Notion
    assert rc == 0, out + err
    assert notion.requests == []

    # the catalog forgets everything (a lost cache): the next sync adopts the pages, no duplicates
    for f in (workspace.root / "cache").glob("catalog.sqlite*"):
        f.unlink()
    for f in (workspace.root / "cache").glob("doit.sqlite*"):
        f.unlink()
    rc, out, err = workspace.run("--retry-failed")
    assert rc == 1, out + err
    assert len(notion.live_pages()) == 2
    assert all(pid for _, pid in workspace.catalog_rows("SELECT key, notion_page_id FROM tracks"))


@pytest.mark.slow
def test_a_page_added_by_hand_is_built_by_the_next_run(workspace: Workspace, services) -> None:
    sc, notion = services
    sc.add_track(11, "Phone Find", "DJ Two", 6)
    sc.add_track(12, "Old Find", "DJ Two", 6)
    by_hand = notion.seed_page({"Title": "Phone Find", "SoundCloud URL": sc.url_of_track(11), "Downloaded": False})
    done = notion.seed_page({"Title": "Old Find", "SoundCloud URL": sc.url_of_track(12), "Downloaded": True})
    workspace.manifest(f"""
        playlists:
          - name: Inbox
            notion: {{filter: unprocessed}}
            formats: [aiff]
            refresh: 0
        notion:
          database: {notion.database_id}
          api_url: {notion.url}
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert [p.name for p in (workspace.root / "library" / "aiff").iterdir()] == ["DJ Two - Phone Find.aiff"]
    assert len(notion.live_pages()) == 2  # the hand-made page was updated, not duplicated
    assert notion.value(by_hand, "Downloaded") is True
    assert notion.value(by_hand, "Audio Duration (seconds)") == 6.0
    assert notion.value(done, "Audio Duration (seconds)") is None  # a page we did not take is left alone

    rc, out, err = workspace.run()  # processed now: the track stays in the playlist, nothing to do
    assert rc == 0, out + err
    assert len(list((workspace.root / "library" / "playlists" / "Inbox" / "aiff").iterdir())) == 1


def test_a_notion_playlist_needs_the_notion_section(workspace: Workspace) -> None:
    workspace.manifest("""
        playlists:
          - name: Inbox
            notion: {filter: unprocessed}
    """)
    rc, out, err = workspace.run()
    assert rc == 2
    assert "playlists.yaml:4 playlists[0].notion: a Notion playlist needs the top-level notion: section" in err


@pytest.mark.slow
def test_a_page_locked_by_another_machine_is_skipped_until_its_lock_expires(workspace: Workspace, services) -> None:
    import time

    sc, notion = services
    sc.add_track(21, "Shared", "DJ Three", 6)
    other = f"4242:other-host:{'a' * 32}:{int(time.time())}"
    page = notion.seed_page({"Title": "Shared", "SoundCloud URL": sc.url_of_track(21), "Downloaded": False,
                             "Processing Lock": other})
    workspace.manifest(f"""
        playlists:
          - name: Inbox
            notion: {{filter: unprocessed}}
            formats: [wav]
        notion:
          database: {notion.database_id}
          api_url: {notion.url}
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err  # another machine building it is not a failure of this run
    report = workspace.report()
    (playlist,) = report["playlists"]
    assert playlist["failed"] == [] and playlist["pending"] == 0
    assert playlist["elsewhere"] == {"locked": 1, "built": 0} == report["elsewhere"]
    assert "Inbox: 1 tracks, 0 built now, 0 up to date, 1 being built by another machine" in out
    assert "Notion queue: 1 track being built by another machine (retried next run)" in out
    assert not (workspace.root / "library" / "wav").exists()
    assert notion.value(page, "Processing Lock") == other  # never touched someone else's fresh lock
    assert notion.value(page, "Audio Processing Status") == []  # nor wrote "failed" over its page
    assert notion.value(page, "Downloaded") is False

    # the other machine died: its lock is cleared as `cratefile notion unlock --stale` does
    from cratefile.sinks.notion.mirror import NotionMirror

    with NotionMirror(notion.config()) as m:
        assert m.unlock_stale(stale_after=0) == 1  # any age counts as stale here
    assert notion.value(page, "Processing Lock") in ("", None)
    rc, out, err = workspace.run()  # locked_elsewhere is retried on the next run
    assert rc == 0, out + err
    assert (workspace.root / "library" / "wav" / "DJ Three - Shared.wav").exists()
    assert notion.value(page, "Processing Lock") in ("", None)  # released when the run ended
    assert notion.value(page, "Downloaded") is True


@pytest.mark.slow
def test_without_a_lock_property_the_build_says_locking_is_off_once(workspace: Workspace, services) -> None:
    from fakes.notion import MUSIC_TRACKS

    sc, _ = services
    sc.add_track(41, "Solo", "DJ Five", 6)
    no_lock = {k: v for k, v in MUSIC_TRACKS.items() if k != "Processing Lock"}
    with FakeNotion(properties=no_lock) as notion:
        workspace.manifest(f"""
            playlists:
              - name: One
                url: {sc.url_of_track(41)}
                formats: [wav]
            notion:
              database: {notion.database_id}
              api_url: {notion.url}
        """)
        assert notion.token == os.environ["NOTION_TOKEN"]  # the fakes share a token; the fixture set it
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        assert out.count("processing locks are off") == 1
        assert workspace.report()["notes"] == [
            "Notion: processing locks are off (the database has no lock property); "
            "`cratefile notion init-schema` adds it"]
        assert len(notion.live_pages()) == 1


@pytest.mark.slow
def test_a_database_with_common_names_is_mapped_and_the_run_says_how(workspace: Workspace, services) -> None:
    sc, _ = services
    sc.add_track(51, "Mapped", "DJ Six", 6)
    props = {"Name": "title", "Artist": "rich_text", "URL": "url", "DL": "checkbox", "BPM": "number",
             "Camelot": "select", "Duration": "number", "WAV File Path": "rich_text", "AIFF File Path": "rich_text",
             "M4A File Path": "rich_text", "Eagle File ID": "rich_text", "Audio Processing Status": "multi_select",
             "Playlists": "multi_select", "Processing Lock": "rich_text"}
    with FakeNotion(properties=props) as notion:
        workspace.manifest(f"""
            playlists:
              - name: One
                url: {sc.url_of_track(51)}
                formats: [wav, aiff]
            notion:
              database: {notion.database_id}
              api_url: {notion.url}
              properties: {{artist: Artist}}
        """)
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        note = ("Notion: mapped Name → title, URL → source_url, DL → downloaded, BPM → bpm, Camelot → key, "
                "Duration → duration, WAV File Path → path.wav, AIFF File Path → path.aiff, "
                "M4A File Path → path.m4a (matched by name; notion.properties chooses others)")
        assert workspace.report()["notes"] == [note]  # Artist was configured: not in the note
        assert out.count("Notion: mapped") == 1
        (page,) = notion.live_pages()
        lib = workspace.root / "library"
        assert notion.value(page["id"], "Name") == "Mapped" and notion.value(page["id"], "Artist") == "DJ Six"
        assert notion.value(page["id"], "URL") == sc.url_of_track(51)
        assert notion.value(page["id"], "DL") is True and notion.value(page["id"], "Duration") == 6.0
        assert notion.value(page["id"], "Camelot")  # the detected key, into a select
        assert notion.value(page["id"], "WAV File Path") == str(lib / "wav" / "DJ Six - Mapped.wav")
        assert notion.value(page["id"], "AIFF File Path") == str(lib / "aiff" / "DJ Six - Mapped.aiff")
        assert notion.value(page["id"], "M4A File Path") == ""

        notion.clear_log()
        rc, out, err = workspace.run()  # nothing changed: no request, and nothing to say
        assert rc == 0, out + err
        assert notion.requests == []
        assert workspace.report()["notes"] == []


@pytest.mark.slow
@pytest.mark.parametrize("local_files", [None, False])
def test_local_folder_tracks_are_mirrored_by_file_uri(workspace: Workspace, services, local_files) -> None:
    import time

    from conftest import make_track

    _, notion = services
    files = [make_track(workspace.music / f"0{i} Local - Cut {i}.wav", bpm=120 + i, seconds=5, seed=i)
             for i in (1, 2)]
    option = "" if local_files is None else f", local_files: {str(local_files).lower()}"
    workspace.manifest(f"""
        playlists:
          - name: Crate
            folder: music
            formats: [wav]
        notion: {{database: {notion.database_id}, api_url: {notion.url}{option}}}
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    by_url = {notion.value(p["id"], "SoundCloud URL"): p["id"] for p in notion.live_pages()}
    if local_files is False:
        assert by_url == {}
        assert not [r for r in notion.requests if r.path.startswith("/v1/pages")]
    else:
        assert sorted(by_url) == sorted(f.resolve().as_uri() for f in files)
        assert all(url.startswith("file:///") for url in by_url)
        page = by_url[files[0].resolve().as_uri()]
        assert notion.value(page, "Downloaded") is True
        assert notion.value(page, "Title") == "Cut 1" and notion.value(page, "Tempo") is not None
        assert notion.value(page, "WAV/AIFF/M4A File Path") == str(
            workspace.root / "library" / "wav" / "Local - Cut 1.wav")
        recorded = workspace.catalog_rows("SELECT notion_page_id FROM tracks")
        assert sorted(pid for (pid,) in recorded) == sorted(by_url.values())

    notion.clear_log()
    rc, out, err = workspace.run()  # a rerun sends nothing
    assert rc == 0, out + err
    assert notion.requests == []
    if local_files is None:
        # a local file's page is a mirror, not a queue: never locked, never "built elsewhere"
        for page_id in by_url.values():
            notion.set_values(page_id, {"Processing Lock": f"4242:other-host:{'e' * 32}:{int(time.time())}"})
        for sidecar in (workspace.root / "cache" / "audio").glob("*.json"):
            sidecar.unlink()  # the "download" of each local file runs again
        notion.clear_log()
        rc, out, err = workspace.run()
        assert rc == 0, out + err
        assert workspace.report()["playlists"][0]["elsewhere"] == {"locked": 0, "built": 0}
        assert not [r for r in notion.requests if r.method == "GET" and r.path.startswith("/v1/pages/")]

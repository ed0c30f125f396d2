"""The Eagle sink against a stateful fake Eagle on 127.0.0.1: import once, find again,
keep the user's tags and folders, follow the re-import-and-trash policy, and speak every
answer shape and error envelope."""

from __future__ import annotations

import logging
import socket
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cratefile.errors import CratefileError
from cratefile.sinks.eagle.client import (
    EagleClient,
    EagleError,
    EagleUnavailable,
    identity_tag,
)
from fakes.eagle import FakeEagle

KEY = "soundcloud 123456"
URL = "https://soundcloud.com/artist/track"
OUR_TAGS = ["Artist", "124 BPM", "Am", "8A", "Deep House"]


def _wav(path: Path, seconds: float = 0.2, tone: int = 0) -> Path:
    """A small real WAV; `tone` changes its content (a "rebuilt" file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes((i * (tone + 1)) % 256 for i in range(frames * 2)))
    return path


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEagle]:
    with FakeEagle(tmp_path / "Music.library") as server:
        yield server


@pytest.fixture
def client(fake: FakeEagle) -> Iterator[EagleClient]:
    with EagleClient(fake.url, settle_timeout=2.0) as c:
        yield c


@pytest.fixture
def track(tmp_path: Path) -> Path:
    return _wav(tmp_path / "library" / "wav" / "Artist - Track.wav")


def _sync(client: EagleClient, file: Path, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "key": KEY,
        "name": "Artist - Track",
        "url": URL,
        "tags": OUR_TAGS,
        "annotation": "Track by Artist",
        "folder_ids": [client.ensure_folder("Playlists/Deep House")],
        "known_item_id": None,
    }
    args.update(overrides)
    return client.sync_file(file, **args)


def test_first_sync_imports_once_with_folder_tags_and_website(
    fake: FakeEagle, client: EagleClient, track: Path
) -> None:
    item_id = _sync(client, track)
    assert len(fake.calls("item/addFromPath")) == 1
    [item] = fake.live_items()
    assert item["id"] == item_id
    assert item["folders"] == [fake.folder_id("Playlists/Deep House")]
    assert item["url"] == URL
    assert identity_tag(KEY, "wav") == "cratefile:soundcloud-123456.wav"
    assert item["tags"] == [*OUR_TAGS, "cratefile:soundcloud-123456.wav"]
    assert item["annotation"].startswith("Track by Artist\n\ncratefile: {")
    library = client.library_path()
    assert library == fake.library
    copied = client.item_file(item, library)
    assert copied == fake.library / "images" / f"{item_id}.info" / "Artist - Track.wav"
    assert copied.read_bytes() == track.read_bytes()


def test_rerun_imports_and_updates_nothing(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    item_id = _sync(client, track)
    before = len(fake.requests)
    assert _sync(client, track, known_item_id=item_id) == item_id
    new = fake.requests[before:]
    assert [r.endpoint for r in new] == ["item/info"]  # folder cached, item verified, done
    assert len(fake.live_items()) == 1


@pytest.mark.parametrize("v2", [False, True])
def test_lost_cache_finds_item_by_tag_without_importing(fake: FakeEagle, track: Path, v2: bool) -> None:
    fake.v2_shapes = v2
    with EagleClient(fake.url) as first:
        item_id = _sync(first, track)
    # Another machine, or the catalog lost: a fresh client and no recorded id.
    with EagleClient(fake.url) as second:
        assert _sync(second, track) == item_id
        assert _sync(second, track, known_item_id="KDOESNOTEXIST") == item_id
    assert len(fake.calls("item/addFromPath")) == 1
    assert len(fake.calls("folder/create")) == 2  # Playlists, Deep House: found by name after
    assert len(fake.live_items()) == 1


def test_lost_cache_and_changed_permalink_finds_item_by_identity_tag(fake: FakeEagle, track: Path) -> None:
    with EagleClient(fake.url) as first:
        item_id = _sync(first, track)
        no_url_id = _sync(first, _wav(track.with_name("folder-source.wav")), key="folder abc", url=None)
    renamed = "https://soundcloud.com/artist/track-renamed"  # same track id, new permalink
    with EagleClient(fake.url) as second:
        assert _sync(second, track, url=renamed) == item_id
        assert _sync(second, track.with_name("folder-source.wav"), key="folder abc", url=None) == no_url_id
    assert fake.items[item_id]["url"] == renamed
    assert len(fake.calls("item/addFromPath")) == 2


def test_item_imported_by_hand_is_adopted_by_url(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    mine = fake.add_user_item(track, name="my copy", website=URL, tags=["favourite"], annotation="my notes")
    fake.ignore_filters = frozenset({"url"})  # V1 has no url filter: the client scans
    assert _sync(client, track) == mine["id"]
    assert fake.calls("item/addFromPath") == []
    item = fake.items[mine["id"]]
    assert item["tags"] == ["favourite", *OUR_TAGS, identity_tag(KEY, "wav")]
    assert item["annotation"].startswith("my notes\n\ncratefile: ")  # the user's text stays
    assert item["folders"] == [fake.folder_id("Playlists/Deep House")]


def test_other_format_of_same_track_is_its_own_item(fake: FakeEagle, client: EagleClient, tmp_path: Path) -> None:
    wav_id = _sync(client, _wav(tmp_path / "a" / "T.wav"))
    aiff = tmp_path / "a" / "T.aiff"
    aiff.write_bytes(b"FORM0000AIFF")
    aiff_id = _sync(client, aiff)
    assert aiff_id != wav_id
    assert fake.items[aiff_id]["tags"][-1] == "cratefile:soundcloud-123456.aiff"
    assert len(fake.calls("item/addFromPath")) == 2
    assert _sync(client, aiff) == aiff_id and _sync(client, _wav(tmp_path / "a" / "T.wav")) == wav_id
    assert len(fake.calls("item/addFromPath")) == 2


@pytest.mark.parametrize("shape", ["string", "object", "list", "none"])
def test_every_add_from_path_answer_shape(fake: FakeEagle, track: Path, shape: str) -> None:
    fake.add_shape = shape
    fake.hide_new_items_for = 2 if shape == "none" else 0  # Eagle still importing
    with EagleClient(fake.url, settle_timeout=3.0) as client:
        item_id = _sync(client, track)
        [item] = fake.live_items()
        assert item_id == item["id"]
        assert _sync(client, track, known_item_id=item_id) == item_id
    assert len(fake.calls("item/addFromPath")) == 1


def test_missing_id_and_no_item_appearing_is_an_error_not_a_duplicate(fake: FakeEagle, track: Path) -> None:
    fake.add_shape = "none"
    fake.hide_new_items_for = 10_000
    with EagleClient(fake.url, settle_timeout=0.3) as client:
        with pytest.raises(EagleError, match="no item tagged cratefile:soundcloud-123456.wav appeared"):
            _sync(client, track)
    fake.hide_new_items_for = 0
    fake._hidden.clear()
    with EagleClient(fake.url) as client:
        _sync(client, track)  # the next run finds it
    assert len(fake.calls("item/addFromPath")) == 1


def test_http_200_error_envelope_raises_eagle_error(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    fake.fail("item/addFromPath", "Library is read-only")
    with pytest.raises(EagleError) as info:
        _sync(client, track)
    assert str(info.value) == "Eagle item/addFromPath failed: Library is read-only"
    assert not isinstance(info.value, EagleUnavailable)
    assert fake.live_items() == []
    fake.fail("folder/create", "Folder name invalid", http_status=400)
    with pytest.raises(EagleError, match="folder/create failed: Folder name invalid"):
        client.ensure_folder("Playlists/New")


def test_connection_refused_is_one_clear_line(track: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with EagleClient(f"http://127.0.0.1:{port}/", timeout=2.0) as client:
        with pytest.raises(EagleUnavailable) as info:
            client.sync_file(
                track, key=KEY, name="x", url=None, tags=[], annotation=None, folder_ids=[], known_item_id=None
            )
    message = str(info.value)
    assert message == (
        f"Eagle is not running at http://127.0.0.1:{port}: start the app; the Eagle step will be retried next run"
    )
    assert "\n" not in message
    assert isinstance(info.value, EagleError) and isinstance(info.value, CratefileError)


def test_tag_update_keeps_the_users_tags(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    item_id = _sync(client, track)
    item = fake.items[item_id]
    item["tags"] = ["favourite", *item["tags"], "peak time"]  # the user tags it in Eagle
    new_tags = ["Artist", "125 BPM", "Am", "8A", "Deep House", "Sunday Set"]
    assert _sync(client, track, known_item_id=item_id, tags=new_tags) == item_id
    assert item["tags"] == ["favourite", "peak time", *new_tags, identity_tag(KEY, "wav")]
    [update] = fake.calls("item/update")
    assert set(update.body) == {"id", "tags", "annotation"}  # whole list sent, merged
    # Dropping a tag of ours removes it; the user's stay.
    _sync(client, track, known_item_id=item_id, tags=["Artist"])
    assert item["tags"] == ["favourite", "peak time", "Artist", identity_tag(KEY, "wav")]


def test_annotation_refreshes_until_the_user_edits_it(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    item_id = _sync(client, track)
    item = fake.items[item_id]
    _sync(client, track, known_item_id=item_id, annotation="Track by Artist, 125 BPM")
    assert item["annotation"].startswith("Track by Artist, 125 BPM\n\ncratefile: ")
    marker = item["annotation"].splitlines()[-1]
    item["annotation"] = "great closer\n\n" + marker  # the user rewrites the text
    _sync(client, track, known_item_id=item_id, annotation="Track by Artist, 126 BPM")
    assert item["annotation"].startswith("great closer\n\ncratefile: ")
    _sync(client, track, known_item_id=item_id, annotation="Track by Artist, 127 BPM")
    assert item["annotation"].startswith("great closer\n\ncratefile: ")


def test_new_playlist_folder_is_added_and_none_removed(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    deep = client.ensure_folder("Playlists/Deep House")
    item_id = _sync(client, track, folder_ids=[deep])
    by_hand = client.ensure_folder("Favourites")
    fake.items[item_id]["folders"].append(by_hand)
    warm = client.ensure_folder("Playlists/Warm-up")
    assert _sync(client, track, known_item_id=item_id, folder_ids=[deep, warm]) == item_id
    assert fake.items[item_id]["folders"] == [deep, by_hand, warm]
    assert fake.calls("item/addFromPath")[0].body["folderId"] == deep


def test_import_into_several_folders(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    folders = [client.ensure_folder("Playlists/A"), client.ensure_folder("Playlists/B")]
    item_id = _sync(client, track, folder_ids=folders)
    assert fake.items[item_id]["folders"] == folders


def test_eagle_ignoring_update_folders_is_a_warning(
    fake: FakeEagle, client: EagleClient, track: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.honour_update_folders = False
    folders = [client.ensure_folder("Playlists/A"), client.ensure_folder("Playlists/B")]
    with caplog.at_level(logging.WARNING, logger="cratefile.sinks.eagle.client"):
        item_id = _sync(client, track, folder_ids=folders)
    assert fake.items[item_id]["folders"] == folders[:1]
    assert "does not file existing items into more folders" in caplog.text


def test_changed_file_is_reimported_and_old_item_trashed(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    old_id = _sync(client, track)
    old = fake.items[old_id]
    by_hand = client.ensure_folder("Favourites")
    old["folders"].append(by_hand)
    old["tags"].insert(0, "favourite")
    _wav(track, tone=3)  # the recipe changed: same path, new content
    new_id = _sync(client, track, known_item_id=old_id)
    assert new_id != old_id
    assert old["isDeleted"] is True
    new = fake.items[new_id]
    assert new["isDeleted"] is False
    assert set(new["folders"]) == {fake.folder_id("Playlists/Deep House"), by_hand}
    assert new["tags"] == ["favourite", *OUR_TAGS, identity_tag(KEY, "wav")]
    assert new["url"] == URL
    assert client.item_file(new, fake.library).read_bytes() == track.read_bytes()
    assert len(fake.calls("item/addFromPath")) == 2
    assert fake.calls("item/moveToTrash")[0].body == {"itemIds": [old_id]}
    # Steady again: nothing more happens, with or without the recorded id.
    assert _sync(client, track, known_item_id=new_id) == new_id
    assert _sync(client, track, known_item_id=old_id) == new_id
    with EagleClient(fake.url) as fresh:
        assert _sync(fresh, track) == new_id
    assert len(fake.calls("item/addFromPath")) == 2
    assert len(fake.live_items()) == 1


def test_caller_fingerprint_decides_what_changed(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    item_id = _sync(client, track, fingerprint="recipe-1")
    _wav(track, tone=5)  # e.g. new tags written, same recipe: the caller says nothing changed
    assert _sync(client, track, known_item_id=item_id, fingerprint="recipe-1") == item_id
    assert _sync(client, track, known_item_id=item_id, fingerprint="recipe-2") != item_id


def test_run_killed_between_import_and_trash_leaves_no_duplicate(
    fake: FakeEagle, client: EagleClient, track: Path
) -> None:
    old_id = _sync(client, track)
    _wav(track, tone=7)
    fake.fail("item/moveToTrash", "Eagle crashed")
    with pytest.raises(EagleError, match="moveToTrash"):
        _sync(client, track, known_item_id=old_id)
    assert len(fake.live_items()) == 2
    with EagleClient(fake.url) as next_run:
        new_id = next_run.sync_file(
            track,
            key=KEY,
            name="Artist - Track",
            url=URL,
            tags=OUR_TAGS,
            annotation="Track by Artist",
            folder_ids=[next_run.ensure_folder("Playlists/Deep House")],
            known_item_id=old_id,
        )
    assert new_id != old_id
    assert fake.items[old_id]["isDeleted"] is True
    assert [i["id"] for i in fake.live_items()] == [new_id]
    assert len(fake.calls("item/addFromPath")) == 2


def test_item_in_trash_does_not_count(fake: FakeEagle, client: EagleClient, track: Path) -> None:
    item_id = _sync(client, track)
    fake.items[item_id]["isDeleted"] = True  # the user trashed it
    new_id = _sync(client, track, known_item_id=item_id)
    assert new_id != item_id
    assert len(fake.live_items()) == 1


def test_ensure_folder_nests_caches_and_finds_by_name(fake: FakeEagle, client: EagleClient) -> None:
    leaf = client.ensure_folder("Playlists/Deep House/Sunday")
    assert leaf == fake.folder_id("Playlists/Deep House/Sunday")
    assert len(fake.calls("folder/create")) == 3
    assert client.ensure_folder(" Playlists / Deep House / Sunday ") == leaf
    assert client.ensure_folder("Playlists/Techno") == fake.folder_id("Playlists/Techno")
    assert len(fake.calls("folder/list")) == 1  # listed once per client
    assert len(fake.calls("folder/create")) == 4
    for v2 in (False, True):
        fake.v2_shapes = v2
        with EagleClient(fake.url) as other:
            assert other.ensure_folder("Playlists/Deep House/Sunday") == leaf
            assert other.ensure_folder("Playlists/Techno") == fake.folder_id("Playlists/Techno")
    assert len(fake.calls("folder/create")) == 4
    with pytest.raises(ValueError):
        client.ensure_folder(" / ")


@pytest.mark.parametrize("offset_mode", ["items", "pages"])
@pytest.mark.parametrize("v2", [False, True])
def test_url_lookup_pages_through_a_library_that_ignores_the_filter(
    fake: FakeEagle, tmp_path: Path, offset_mode: str, v2: bool
) -> None:
    fake.offset_mode = offset_mode
    fake.v2_shapes = v2
    fake.ignore_filters = frozenset({"url", "ext"})
    source = _wav(tmp_path / "src" / "x.wav")
    for i in range(23):
        fake.add_user_item(source, name=f"other {i}", website=f"https://soundcloud.com/a/{i}")
    wanted = fake.add_user_item(source, name="wanted", website=URL)
    fake.add_user_item(source, name="after", website="https://soundcloud.com/a/after")
    with EagleClient(fake.url, page_size=10) as client:
        assert client.find_item(url=URL, ext="wav")["id"] == wanted["id"]
        listed = len(fake.calls("item/list"))
        assert listed <= 5  # 25 items in pages of 10, plus one offset probe
        assert client.find_item(url="https://soundcloud.com/a/after")["name"] == "after"
        assert client.find_item(url="https://soundcloud.com/a/nothing") is None
        assert len(fake.calls("item/list")) == listed  # later lookups use the index


def test_default_page_is_200(fake: FakeEagle, tmp_path: Path) -> None:
    source = _wav(tmp_path / "src" / "x.wav")
    for i in range(205):
        fake.add_user_item(source, name=f"n{i}", website=f"https://x/{i}")
    fake.ignore_filters = frozenset({"url"})
    with EagleClient(fake.url) as client:
        assert client.find_item(url="https://x/204")["name"] == "n204"
    # The filtered try, then the index: first page, offset probe, the rest.
    assert [r.query["limit"] for r in fake.calls("item/list")] == ["200"] * 4


def test_application_info(fake: FakeEagle, client: EagleClient) -> None:
    assert client.application_info()["version"] == "4.0.0"


def test_a_read_that_hits_a_5xx_is_retried_but_a_write_is_not(fake: FakeEagle, client: EagleClient) -> None:
    fake.fail("folder/list", "busy", http_status=503)
    assert client.folder_paths() == {}  # read again through the one retry path: answered
    assert [r.endpoint for r in fake.requests].count("folder/list") == 2
    fake.fail("folder/create", "busy", http_status=503)
    with pytest.raises(CratefileError, match="folder/create"):
        client.create_folder("X", None)
    assert [r.endpoint for r in fake.requests].count("folder/create") == 1  # never sent twice


# -- reuse: the user's library already holds the track (sinks.eagle.reuse) ---------------------


def _recording(path: Path, seed: int, title: str | None = None) -> Path:
    from conftest import make_track

    return make_track(path, seed=seed, title=title, artist="Ann" if title else None)


def _wanted(ours: Path, duration: float = 12.0) -> Any:
    from cratefile.quality.record import measure
    from cratefile.sinks.eagle.reuse import Wanted

    items = measure(ours).items()
    return Wanted(title="Alpha", artist="Ann", duration=duration, ext=ours.suffix, fingerprint=lambda: items)


def _sync_held(client: EagleClient, ours: Path, wanted: Any, **overrides: Any) -> str:
    from cratefile.sinks.eagle.reuse import held_item

    return _sync(client, ours, name="Ann - Alpha", annotation=None, held=lambda: held_item(client, wanted), **overrides)


def test_the_users_item_of_the_same_recording_is_reused_not_imported(
    fake: FakeEagle, client: EagleClient, tmp_path: Path
) -> None:
    ours = _recording(tmp_path / "library" / "wav" / "Ann - Alpha.wav", seed=1)
    theirs = _recording(tmp_path / "user" / "alpha.wav", seed=1, title="Alpha")  # other bytes, same audio
    assert theirs.read_bytes() != ours.read_bytes()
    mine = fake.add_user_item(theirs, name="Ann - Alpha", tags=["favourite"], annotation="my notes")
    fake.add_user_item(_recording(tmp_path / "user" / "beta.wav", seed=2), name="Ann - Beta")  # not a candidate
    fake.add_user_item(_wav(tmp_path / "user" / "ext.wav"), name="Ann - Alpha (Extended Mix)")  # named otherwise
    wanted = _wanted(ours)
    assert _sync_held(client, ours, wanted) == mine["id"]
    assert fake.calls("item/addFromPath") == []
    # the keyword answer holds more than the name wants: filtered here, not a scan of the whole library
    assert all(set(c.query) - {"limit", "offset"} for c in fake.calls("item/list")), fake.calls("item/list")
    item = fake.items[mine["id"]]
    assert item["folders"] == [fake.folder_id("Playlists/Deep House")]
    assert item["tags"] == ["favourite", *OUR_TAGS, identity_tag(KEY, "wav")]
    assert item["annotation"].startswith("my notes\n\ncratefile: ") and '"adopted":true' in item["annotation"]
    assert item["url"] == ""  # the user's item keeps its own website
    # our file rebuilt later (another fingerprint): the user's item is never re-imported nor trashed
    assert _sync_held(client, ours, wanted, known_item_id=mine["id"], fingerprint="rebuilt") == mine["id"]
    with EagleClient(fake.url) as fresh:  # a lost catalog finds it by the identity tag it got
        assert _sync_held(fresh, ours, wanted, fingerprint="rebuilt") == mine["id"]
    assert fake.calls("item/addFromPath") == [] and fake.calls("item/moveToTrash") == []
    assert [i["id"] for i in fake.live_items() if i["name"] == "Ann - Alpha"] == [mine["id"]]


def test_a_same_name_item_of_another_recording_is_not_reused(
    fake: FakeEagle, client: EagleClient, tmp_path: Path
) -> None:
    ours = _recording(tmp_path / "library" / "wav" / "Ann - Alpha.wav", seed=1)
    other = fake.add_user_item(_recording(tmp_path / "user" / "alpha.wav", seed=3), name="Ann - Alpha",
                               tags=["favourite"])
    new_id = _sync_held(client, ours, _wanted(ours))
    assert new_id != other["id"] and len(fake.calls("item/addFromPath")) == 1
    assert fake.items[other["id"]]["tags"] == ["favourite"] and fake.items[other["id"]]["folders"] == []


@pytest.mark.parametrize(("duration", "reused"), [(12.0, True), (30.0, False), (None, False)])
def test_an_unreachable_items_duration_decides(fake: FakeEagle, client: EagleClient, tmp_path: Path,
                                               duration: float | None, reused: bool) -> None:
    ours = _recording(tmp_path / "library" / "wav" / "Ann - Alpha.wav", seed=1)
    fields = {"duration": duration} if duration is not None else {}
    theirs = fake.add_user_item(_wav(tmp_path / "user" / "x.wav"), name="Alpha", **fields)
    client.item_file(theirs, fake.library).unlink()  # Eagle's copy is out of reach (another machine)
    item_id = _sync_held(client, ours, _wanted(ours))
    assert (item_id == theirs["id"]) is reused
    assert len(fake.calls("item/addFromPath")) == (0 if reused else 1)


def test_names_agree_folded_either_way_round() -> None:
    from cratefile.sinks.eagle.reuse import names_agree

    assert names_agree("ANN - Alpha", "Alpha", "Ann")
    assert names_agree("Alpha – Ann", "Alpha", "Ann")
    assert names_agree("alpha", "Alpha", "Ann")
    assert not names_agree("Ann - Alpha (Extended Mix)", "Alpha", "Ann")
    assert not names_agree("Ann - Alpha", None, "Ann")

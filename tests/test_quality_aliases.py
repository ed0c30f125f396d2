"""Aliases (cratefile.quality.aliases): an acoustic duplicate publishes its kept track's file.

Pure parts here (plan.claims with aliases, in_effect, held formats); the whole build, the
sinks and prune in test_quality_alias_build.py."""

from __future__ import annotations

from pathlib import Path

from cratefile import plan
from cratefile.manifest import load_manifest
from cratefile.quality.aliases import in_effect
from cratefile.quality.policy import held, held_formats
from cratefile.records import Manifest, Snapshot, TrackRef


def _manifest(tmp_path: Path, own: str = "") -> Manifest:
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "playlists.yaml").write_text(
        "playlists:\n"
        f"  - {{name: A, folder: a, formats: [mp3]{own}}}\n"
        "  - {name: B, folder: a, formats: [wav]}\n"
        "  - {name: C, folder: a, formats: [aiff]}\n"
    )
    return load_manifest(tmp_path / "playlists.yaml", env={})


def _ref(n: int) -> TrackRef:
    return TrackRef(f"soundcloud {n}", f"https://soundcloud.com/x/{n}", title=f"T{n}", artist="X")


def _snaps(a: list[int], b: list[int], c: list[int] | None = None) -> dict[str, Snapshot | None]:
    return {"a": Snapshot("a", "a", 0.0, tuple(_ref(n) for n in a)),
            "b": Snapshot("b", "a", 0.0, tuple(_ref(n) for n in b)),
            "c": Snapshot("c", "a", 0.0, tuple(_ref(n) for n in c or ()))}


def test_an_alias_of_a_claimed_track_is_the_kept_track_listed_by_both_playlists(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    # 2 (in A) is the same recording as 3 (in B), which is kept
    claims = plan.claims(manifest, _snaps([1, 2], [3]), {"soundcloud 2": "soundcloud 3"})
    assert list(claims) == ["soundcloud 1", "soundcloud 3"]
    kept = claims["soundcloud 3"]
    assert kept.ref == _ref(3)  # the kept track's own ref: its own download
    assert [p.slug for p in kept.playlists] == ["a", "b"]  # manifest order, whoever lists what
    assert kept.formats == ("mp3", "wav")  # built in every format either playlist wants


def test_an_alias_whose_kept_track_is_not_claimed_stays_a_track_of_its_own(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    aliases = {"soundcloud 2": "soundcloud 9"}  # 9 left every playlist (or failed: Catalog.aliases drops it)
    claims = plan.claims(manifest, _snaps([1, 2], [3]), aliases)
    assert list(claims) == ["soundcloud 1", "soundcloud 2", "soundcloud 3"]
    assert plan.claims(manifest, _snaps([1, 2], [3])) == claims
    # no chains: a kept track that is itself a duplicate (a stale row) aliases nothing
    stale = {"soundcloud 2": "soundcloud 3", "soundcloud 3": "soundcloud 1"}
    chained = plan.claims(manifest, _snaps([1, 2], [3]), stale)
    assert "soundcloud 2" in chained


def test_several_aliases_of_one_kept_track_merge_all_their_playlists(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    aliases = {"soundcloud 2": "soundcloud 4", "soundcloud 3": "soundcloud 4"}
    claims = plan.claims(manifest, _snaps([2], [3], [4, 3]), aliases)
    assert list(claims) == ["soundcloud 4"]
    assert [p.slug for p in claims["soundcloud 4"].playlists] == ["a", "b", "c"]


def test_in_effect_needs_the_kept_track_listed() -> None:
    dupes = {"a": "k", "b": "gone", "c": "c", "k2": "x", "d": "k2"}
    assert in_effect(dupes, {"a", "b", "k", "k2", "c", "d"}) == {"a": "k"}


def test_held_formats_follow_the_first_playlist_wanting_the_format(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, own=", from_lossy: {mp3: skip}")
    recipes = manifest.formats
    assert not held([manifest.playlists[0]], "mp3", recipes["mp3"], True)  # a lossy target is never held back
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "playlists.yaml").write_text(
        "playlists:\n"
        "  - {name: A, folder: ../a, formats: [wav], from_lossy: {wav: skip}}\n"
        "  - {name: B, folder: ../a, formats: [wav, aiff]}\n")
    m = load_manifest(tmp_path / "b" / "playlists.yaml", env={})
    a, b = m.playlists
    assert held([a, b], "wav", m.formats["wav"], True)
    assert not held([b, a], "wav", m.formats["wav"], True)  # the first wanting it decides
    assert not held([a, b], "wav", m.formats["wav"], False)  # a lossless source: nothing held
    snaps = {"a": Snapshot("a", "a", 0.0, (_ref(1), _ref(2))), "b": Snapshot("b", "a", 0.0, (_ref(2),))}
    claims = plan.claims(m, snaps)
    assert held_formats(claims, {"soundcloud 1", "soundcloud 2", "soundcloud 9"}, m.formats) == {
        "soundcloud 1": frozenset({"wav"}), "soundcloud 2": frozenset({"wav"})}


def test_a_kept_track_that_fails_lets_its_alias_be_itself_again(tmp_path: Path) -> None:
    from cratefile.catalog.sqlite import Catalog
    from cratefile.quality.aliases import of_catalog

    manifest = _manifest(tmp_path)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        catalog.upsert_track("soundcloud 3", status="built", quality_verdict="lossless")
        catalog.upsert_track("soundcloud 2", duplicate_of="soundcloud 3", quality_verdict="lossy")
        assert of_catalog(catalog) == {"soundcloud 2": "soundcloud 3"}
        assert list(plan.claims(manifest, _snaps([1, 2], [3]), of_catalog(catalog))) == ["soundcloud 1", "soundcloud 3"]
        assert catalog.lossy_origin() == frozenset({"soundcloud 2"})
        catalog.record_failure("soundcloud 3", "download", "not_found", "gone")
        assert of_catalog(catalog) == {}
        assert "soundcloud 2" in plan.claims(manifest, _snaps([1, 2], [3]), of_catalog(catalog))
        catalog.clear_failure("soundcloud 3", "built")
        assert of_catalog(catalog) == {"soundcloud 2": "soundcloud 3"}
    finally:
        catalog.close()

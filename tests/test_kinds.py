"""Sources and sinks are registered kinds: each satisfies its protocol, the manifest's schema
comes from the registries, and a new kind is one module plus one registry line."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cratefile import sinks, sources
from cratefile.manifest import load_manifest, manifest_schema
from cratefile.sinks.base import Sink
from cratefile.sources.base import Source
from cratefile.tags import read_tags
from kinds.tone import ToneSource
from kinds.tracklist import TracklistSink


def _methods(protocol: type) -> set[str]:
    return {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}


def test_registries_list_the_kinds() -> None:
    assert sorted(sources.SOURCES) == ["discogs", "folder", "notion", "spotify", "url"]
    assert sorted(sinks.SINKS) == ["eagle", "notion", "playlists", "rekordbox"]


@pytest.mark.parametrize("kind", sorted(sources.SOURCES))
def test_each_source_satisfies_the_protocol(kind: str) -> None:
    source = sources.SOURCES[kind]
    assert source.kind == kind
    assert isinstance(source.schema, dict) and "description" in source.schema
    for name in _methods(Source):
        impl = getattr(source, name)
        assert callable(impl), name
        assert list(inspect.signature(impl).parameters) == list(inspect.signature(getattr(Source, name)).parameters)[1:]


@pytest.mark.parametrize("name", sorted(sinks.SINKS))
def test_each_sink_satisfies_the_protocol(name: str) -> None:
    sink = sinks.SINKS[name]
    assert sink.name == name and isinstance(sink.basename, str)
    assert sink.after in {"convert", "publish"} | {s.basename for s in sinks.SINKS.values() if s is not sink}
    if sink.section is not None:
        assert isinstance(sink.schema, dict) and "description" in sink.schema
    for verb in sink.verbs.values():
        assert verb.usage and callable(verb.run)
    for method in _methods(Sink):
        assert list(inspect.signature(getattr(sink, method)).parameters) == \
            list(inspect.signature(getattr(Sink, method)).parameters)[1:], method


def test_the_schema_kinds_are_the_registry_kinds() -> None:
    schema = manifest_schema()
    entry = schema["$defs"]["playlist"]
    assert [one["required"] for one in entry["oneOf"]] == [[k] for k in sources.SOURCES]
    assert all(entry["properties"][k] == sources.SOURCES[k].schema for k in sources.SOURCES)
    sections = {s.section for s in sinks.SINKS.values() if s.section}
    assert sections <= set(schema["properties"])
    assert all(schema["properties"][s.section] == s.schema for s in sinks.SINKS.values() if s.section)


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    # the one registry line each toy kind needs
    monkeypatch.setitem(sources.SOURCES, "tone", ToneSource())
    monkeypatch.setitem(sinks.SINKS, "tracklist", TracklistSink())


@pytest.mark.slow
def test_a_toy_source_and_a_toy_sink_build_end_to_end(toys: None, workspace) -> None:  # noqa: ANN001
    workspace.manifest("""
        tracklist: {path: out/tracks.txt}
        playlists:
          - name: Tones
            tone: {bpm: [120, 150], key: Am}
            formats: [wav]
        """)
    (workspace.root / "out").mkdir()
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    wavs = sorted((workspace.root / "library" / "wav").iterdir())
    assert [w.name for w in wavs] == ["Toy - Tone 120.wav", "Toy - Tone 150.wav"]
    assert [read_tags(w)["bpm"] for w in wavs] == ["120", "150"]  # analyzed like any track
    listed = (workspace.root / "out" / "tracks.txt").read_text().splitlines()
    assert listed == ["Toy - Tone 120.wav", "Toy - Tone 150.wav"]
    assert (workspace.root / "library" / "playlists" / "Tones" / "Tones (wav).m3u8").is_file()
    rc, out, err = workspace.run("tracklist", "count")
    assert (rc, out.strip()) == (0, "2 tracks listed")
    rc, out, err = workspace.run()
    assert rc == 0 and workspace.report()["tasks_executed"] == 0


def test_a_toy_kind_validates_its_own_part_of_the_manifest(toys: None, tmp_path: Path) -> None:
    path = tmp_path / "playlists.yaml"
    path.write_text("playlists:\n  - name: T\n    tone: {bpm: [-1]}\n  - name: U\n    tone: {bpm: 12}\n")
    with pytest.raises(Exception) as info:
        load_manifest(path, env={})
    assert "playlists.yaml:5 playlists[1].tone.bpm" in str(info.value)
    path.write_text("playlists:\n  - name: T\n    tone: {bpm: [-1]}\n")
    with pytest.raises(Exception) as info:
        load_manifest(path, env={})
    assert str(info.value) == "playlists.yaml:3 playlists[0].tone.bpm: a tempo must be positive (e.g. bpm: [120])"

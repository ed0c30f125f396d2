"""The registries answer a run's questions without importing every sink and kind
(cratefile.registry.Lazy): what they declare must be what the real objects say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cratefile.registry import Lazy
from cratefile.sinks import SINKS
from cratefile.sources import SOURCES

ENTRIES = [*((f"sink {n}", s) for n, s in SINKS.items()), *((f"source {n}", s) for n, s in SOURCES.items())]


@pytest.mark.parametrize(("label", "entry"), ENTRIES, ids=[label for label, _ in ENTRIES])
def test_each_declared_fact_is_what_the_real_object_says(label: str, entry: object) -> None:
    assert isinstance(entry, Lazy)
    real = entry.load()
    assert entry.declared, label
    for fact, value in entry.declared.items():
        assert getattr(real, fact) == value, f"{label}: {fact}"


def test_a_registry_key_is_its_entrys_name() -> None:
    assert all(sink.name == name for name, sink in SINKS.items())
    assert all(source.kind == kind for kind, source in SOURCES.items())


def test_a_folder_manifest_imports_no_other_sink_or_kind(tmp_path: Path) -> None:
    """Once a manifest with one folder playlist was found valid, a run loads it, lists the
    sinks' basenames and reads its command line without Notion, Eagle, Rekordbox, Spotify,
    Discogs or yt-dlp code (a fresh process each time: the first one validates it)."""
    (tmp_path / "music").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "playlists.yaml").write_text("playlists:\n  - {name: A, folder: music, formats: [wav]}\n")
    code = (
        "import sys\n"
        "from cratefile.manifest import load_manifest\n"
        "load_manifest(sys.argv[1])\n"
        "from cratefile.sinks import SINKS\n"
        "names = [s.basename for s in SINKS.values()]\n"
        "from cratefile.cli import _sink_verb\n"
        "_sink_verb(['-n', '2'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('cratefile.s'))))\n"
    )
    manifest = str(tmp_path / "playlists.yaml")
    first = subprocess.run([sys.executable, "-c", code, manifest], capture_output=True, text=True, check=True)
    assert "cratefile.sinks.notion" in first.stdout.split()  # validating builds the whole schema
    out = subprocess.run([sys.executable, "-c", code, manifest], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    for heavy in ("cratefile.sinks.notion", "cratefile.sinks.eagle", "cratefile.sinks.rekordbox",
                  "cratefile.sources.spotify", "cratefile.sources.discogs", "cratefile.sources.url",
                  "cratefile.sources.ytdlp"):
        assert heavy not in loaded, f"{heavy} was imported: {sorted(loaded)}"
    assert "cratefile.sources.folder" in loaded

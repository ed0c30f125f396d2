"""Tests for cratefile.manifest (and yamlpos): good manifests become records, bad ones give
`<file>:<line> <path>: <what> (<fix>)` messages that never show a secret."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from cratefile.errors import ManifestError
from cratefile.manifest import (
    load_manifest,
    manifest_schema,
    parse_duration,
    parse_size,
    schema_path,
    slugify,
)
from cratefile.records import (
    AnalysisOptions,
    FormatRecipe,
    Manifest,
    NamingRule,
    Playlist,
    RetryPolicy,
    SourceSpec,
    YtdlpOptions,
)
from cratefile.sinks.eagle import EagleConfig
from cratefile.sinks.notion.config import NotionConfig, notion_database_id
from cratefile.sources import SOURCES
from cratefile.yamlpos import Problem, raise_problems

SC_SECRET = "SC-SECRET-7f3a9c"
NOTION_SECRET = "secret_NOTION-e41b77"
ENV = {"HOME": "/nonexistent-home", "SOUNDCLOUD_OAUTH_TOKEN": SC_SECRET,
       "NOTION_TOKEN": NOTION_SECRET}

URL = "https://soundcloud.com/user/sets/name"


def write(root: Path, manifest: str, files: Mapping[str, str | bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "playlists.yaml"
    path.write_text(textwrap.dedent(manifest).lstrip("\n"), encoding="utf-8")
    for name, content in (files or {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return path


def error(root: Path, manifest: str, files: Mapping[str, str | bytes] | None = None,
          env: Mapping[str, str] = ENV) -> str:
    path = write(root, manifest, files)
    with pytest.raises(ManifestError) as info:
        load_manifest(path, env=env)
    message = str(info.value)
    assert SC_SECRET not in message and NOTION_SECRET not in message
    return message


# ---------------------------------------------------------------- good manifests

FULL = f"""
library: out/library
cache: state
formats: [wav, aiff]
analysis:
  bpm_range: [88, 176]
  key_notation: standard
  overwrite: true
download:
  cookies: ~/cookies.txt
  proxy: socks5://127.0.0.1:1080
  rate_limit: 2M
  no_check_certificate: true
  sleep_requests: 0.5
  retries: 3
  soundcloud_oauth_token: ${{SOUNDCLOUD_OAUTH_TOKEN}}
retry:
  cool_off: 2d
  attempts: 5
playlists:
  - name: Demo Crate
    folder: examples/demo
    formats: [wav, m4a]
    refresh: 1h
    bpm_range: [120, 240]
    key_notation: camelot
  - name: Café Sets — Vol. 2
    url: {URL}
notion:
  database: https://www.notion.so/workspace/Music-Tracks-0123456789abcdef0123456789ABCDEF?v=77
  api_url: http://127.0.0.1:9999/
  properties: {{bpm: Tempo, title: Title, duration: "Audio Duration (seconds)"}}
eagle:
  formats: [aiff]
  folder: "DJ/{{playlist}}"
"""


def test_full_manifest_loads_into_records(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home).mkdir()
    (home / "cookies.txt").write_text("# Netscape HTTP Cookie File\n")
    (tmp_path / "ws" / "examples" / "demo").mkdir(parents=True)
    path = write(tmp_path / "ws", FULL)
    ws = tmp_path / "ws"

    manifest = load_manifest(path, env={**ENV, "HOME": str(home)})

    base = AnalysisOptions(88.0, 176.0, "standard", True)
    assert manifest == Manifest(
        path=path,
        root=ws,
        library=ws / "out" / "library",
        cache=ws / "state",
        formats=manifest.formats,  # checked below
        naming=NamingRule(),
        analysis=base,
        ytdlp=YtdlpOptions(
            cookiefile=str(home / "cookies.txt"),
            proxy="socks5://127.0.0.1:1080",
            ratelimit=2 * 1024 * 1024,
            nocheckcertificate=True,
            sleep_requests=0.5,
            retries=3,
            loopback=None,
            cachedir=str(ws / "state" / "yt-dlp"),
        ),
        retry=RetryPolicy(cool_off_hours=48.0, transient_attempts=5),
        playlists=(
            Playlist(
                name="Demo Crate",
                slug="demo-crate",
                source=SourceSpec("folder", str(ws / "examples" / "demo")),
                formats=("wav", "m4a"),
                refresh_seconds=3600.0,
                analysis=AnalysisOptions(120.0, 240.0, "camelot", True),
                yaml_path="playlists[0]",
            ),
            Playlist(
                name="Café Sets — Vol. 2",
                slug="cafe-sets-vol-2",
                source=SourceSpec("url", URL),
                formats=("wav", "aiff"),
                refresh_seconds=6 * 3600.0,
                analysis=base,
                yaml_path="playlists[1]",
            ),
        ),
        sinks={
            "playlists": True,
            "eagle": EagleConfig(api_url="http://localhost:41595", formats=("aiff",), folder="DJ/{playlist}"),
            "notion": NotionConfig(
                database="01234567-89ab-cdef-0123-456789abcdef",
                token_env="NOTION_TOKEN",
                api_url="http://127.0.0.1:9999",
                properties=(("bpm", "Tempo"), ("duration", "Audio Duration (seconds)"),
                            ("title", "Title")),  # sorted by field
            ),
        },
    )
    # secrets are compare=False in the records: check them on their own
    assert manifest.ytdlp.oauth_token == SC_SECRET
    assert manifest.sink("notion") is not None and manifest.sink("notion").token == NOTION_SECRET
    assert SC_SECRET not in repr(manifest) and NOTION_SECRET not in repr(manifest)
    assert sorted(manifest.formats) == ["aiff", "flac", "m4a", "mp3", "wav"]
    assert manifest.formats["m4a"] == FormatRecipe(
        name="m4a", extension="m4a", codec="aac", container="ipod", tagger="mp4",
        sample_rate=44100, channels=2, bitrate="256k", args=("-aac_coder", "fast"))


def test_minimal_manifest_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, f"playlists: [{{name: Only, url: '{URL}'}}]\n")
    m = load_manifest(path, env={})
    assert (m.library, m.cache) == (tmp_path / "library", tmp_path / "cache")
    assert m.analysis == AnalysisOptions()
    assert m.retry == RetryPolicy(cool_off_hours=168.0, transient_attempts=4)
    assert m.ytdlp == YtdlpOptions(cachedir=str(tmp_path / "cache" / "yt-dlp"))
    assert m.ytdlp.oauth_token is None
    assert m.playlists[0].formats == ("wav",)
    assert m.playlists[0].refresh_seconds == 6 * 3600
    assert (m.sink("notion"), m.sink("eagle"), m.sink("rekordbox")) == (None, None, None)

    # the defaults the schema documents are the ones applied
    schema = manifest_schema()
    props = schema["properties"]
    assert props["formats"]["default"] == list(m.playlists[0].formats)
    # no bpm_range by default: the octave is the music's
    assert "default" not in props["analysis"]["properties"]["bpm_range"]
    assert (m.analysis.bpm_min, m.analysis.bpm_max) == (None, None)
    assert props["analysis"]["properties"]["bpm_range_mode"]["default"] == m.analysis.bpm_range_mode
    assert parse_duration(props["retry"]["properties"]["cool_off"]["default"]) / 3600 == \
        m.retry.cool_off_hours
    assert props["download"]["properties"]["retries"]["default"] == m.ytdlp.retries
    playlist = schema["$defs"]["playlist"]["properties"]
    assert parse_duration(playlist["refresh"]["default"]) == m.playlists[0].refresh_seconds


def test_workspace_rules_add_and_replace_formats_and_override_naming(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        formats: [wav, wav24]
        playlists: [{{name: A, url: '{URL}'}}]
        """, {
        "rules/formats.yaml": """
            formats:
              wav: {extension: wav, codec: pcm_s24le, container: wav, tagger: id3}
              wav24:
                extension: wav
                codec: pcm_s24le
                container: wav
                tagger: id3
                args: [-rf64, auto]
            """,
        "rules/naming.yaml": "template: '{playlist} {artist} - {title}'\n",
    })
    m = load_manifest(path, env={})
    # replaced whole: no sample_rate/channels survive from the built-in wav
    assert m.formats["wav"] == FormatRecipe("wav", "wav", "pcm_s24le", "wav", "id3")
    assert m.formats["wav24"].args == ("-rf64", "auto")
    assert m.formats["aiff"].codec == "pcm_s16be"
    assert m.naming == NamingRule(template="{playlist} {artist} - {title}")


def test_env_references_are_resolved_anywhere_in_text(tmp_path: Path) -> None:
    path = write(tmp_path, """
        playlists:
          - name: "${WHO}'s $${LITERAL} set"
            url: https://soundcloud.com/${WHO}/sets/x
        """)
    m = load_manifest(path, env={"WHO": "dj-kay"})
    assert m.playlists[0].name == "dj-kay's ${LITERAL} set"
    assert m.playlists[0].source.location == "https://soundcloud.com/dj-kay/sets/x"


def test_loopback_hook_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, f"playlists: [{{name: A, url: '{URL}'}}]\n")
    m = load_manifest(path, env={"CRATEFILE_YTDLP_LOOPBACK": "http://127.0.0.1:8123/"})
    assert m.ytdlp.loopback == "http://127.0.0.1:8123"
    with pytest.raises(ManifestError, match="CRATEFILE_YTDLP_LOOPBACK: 'https://example.com' "
                                            "is not a loopback base URL"):
        load_manifest(path, env={"CRATEFILE_YTDLP_LOOPBACK": "https://example.com"})


@pytest.mark.parametrize(("text", "seconds"), [
    (90, 90.0), (1.5, 1.5), ("90s", 90.0), ("30m", 1800.0), ("6h", 21600.0), ("7d", 604800.0),
    ("3600", 3600.0), ("0.5h", 1800.0)])
def test_parse_duration(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [
    (1000, 1000), ("500K", 512000), ("2M", 2097152), ("1G", 1024**3), ("1.5k", 1536)])
def test_parse_size(text: Any, size: int) -> None:
    assert parse_size(text) == size


def test_slug_and_notion_id_helpers() -> None:
    assert slugify("  Deep Café // Vol. 2 ", 1) == "deep-cafe-vol-2"
    assert slugify("ドラムンベース", 3) == "playlist-3"
    assert notion_database_id("0123456789abcdef0123456789abcdef") == \
        "01234567-89ab-cdef-0123-456789abcdef"
    assert notion_database_id("01234567-89ab-cdef-0123-456789abcdef") == \
        "01234567-89ab-cdef-0123-456789abcdef"
    assert notion_database_id("https://www.notion.so/ws/Tracks-0123456789abcdef0123456789abcdef"
                              "?v=1") == "01234567-89ab-cdef-0123-456789abcdef"
    assert notion_database_id("https://www.notion.so/ws/Tracks") is None
    assert notion_database_id("0123") is None


def _subschemas(schema: dict[str, Any], path: str = "",
                is_property: bool = False) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Every schema inside schema, with where it is and whether it describes a YAML key."""
    yield path, schema, is_property
    for name, sub in schema.get("properties", {}).items():
        yield from _subschemas(sub, f"{path}.{name}", True)
    for name, sub in schema.get("$defs", {}).items():
        yield from _subschemas(sub, f"$defs.{name}")
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from _subschemas(schema[key], f"{path}/{key}")


@pytest.mark.parametrize("name", ["playlists", "formats", "naming"])
def test_schemas_are_valid_documented_and_closed(name: str) -> None:
    # the manifest's schema is assembled from the core file and the registered kinds and sinks
    schema = manifest_schema() if name == "playlists" else json.loads(schema_path(name).read_text())
    Draft202012Validator.check_schema(schema)
    nodes = list(_subschemas(schema))
    assert sum(is_property for _, _, is_property in nodes) >= 4
    undocumented = [p for p, sub, is_property in nodes if is_property and "description" not in sub]
    assert undocumented == []
    # every mapping is closed: unknown keys are errors (a map of names closes its values)
    open_objects = [p for p, sub, _ in nodes
                    if sub.get("type") == "object" and "additionalProperties" not in sub]
    assert open_objects == []


# ---------------------------------------------------------------- bad manifests

ONE = f"""\
playlists:
  - name: A
    url: {URL}
"""


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "fromats: [wav]\n")
    allowed = ", ".join(sorted(manifest_schema()["properties"]))  # the core's, the sinks' and the kinds' sections
    assert {"analysis", "cache", "download", "eagle", "formats", "library", "notion", "playlists", "rekordbox",
            "retry"} <= set(allowed.split(", "))
    assert msg == ("playlists.yaml:4 fromats: unknown key 'fromats' (did you mean 'formats'? "
                   f"allowed keys: {allowed})")


def test_unknown_playlist_key_suggests_the_closest(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "    refrsh: 1h\n")
    assert msg.startswith("playlists.yaml:4 playlists[0].refrsh: unknown key 'refrsh' "
                          "(did you mean 'refresh'? allowed keys: bpm_range, ")
    assert {"folder", "formats", "url", "notion", "name"} <= set(msg.split("allowed keys: ")[1].rstrip(")").split(", "))


def test_unknown_format(tmp_path: Path) -> None:
    msg = error(tmp_path, f"""
        playlists:
          - name: A
            url: {URL}
          - name: B
            url: {URL}
          - name: C
            url: {URL}
            formats:
              - flac24
        """)
    assert msg == ("playlists.yaml:9 playlists[2].formats[0]: 'flac24' is not a format in "
                   "rules/formats.yaml (did you mean 'flac'? known: aiff, flac, m4a, mp3, wav)")


def test_unknown_default_and_eagle_formats(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "formats: [wav, ogg]\neagle: {formats: [mp4]}\n")
    assert msg.splitlines() == [
        "playlists.yaml:4 formats[1]: 'ogg' is not a format in rules/formats.yaml "
        "(known: aiff, flac, m4a, mp3, wav)",
        "playlists.yaml:5 eagle.formats[0]: 'mp4' is not a format in rules/formats.yaml "
        "(did you mean 'mp3'? known: aiff, flac, m4a, mp3, wav)",
    ]


def test_bad_key_notation(tmp_path: Path) -> None:
    msg = error(tmp_path, "analysis:\n  key_notation: camleot\n" + ONE)
    assert msg == ("playlists.yaml:2 analysis.key_notation: 'camleot' is not one of standard, "
                   "camelot, openkey (did you mean 'camelot'?)")


def test_bpm_range_must_be_one_octave(tmp_path: Path) -> None:
    msg = error(tmp_path, "analysis:\n  bpm_range: [70, 180]\n" + ONE)
    assert msg.startswith("playlists.yaml:2 analysis.bpm_range: [70, 180] is not one octave "
                          "(max must be twice min, e.g. [70, 140]")
    msg = error(tmp_path, ONE + "    bpm_range: [85, 171]\n")
    assert msg.startswith("playlists.yaml:4 playlists[0].bpm_range: [85, 171] is not one octave")
    load_manifest(write(tmp_path, ONE + "    bpm_range: [85, 170.5]\n"), env={})  # ±0.5 is fine


def test_bpm_range_wrong_length_or_type(tmp_path: Path) -> None:
    msg = error(tmp_path, "analysis:\n  bpm_range: [88, 176, 352]\n" + ONE)
    assert msg == "playlists.yaml:2 analysis.bpm_range: has 3 items (e.g. bpm_range: [88, 176])"
    msg = error(tmp_path, "analysis:\n  bpm_range: 88-176\n" + ONE)
    assert msg == ("playlists.yaml:2 analysis.bpm_range: '88-176' is not a [min, max] pair of "
                   "tempos (e.g. bpm_range: [88, 176])")
    msg = error(tmp_path, "analysis:\n  bpm_range: [fast, 176]\n" + ONE)
    assert msg == ("playlists.yaml:2 analysis.bpm_range[0]: 'fast' is not a number")


def test_missing_playlists(tmp_path: Path) -> None:
    msg = error(tmp_path, "library: lib\n")
    assert msg.startswith("playlists.yaml:1: missing required key 'playlists' (add playlists: "
                          "with at least one entry")


def test_empty_playlists(tmp_path: Path) -> None:
    msg = error(tmp_path, "library: lib\nplaylists: []\n")
    assert msg.startswith("playlists.yaml:2 playlists: is empty (add playlists:")


def test_both_folder_and_url(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "    folder: music\n")
    assert msg == ("playlists.yaml:4 playlists[0].folder: gives both folder: and url: "
                   "(give exactly one of them)")


def test_neither_folder_nor_url(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "  - name: B\n    refresh: 1h\n")
    kinds = " or ".join(f"{kind}:" for kind in SOURCES)  # every registered source kind, in registry order
    assert kinds.startswith("folder: or url: or notion:")
    assert msg == f"playlists.yaml:4 playlists[1]: needs {kinds} (give exactly one of them)"


def test_a_missing_folder_is_not_a_manifest_error_but_a_file_is(tmp_path: Path) -> None:
    # an unplugged drive fails that playlist at fetch time (tests/test_failure_paths.py)
    path = write(tmp_path / "ws", "playlists:\n  - name: A\n    folder: music/missing\n")
    assert load_manifest(path, env={}).playlists[0].source.location == str(tmp_path / "ws" / "music" / "missing")
    (tmp_path / "ws" / "music").mkdir()
    (tmp_path / "ws" / "music" / "missing").write_text("a file")
    msg = error(tmp_path / "ws", "playlists:\n  - name: A\n    folder: music/missing\n")
    assert msg == (f"playlists.yaml:3 playlists[0].folder: 'music/missing' is a file, not a folder "
                   f"({tmp_path / 'ws' / 'music' / 'missing'}) (folder: is relative to the "
                   "folder holding playlists.yaml)")


def test_url_must_be_http(tmp_path: Path) -> None:
    msg = error(tmp_path, "playlists:\n  - name: A\n    url: ftp://example.com/set\n")
    assert msg == ("playlists.yaml:3 playlists[0].url: 'ftp://example.com/set' is not an "
                   "http(s) URL (start it with https:// or http://)")


def test_duplicate_playlist_names_ignore_case(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + f"  - name: B\n    url: {URL}\n  - name: a\n    url: {URL}\n")
    assert msg == ("playlists.yaml:6 playlists[2].name: 'a' is already the name of "
                   "playlists[0] (names must be unique, ignoring case)")


def test_duplicate_slugs_name_both_entries(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + f"  - name: Deep House\n    url: {URL}\n"
                                f"  - name: deep-house!\n    url: {URL}\n")
    assert msg == ("playlists.yaml:6 playlists[2].name: 'deep-house!' and playlists[1] "
                   "'Deep House' both become the file name 'deep-house' (rename one of them)")


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    msg = error(tmp_path, "library: a\n" + ONE + "library: b\n")
    assert msg == ("playlists.yaml:5 library: duplicate key 'library' (first given on line 1; "
                   "keep only one)")
    msg = error(tmp_path, ONE + "    url: https://example.com/other\n")
    assert msg.startswith("playlists.yaml:4 playlists[0].url: duplicate key 'url' (first given "
                          "on line 3")


def test_missing_env_variable(tmp_path: Path) -> None:
    msg = error(tmp_path, "playlists:\n  - name: A\n"
                          "    url: https://soundcloud.com/${SC_USER}/sets/x\n")
    assert msg == ("playlists.yaml:3 playlists[0].url: ${SC_USER} is not set (set it in the "
                   "environment or remove the reference)")


def test_bad_duration(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "    refresh: 2 hours\nretry:\n  cool_off: -1\n")
    assert msg.splitlines() == [
        "playlists.yaml:4 playlists[0].refresh: '2 hours' is not a duration (use seconds, or a "
        "number with s, m, h or d: 90s, 30m, 6h, 7d)",
        "playlists.yaml:6 retry.cool_off: -1 is out of range (must be at least 0)",
    ]


def test_bad_rate_limit(tmp_path: Path) -> None:
    msg = error(tmp_path, "download:\n  rate_limit: 2 MB/s\n" + ONE)
    assert msg == ("playlists.yaml:2 download.rate_limit: '2 MB/s' is not a speed (bytes per "
                   "second: a number, or a number with K, M or G, e.g. 500K or 2M)")


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    msg = error(tmp_path, "playlists:\n  - name: A\n    url: [https://x\n  - name: B\n")
    assert msg.startswith("playlists.yaml:4:9: YAML syntax error: while parsing a flow "
                          "sequence (from line 3)")
    msg = error(tmp_path, "playlists:\n  - name: A\n   url: x\n")
    assert msg.startswith("playlists.yaml:3:4: YAML syntax error:")


def test_tabs_are_named(tmp_path: Path) -> None:
    msg = error(tmp_path, "playlists:\n\t- name: A\n")
    assert msg.startswith("playlists.yaml:2:1: YAML syntax error:")
    assert msg.endswith("(indent with spaces, not tabs)")


def test_non_utf8_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "playlists.yaml"
    path.write_bytes(b"playlists:\n  - name: Caf\xe9\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path, env={})
    assert str(info.value) == ("playlists.yaml:2:14: not UTF-8 text (byte 0xe9) "
                               "(save the file as UTF-8)")


@pytest.mark.parametrize(("text", "found"), [
    ("- name: A\n", "the top level is a list, not a mapping"),
    ("just text\n", "the top level is 'just text', not a mapping"),
    ("", "the top level is empty"),
    ("# only a comment\n", "the top level is empty"),
])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    expected = f"playlists.yaml:1: {found} (start with keys such as playlists:)"
    assert error(tmp_path, text) == expected


def test_non_text_keys(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "formats: {1: wav}\n")
    assert msg == "playlists.yaml:4 formats: key 1 is not text (quote it: '1':)"


def test_bad_workspace_format_entry_names_rules_file(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE, {"rules/formats.yaml": """
        formats:
          wav24:
            extension: wav
            container: wav
            tagger: id3
        """})
    assert msg.startswith("rules/formats.yaml:2 formats.wav24: missing required key 'codec' (")


def test_unknown_tagger(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE, {"rules/formats.yaml": """
        formats:
          ogg:
            extension: ogg
            codec: libvorbis
            container: ogg
            tagger: vorbis
        """})
    assert msg == ("rules/formats.yaml:6 formats.ogg.tagger: 'vorbis' is not one of id3, mp4, "
                   "flac")


def test_bad_format_name_and_unknown_recipe_key(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE, {"rules/formats.yaml": """
        formats:
          WAV 24: {extension: wav, codec: pcm_s24le, container: wav, tagger: id3}
          wav:
            extension: wav
            codec: pcm_s16le
            container: wav
            tagger: id3
            samplerate: 48000
        """})
    assert msg.splitlines() == [
        "rules/formats.yaml:2 formats['WAV 24']: 'WAV 24' is not a valid format name (use "
        "lowercase letters, digits, _ and -)",
        "rules/formats.yaml:8 formats.wav.samplerate: unknown key 'samplerate' (did you mean "
        "'sample_rate'? allowed keys: args, bitrate, channels, codec, container, extension, "
        "sample_fmt, sample_rate, tagger)",
    ]


def test_bad_naming_rules(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE, {"rules/naming.yaml": "template: '{artist} - {titel}'\n"
                                                     "max_length: 5\n"})
    assert msg.splitlines() == [
        "rules/naming.yaml:1 template: unknown field {titel} (known fields: {artist}, {title}, "
        "{playlist}, {id})",
        "rules/naming.yaml:2 max_length: 5 is out of range (must be at least 16)",
    ]
    msg = error(tmp_path, ONE, {"rules/naming.yaml": "template: '{artist - {title}'\n"})
    assert msg.startswith("rules/naming.yaml:1 template: '{artist - {title}' is not a valid "
                          "template")


def test_library_and_cache_must_be_apart(tmp_path: Path) -> None:
    msg = error(tmp_path, "library: cache/library\n" + ONE)
    assert msg == ("playlists.yaml:1 library: library 'cache/library' is inside cache 'cache' "
                   "(keep them apart: the cache is build state, the library is what you keep)")
    msg = error(tmp_path, ONE + "cache: ./library/.state\n")
    assert msg.startswith("playlists.yaml:4 cache: cache './library/.state' is inside library "
                          "'library' (")
    msg = error(tmp_path, ONE + "cache: out\nlibrary: out/\n")
    assert msg.startswith("playlists.yaml:5 library: library and cache are the same folder (")


def test_notion_needs_its_token_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "NOTION_TOKEN"}
    msg = error(tmp_path, ONE + "notion:\n  database: 0123456789abcdef0123456789abcdef\n", env=env)
    assert msg == ("playlists.yaml:4 notion: the environment variable NOTION_TOKEN is not set "
                   "(notion: needs the integration token: set NOTION_TOKEN, or remove notion:)")
    msg = error(tmp_path, ONE + "notion:\n  database: 0123456789abcdef0123456789abcdef\n"
                                "  token_env: MY_NOTION\n", env=env)
    assert msg.startswith("playlists.yaml:6 notion.token_env: the environment variable "
                          "MY_NOTION is not set")


def test_bad_notion_database_and_properties(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "notion:\n  database: https://www.notion.so/ws/Music-Tracks\n")
    assert msg.startswith("playlists.yaml:5 notion.database: 'https://www.notion.so/ws/"
                          "Music-Tracks' is not a Notion database URL or id (")
    msg = error(tmp_path, ONE + "notion:\n  database: 0123456789abcdef0123456789abcdef\n"
                                "  properties: {tempo: BPM}\n")
    assert msg.startswith("playlists.yaml:6 notion.properties.tempo: unknown key 'tempo' "
                          "(allowed keys: artist, bpm, downloaded,")


def test_eagle_folder_template(tmp_path: Path) -> None:
    msg = error(tmp_path, ONE + "eagle:\n  folder: 'Crates/{name}'\n")
    assert msg == ("playlists.yaml:5 eagle.folder: unknown field {name} "
                   "(known fields: {playlist})")


def test_missing_cookies_file(tmp_path: Path) -> None:
    msg = error(tmp_path, "download:\n  cookies: cookies.txt\n" + ONE)
    assert msg.startswith(f"playlists.yaml:2 download.cookies: 'cookies.txt' is not a file "
                          f"({tmp_path / 'cookies.txt'}) (")


def test_oauth_token_must_come_from_the_environment(tmp_path: Path) -> None:
    msg = error(tmp_path, f"download:\n  soundcloud_oauth_token: {SC_SECRET}\n" + ONE)
    assert msg == ("playlists.yaml:2 download.soundcloud_oauth_token: a secret is written into "
                   "the manifest (write ${SOUNDCLOUD_OAUTH_TOKEN} and set that variable in the "
                   "environment)")


def test_several_problems_are_listed_by_line(tmp_path: Path) -> None:
    msg = error(tmp_path, f"""
        formats: [wav, aif]
        playlists:
          - name: A
            url: {URL}
          - name: a
            url: {URL}
            bpm_range: [100, 150]
        """)
    lines = msg.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "playlists.yaml:1", "playlists.yaml:5", "playlists.yaml:7"]


# Every kind of mistake, with the secrets set and used: neither value may show up anywhere.
SECRET_CASES = [
    # the token itself is wrong (resolved, then rejected)
    ("download:\n  soundcloud_oauth_token: ${BAD_TOKEN}\n" + ONE, {"BAD_TOKEN": SC_SECRET + " x"}),
    ("download:\n  soundcloud_oauth_token: ${EMPTY}\n" + ONE, {"EMPTY": ""}),
    # the secret lands where a schema rejects it
    ("download:\n  proxy: ${SOUNDCLOUD_OAUTH_TOKEN}\n" + ONE, {}),
    ("analysis:\n  key_notation: ${SOUNDCLOUD_OAUTH_TOKEN}\n" + ONE, {}),
    ("formats: ['${NOTION_TOKEN}']\n" + ONE, {}),
    ("download:\n  retries: ${NOTION_TOKEN}\n" + ONE, {}),
    # ... or where a cross-check rejects it
    # (a missing folder is no longer a load-time error: an unplugged drive fails at fetch)
    ("playlists:\n  - name: A\n    folder: ${SOUNDCLOUD_OAUTH_TOKEN}\n    formats: [nope]\n", {}),
    ("formats: ['${LOWER}']\n" + ONE, {"LOWER": SC_SECRET.lower()}),
    ("notion:\n  database: ${NOTION_TOKEN}\n" + ONE, {}),
    (f"playlists:\n  - name: ${{SOUNDCLOUD_OAUTH_TOKEN}}\n    url: {URL}\n"
     f"  - name: ${{SOUNDCLOUD_OAUTH_TOKEN}}\n    url: {URL}\n", {}),
    ("playlists:\n  - name: A\n    url: https://x.com/${SOUNDCLOUD_OAUTH_TOKEN} y\n", {}),
    # other errors while the secrets are in use
    ("download:\n  soundcloud_oauth_token: ${SOUNDCLOUD_OAUTH_TOKEN}\n  bogus: 1\n" + ONE, {}),
    ("download:\n  soundcloud_oauth_token: ${SOUNDCLOUD_OAUTH_TOKEN}\n"
     "notion:\n  database: nope\n" + ONE, {}),
    ("notion:\n  database: 0123456789abcdef0123456789abcdef\n" + ONE,
     {"NOTION_TOKEN": NOTION_SECRET + "\n"}),
    ("download:\n  soundcloud_oauth_token: ${SOUNDCLOUD_OAUTH_TOKEN}\n" + ONE + "library: cache\n",
     {}),
]


@pytest.mark.parametrize(("text", "extra_env"), SECRET_CASES)
def test_secret_values_never_appear_in_messages(tmp_path: Path, text: str,
                                                extra_env: dict[str, str]) -> None:
    msg = error(tmp_path, text, env={**ENV, **extra_env})  # error() asserts the absence
    for value in extra_env.values():
        if value.strip():
            assert value.strip() not in msg and value.lower() not in msg


def test_anchors_and_merge_keys_work_and_keep_lines(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        playlists:
          - &base
            name: A
            url: {URL}
            refresh: 1h
          - <<: *base
            name: B
            formats: [mp3]
        """)
    m = load_manifest(path, env={})
    assert [(p.name, p.refresh_seconds, p.formats) for p in m.playlists] == [
        ("A", 3600.0, ("wav",)), ("B", 3600.0, ("mp3",))]
    msg = error(tmp_path, f"""
        playlists:
          - &base
            name: A
            url: {URL}
          - <<: *base
            name: a
        """)
    assert msg.startswith("playlists.yaml:6 playlists[1].name: 'a' is already the name of "
                          "playlists[0]")


def test_raise_problems_scrubs_secrets_as_a_last_resort() -> None:
    raise_problems([])  # nothing to report: no error
    with pytest.raises(ManifestError) as info:
        raise_problems([Problem(2, f"b.yaml:2 x: {SC_SECRET}"), Problem(1, "a.yaml:1 y: z")],
                       [SC_SECRET])
    assert str(info.value) == "a.yaml:1 y: z\nb.yaml:2 x: ***"


def test_a_library_inside_a_source_folder_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "ws" / "Music").mkdir(parents=True)
    msg = error(tmp_path / "ws", "library: Music/crate\nplaylists:\n  - name: A\n    folder: Music\n")
    assert msg.startswith("playlists.yaml:4 playlists[0].folder: 'Music': the library (")
    assert "is inside this folder, so every run would import its own output" in msg
    msg = error(tmp_path / "ws", "cache: Music/.state\nplaylists:\n  - name: A\n    folder: Music\n")
    assert "the cache (" in msg
    msg = error(tmp_path / "ws", "playlists:\n  - name: A\n    folder: library/wav\n")
    assert "this folder is inside the library" in msg

"""Load playlists.yaml and rules/*.yaml, validate them, and build the frozen records.

Owns the manifest format: its JSON Schemas (schema/*.schema.json), `${VAR}` substitution,
defaults, paths, durations and sizes, and every check a schema cannot express (known
formats, one-octave BPM ranges, unique playlists, folders that exist, secrets that are set).

Errors: `ManifestError` whose message has one problem per line, each
`<file>:<line> <yaml.path>: <what is wrong> (<what is allowed / how to fix>)`. Problems are
reported in stages, and every problem of the first failing stage is listed, sorted by line:
YAML syntax → rules files → `${VAR}` references → schema → cross-checks.
A value that came from the environment is never printed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cratefile.atomic import read_json, write_json
from cratefile.errors import ManifestError
from cratefile.layout import Layout
from cratefile.naming import TEMPLATE_FIELDS, template_fields
from cratefile.records import (
    AnalysisOptions,
    FormatRecipe,
    Manifest,
    MatchPolicy,
    NamingRule,
    Playlist,
    PrunePolicy,
    RetryPolicy,
    SafetyPolicy,
    SourceSpec,
    YtdlpOptions,
    digest,
)
from cratefile.yamlpos import (
    Document,
    Problem,
    YamlPath,
    closest,
    load_yaml,
    parse_yaml,
    raise_problems,
    schema_problems,
    show_value,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

LOOPBACK_ENV = "CRATEFILE_YTDLP_LOOPBACK"

DEFAULT_FORMATS = ("wav",)
DEFAULT_REFRESH = "6h"
DEFAULT_COOL_OFF = "7d"
DEFAULT_KEEP_TRASH = "30d"
OCTAVE_TOLERANCE = 0.5

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KMGkmg]?)")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}  # as yt-dlp reads --limit-rate
_REF = re.compile(r"\$(\$?)\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_KEY = "soundcloud_oauth_token"
_TOKEN_PATH: YamlPath = ("download", _TOKEN_KEY)


# ---------------------------------------------------------------- small parsers


def parse_duration(value: float | int | str) -> float:
    """Seconds in '90s', '30m', '6h', '7d', '3600' or a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(value: int | str) -> int:
    """Bytes in 500000, '500K', '2M', '1G' (1024-based)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"not a size: {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def slugify(name: str, number: int) -> str:
    """'Deep Café Vol. 2' -> 'deep-cafe-vol-2'; 'playlist-<number>' when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or f"playlist-{number}"


# ---------------------------------------------------------------- schemas and rules


def _schema_file(name: str) -> dict[str, Any]:
    text = resources.files("cratefile").joinpath("schema", f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _one_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def manifest_schema() -> dict[str, Any]:
    """The whole manifest schema: the core (schema/playlists.schema.json), each registered
    source kind as a key of a playlist entry (exactly one per entry), each sink's section as
    a top-level key."""
    from cratefile.sinks import SINKS
    from cratefile.sources import SOURCES

    schema = _schema_file("playlists")
    entry = schema["$defs"]["playlist"]
    kinds = [f"{kind}:" for kind in SOURCES]
    for kind, source in SOURCES.items():
        entry["properties"][kind] = dict(source.schema)
    entry["oneOf"] = [{"required": [kind]} for kind in SOURCES]
    entry["description"] = ("One playlist: where its tracks come from and what to make of them. "
                            f"Give exactly one of {_one_of(kinds)}.")
    entry["x-expected"] = f"a mapping with name: and {_one_of(kinds)}"
    for source in SOURCES.values():
        if source.settings is not None and source.settings_schema is not None:
            schema["properties"][source.settings] = dict(source.settings_schema)
    for sink in SINKS.values():
        if sink.section is not None and sink.schema is not None:
            schema["properties"][sink.section] = dict(sink.schema)
    return schema


def _validator(name: str) -> Draft202012Validator:
    if name != "playlists":
        return _compiled(name, ())
    from cratefile.sinks import SINKS
    from cratefile.sources import SOURCES

    return _compiled(name, (tuple(SOURCES.items()), tuple(SINKS.items())))


@functools.cache
def _compiled(name: str, kinds: tuple[Any, ...]) -> Draft202012Validator:
    """One compiled validator per schema and set of registered kinds."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema() if name == "playlists" else _schema_file(name))


_VALID_KEPT = 32  # digests of schema-valid documents remembered in cache/validated.json


def _schema_problems(doc: Document, data: Any, name: str, memo: Path | None) -> list[Problem]:
    """schema_problems against schema `name`, unless this very document (its data, after
    substitution) was found valid against this very schema before: validation is pure, and
    skipping it keeps jsonschema out of a rerun. `memo`: cache/validated.json, or None."""
    if memo is None or not memo.parent.is_dir():  # no workspace built yet (or cache: is not a folder)
        return schema_problems(doc, data, _validator(name))
    key = digest([name, _schema_digest(name), data])
    known = read_json(memo)
    if isinstance(known, list) and key in known:
        return []
    problems = schema_problems(doc, data, _validator(name))
    if not problems:
        kept = [k for k in (known if isinstance(known, list) else []) if k != key][-(_VALID_KEPT - 1):]
        try:
            write_json(memo, [*kept, key])
        except OSError:  # a read-only cache: validated every time
            pass
    return problems


def _schema_digest(name: str) -> str:
    if name != "playlists":
        return digest(_schema_file(name))
    return _schema_code_digest()


@functools.cache
def _schema_code_digest() -> str:
    """What the whole manifest schema is made from, without making it: the (path, mtime_ns,
    size) of the schema files and of the code of every registered sink and source kind (each
    contributes its fragment). Building the schema itself would import all of them, on every
    run, only to learn that the memo of valid manifests still holds (cratefile.registry)."""
    import cratefile

    root = Path(cratefile.__file__).parent
    facts = []
    for top in (root / "schema", root / "sinks", root / "sources", root / "resolve"):
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                if file.endswith((".py", ".json")):
                    st = os.stat(os.path.join(folder, file))
                    facts.append((os.path.relpath(os.path.join(folder, file), root), st.st_mtime_ns, st.st_size))
    return digest(facts)


def schema_path(name: str) -> Path:
    """Where the JSON Schema users can read lives: 'playlists', 'formats' or 'naming'."""
    return Path(str(resources.files("cratefile").joinpath("schema", f"{name}.schema.json")))


def _rule_docs(root: Path, name: str) -> list[Document]:
    """The built-in rules file, then the workspace's one when present."""
    builtin = resources.files("cratefile").joinpath("rules", name)
    docs = [parse_yaml(builtin.read_bytes(), f"{builtin} (built-in)")]
    local = root / "rules" / name
    if local.is_file():
        docs.append(load_yaml(local, f"rules/{name}"))
    return docs


def _check_rule_doc(doc: Document, schema: str, memo: Path | None = None) -> list[Problem]:
    if doc.data is None:  # an empty file overrides nothing
        doc.data = {} if schema == "naming" else {"formats": {}}
    if not isinstance(doc.data, dict):
        return [doc.problem((), f"the top level is {show_value(doc.data)}, not a mapping",
                            f"see {schema_path(schema).name}")]
    problems = _schema_problems(doc, doc.data, schema, memo)
    template = doc.data.get("template")
    if schema == "naming" and isinstance(template, str):
        problems += _template_problems(doc, ("template",), template, TEMPLATE_FIELDS)
    return problems


def template_problems(reader: Any, path: YamlPath, template: str, allowed: tuple[str, ...]) -> None:
    """Report an invalid `template` at `path` through a kind's ManifestReader."""
    reader.problems += _template_problems(reader.doc, path, template, allowed)


def _template_problems(doc: Document, path: YamlPath, template: str,
                       allowed: tuple[str, ...]) -> list[Problem]:
    known = ", ".join(f"{{{f}}}" for f in allowed)
    try:
        fields = template_fields(template)
    except ValueError as exc:
        return [doc.problem(path, f"{doc.show(path, template)} is not a valid template ({exc})",
                            "write {{ and }} for literal braces")]
    return [doc.problem(path, f"unknown field {{{field}}}", f"known fields: {known}")
            for field in fields if field not in allowed]


def load_rules(root: Path, memo: Path | None = None) -> tuple[dict[str, FormatRecipe], NamingRule]:
    """Formats and naming: built-in rules with the workspace's rules/*.yaml on top."""
    format_docs = _rule_docs(root, "formats.yaml")
    naming_docs = _rule_docs(root, "naming.yaml")
    problems = [p for d in format_docs for p in _check_rule_doc(d, "formats", memo)]
    problems += [p for d in naming_docs for p in _check_rule_doc(d, "naming", memo)]
    raise_problems(problems)

    recipes: dict[str, FormatRecipe] = {}
    for doc in format_docs:  # a workspace entry replaces a built-in one whole
        for name, entry in doc.data["formats"].items():
            fields = {**entry, "args": tuple(entry.get("args", ()))}
            recipes[name] = FormatRecipe(name=name, **fields)
    naming: dict[str, Any] = {}
    for doc in naming_docs:
        naming.update(doc.data)
    return recipes, NamingRule(**naming)


# ---------------------------------------------------------------- ${VAR} substitution


def _substitute(doc: Document, env: Mapping[str, str]) -> tuple[Any, list[Problem]]:
    """The document's data with every ${VAR} replaced; records which paths changed."""
    problems: list[Problem] = []

    def one(text: str, path: YamlPath) -> str:
        if "${" not in text:
            return text
        used = False

        def repl(match: re.Match[str]) -> str:
            nonlocal used
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return "${" + name + "}"
            used = True
            if not _VAR_NAME.fullmatch(name):
                problems.append(doc.problem(path, f"'${{{name}}}' is not a valid reference",
                                            "variable names use letters, digits and _"))
                return ""
            if name not in env:
                problems.append(doc.problem(path, f"${{{name}}} is not set",
                                            "set it in the environment or remove the reference"))
                return ""
            return env[name]

        result = _REF.sub(repl, text)
        if "${" in _REF.sub("", text):
            problems.append(doc.problem(path, "a ${ reference is not closed",
                                        "end it with }, or write $${ for a literal ${"))
        if used:
            doc.from_env[path] = text
        return result

    def walk(value: Any, path: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return one(value, path)
        return value

    return walk(doc.data, ()), problems


# ---------------------------------------------------------------- the manifest


def load_manifest(path: Path, env: Mapping[str, str] | None = None) -> Manifest:
    """Read, validate and build the workspace's manifest; ManifestError lists what is wrong."""
    env = os.environ if env is None else env
    path = Path(os.path.abspath(path))
    root = path.parent
    display = path.name
    if not path.is_file():
        raise ManifestError(f"{display}: not found in {root} (create it, or run from the "
                            "folder that holds it)")
    doc = load_yaml(path, display)
    if not isinstance(doc.data, dict):
        found = "empty" if doc.data is None else f"{show_value(doc.data)}, not a mapping"
        raise ManifestError(doc.problem((), f"the top level is {found}",
                                        "start with keys such as playlists:").text)
    cache = doc.data.get("cache", "cache")  # where the memo of valid documents is kept, if plain
    memo = root / cache / "validated.json" if isinstance(cache, str) and "$" not in cache else None
    recipes, naming = load_rules(root, memo)
    data, problems = _substitute(doc, env)
    raise_problems(problems)
    token = _get(data, _TOKEN_PATH)
    secrets = [token] if isinstance(token, str) else []
    raise_problems(_schema_problems(doc, data, "playlists", memo), secrets)
    builder = _Builder(doc, data, path, env, recipes, naming)
    manifest = builder.build()
    raise_problems(builder.problems, secrets + builder.secrets)
    return manifest


def _get(data: Any, path: YamlPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


class _Builder:
    """Turns schema-valid data into records, collecting the problems a schema cannot see."""

    def __init__(self, doc: Document, data: dict[str, Any], path: Path, env: Mapping[str, str],
                 recipes: dict[str, FormatRecipe], naming: NamingRule) -> None:
        self.doc, self.data, self.path, self.env = doc, data, path, env
        self.root = path.parent
        self.recipes, self.naming = recipes, naming
        self.problems: list[Problem] = []
        self.secrets: list[str] = []

    def bad(self, path: YamlPath, what: str, fix: str = "", *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, what, fix, key=key))

    def show(self, path: YamlPath) -> str:
        return self.doc.show(path, _get(self.data, path))

    def from_env(self, path: YamlPath) -> bool:
        return path in self.doc.from_env

    def secret(self, value: str) -> None:
        self.secrets.append(value)

    def build(self) -> Manifest:
        library, cache = self.folders()
        formats = self.formats(("formats",), DEFAULT_FORMATS)
        analysis = self.analysis()
        safety = self.safety()
        return Manifest(
            path=self.path,
            root=self.root,
            library=library,
            cache=cache,
            formats=dict(self.recipes),
            naming=self.naming,
            analysis=analysis,
            ytdlp=self.ytdlp(cache),
            retry=self.retry(),
            playlists=self.overlaps(self.playlists(formats, analysis, safety), library, cache),
            sinks=self.sinks(),
            source_settings=self.source_settings(),
            prune=self.prune(),
            safety=safety,
            match=self.match(),
        )

    def overlaps(self, playlists: tuple[Playlist, ...], library: Path, cache: Path) -> tuple[Playlist, ...]:
        """A library or cache inside a playlist's source folder (or that folder inside them)
        would make every run import its own output: a manifest error."""
        ours = {"library": library.resolve(), "cache": cache.resolve()}
        for index, playlist in enumerate(playlists):
            if playlist.source.kind != "folder":
                continue
            folder = Path(playlist.source.location).resolve()
            path: YamlPath = ("playlists", index, "folder")
            for what, where in ours.items():
                if where.is_relative_to(folder) or folder.is_relative_to(where):
                    inside = f"the {what} ({where}) is inside this folder" if where.is_relative_to(folder) \
                        else f"this folder is inside the {what} ({where})"
                    self.bad(path, f"{self.show(path)}: {inside}, so every run would import its own output",
                             f"move the {what} out of the music folder (library: / cache: in playlists.yaml), "
                             "or point folder: at a folder that does not hold it")
        return playlists

    # -- paths

    def local_path(self, raw: str) -> Path:
        """~ expanded (HOME from env), relative to the manifest's folder, normalized."""
        if raw == "~" or raw.startswith("~/"):
            raw = self.env.get("HOME", str(Path.home())) + raw[1:]
        elif raw.startswith("~"):
            raw = os.path.expanduser(raw)
        return Path(os.path.normpath(self.root / raw))

    def folders(self) -> tuple[Path, Path]:
        raw = {k: self.data.get(k, k) for k in ("library", "cache")}  # defaults: same names
        library, cache = self.local_path(raw["library"]), self.local_path(raw["cache"])
        real_lib, real_cache = library.resolve(), cache.resolve()
        shown = {k: self.doc.show((k,), v) for k, v in raw.items()}
        for key, folder in (("library", library), ("cache", cache)):
            # the folder, or the nearest of its parents that exists, must be a folder: mkdir
            # would fail on a file there, much later and with a traceback
            blocker = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), None)
            if blocker is None or blocker.is_dir():
                continue
            hidden = (key,) in self.doc.from_env
            at = "" if hidden else f" ({blocker})"
            thing = "a broken symbolic link" if not blocker.exists() else "a file, not a folder"
            what = f"{shown[key]} is {'' if blocker == folder else 'inside '}{thing}{at}"
            self.bad((key,), what, f"{key}: is a folder, made if missing: move that file "
                     "away, or give another path", key=self.doc.has((key,)))
        where = ("library",) if self.doc.has(("library",)) else ("cache",)
        fix = "keep them apart: the cache is build state, the library is what you keep"
        if real_lib == real_cache:
            self.bad(where, "library and cache are the same folder", fix, key=True)
        elif real_lib.is_relative_to(real_cache):
            self.bad(where, f"library {shown['library']} is inside cache {shown['cache']}",
                     fix, key=True)
        elif real_cache.is_relative_to(real_lib):
            self.bad(where, f"cache {shown['cache']} is inside library {shown['library']}",
                     fix, key=True)
        return library, cache

    # -- formats and analysis

    def formats(self, path: YamlPath, default: tuple[str, ...]) -> tuple[str, ...]:
        names = _get(self.data, path)
        if names is None:
            return default
        known = sorted(self.recipes)
        for index, name in enumerate(names):
            if name not in self.recipes:
                guess = closest(name, known) if (*path, index) not in self.doc.from_env else None
                hint = f"did you mean {guess!r}? " if guess else ""
                self.bad((*path, index), f"{self.show((*path, index))} is not a format in "
                                         "rules/formats.yaml", f"{hint}known: {', '.join(known)}")
        return tuple(names)

    def bpm_range(self, path: YamlPath, base: AnalysisOptions) -> tuple[float | None, float | None]:
        pair = _get(self.data, path)
        if pair is None:
            return base.bpm_min, base.bpm_max
        low, high = float(pair[0]), float(pair[1])
        if abs(high - 2 * low) > OCTAVE_TOLERANCE:
            self.bad(path, f"[{low:g}, {high:g}] is not one octave",
                     f"max must be twice min, e.g. [{low:g}, {2 * low:g}]; a wider range "
                     "cannot tell 87 from 174 BPM")
        return low, high

    def analysis(self) -> AnalysisOptions:
        section = self.data.get("analysis") or {}
        base = AnalysisOptions()
        low, high = self.bpm_range(("analysis", "bpm_range"), base)
        return AnalysisOptions(
            bpm_min=low,
            bpm_max=high,
            key_notation=section.get("key_notation", base.key_notation),
            overwrite=section.get("overwrite", base.overwrite),
            bpm_range_mode=section.get("bpm_range_mode", base.bpm_range_mode),
        )

    # -- download and retry

    def ytdlp(self, cache: Path) -> YtdlpOptions:
        section = self.data.get("download") or {}
        cookiefile = None
        if "cookies" in section:
            cookies = self.local_path(section["cookies"])
            if not cookies.is_file():
                shown = "" if ("download", "cookies") in self.doc.from_env else f" ({cookies})"
                self.bad(("download", "cookies"),
                         f"{self.show(('download', 'cookies'))} is not a file{shown}",
                         "export your browser's cookies to a Netscape cookies.txt file, or "
                         "remove cookies:")
            cookiefile = str(cookies)
        ratelimit = None
        if "rate_limit" in section:
            ratelimit = parse_size(section["rate_limit"])
            if ratelimit < 1:
                self.bad(("download", "rate_limit"), f"{self.show(('download', 'rate_limit'))} "
                         "is not a speed", "give at least 1 byte per second, e.g. 2M")
        defaults = YtdlpOptions()
        return YtdlpOptions(
            cookiefile=cookiefile,
            proxy=section.get("proxy"),
            ratelimit=ratelimit,
            nocheckcertificate=section.get("no_check_certificate", defaults.nocheckcertificate),
            sleep_requests=float(section.get("sleep_requests", defaults.sleep_requests)),
            soundcloud_api_budget=self.api_budget(section.get("soundcloud_api_budget"), defaults),
            retries=int(section.get("retries", defaults.retries)),
            oauth_token=self.oauth_token(section),
            loopback=self.loopback(),
            cachedir=str(Layout(cache, cache).ytdlp_cache),
        )

    @staticmethod
    def api_budget(value: Any, defaults: YtdlpOptions) -> tuple[int, float]:
        if not isinstance(value, Mapping):
            return defaults.soundcloud_api_budget
        return int(value["requests"]), float(value["seconds"])

    def oauth_token(self, section: Mapping[str, Any]) -> str | None:
        if _TOKEN_KEY not in section:
            return None
        token: str = section[_TOKEN_KEY]
        if _TOKEN_PATH not in self.doc.from_env:
            # never echo it: it is a secret someone pasted into a file
            self.bad(_TOKEN_PATH, "a secret is written into the manifest",
                     "write ${SOUNDCLOUD_OAUTH_TOKEN} and set that variable in the environment")
            return None
        self.secrets.append(token)
        if not token.strip():
            self.bad(_TOKEN_PATH, f"{self.show(_TOKEN_PATH)} is empty",
                     "set the variable to your OAuth token, or remove the key")
        elif any(c.isspace() or not c.isprintable() for c in token):
            self.bad(_TOKEN_PATH, f"{self.show(_TOKEN_PATH)} contains spaces or control "
                                  "characters", "set the variable to the bare token")
        return token

    def loopback(self) -> str | None:
        value = self.env.get(LOOPBACK_ENV)
        if not value:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1") \
                or port is None or parts.path.strip("/"):
            # Not a file position: the test hook comes from the environment only.
            self.problems.append(Problem(0, f"environment {LOOPBACK_ENV}: {value!r} is not a "
                                            "loopback base URL (use http://127.0.0.1:PORT)"))
            return None
        return value.rstrip("/")

    def retry(self) -> RetryPolicy:
        section = self.data.get("retry") or {}
        return RetryPolicy(
            cool_off_hours=parse_duration(section.get("cool_off", DEFAULT_COOL_OFF)) / 3600,
            transient_attempts=int(section.get("attempts", RetryPolicy().transient_attempts)),
        )

    # -- prune and safety

    def prune(self) -> PrunePolicy:
        section = self.data.get("prune") or {}
        return PrunePolicy(keep_trash_seconds=parse_duration(section.get("keep_trash", DEFAULT_KEEP_TRASH)))

    def safety(self) -> SafetyPolicy:
        section = self.data.get("safety") or {}
        return SafetyPolicy(shrink_guard=float(section.get("shrink_guard", SafetyPolicy().shrink_guard)))

    def match(self) -> MatchPolicy:
        section = self.data.get("match") or {}
        pins = self.data.get("pins") or {}
        return MatchPolicy(
            accept=float(section.get("accept", MatchPolicy().accept)),
            on=tuple(section.get("on", MatchPolicy().on)),
            review_ttl_seconds=float(section.get("review_ttl_days", 30)) * 86400.0,
            pins=tuple((str(k), str(v)) for k, v in pins.items()),
        )

    # -- playlists

    def playlists(self, formats: tuple[str, ...], analysis: AnalysisOptions,
                  safety: SafetyPolicy) -> tuple[Playlist, ...]:
        by_name: dict[str, int] = {}
        by_slug: dict[str, int] = {}
        out: list[Playlist] = []
        for index, entry in enumerate(self.data["playlists"]):
            base: YamlPath = ("playlists", index)
            name = entry["name"].strip()
            slug = slugify(name, index + 1)
            if name.casefold() in by_name:
                first = by_name[name.casefold()]
                self.bad((*base, "name"), f"{self.show((*base, 'name'))} is already the name of "
                         f"playlists[{first}]", "names must be unique, ignoring case")
            elif slug in by_slug:
                first = by_slug[slug]
                self.bad((*base, "name"), f"{self.show((*base, 'name'))} and playlists[{first}] "
                         f"{self.show(('playlists', first, 'name'))} both become the file name "
                         f"{slug!r}", "rename one of them")
            by_name.setdefault(name.casefold(), index)
            by_slug.setdefault(slug, index)

            refresh = parse_duration(entry.get("refresh", DEFAULT_REFRESH))
            low, high = self.bpm_range((*base, "bpm_range"), analysis)
            own = replace(analysis, bpm_min=low, bpm_max=high,
                          key_notation=entry.get("key_notation", analysis.key_notation))
            own_formats = self.formats((*base, "formats"), formats)
            out.append(Playlist(
                name=name,
                slug=slug,
                source=self.source(base, entry),
                formats=own_formats,
                refresh_seconds=refresh,
                analysis=own,
                yaml_path=f"playlists[{index}]",
                shrink_guard=float(entry.get("shrink_guard", safety.shrink_guard)),
                from_lossy=self.from_lossy(base, entry, own_formats),
            ))
        return tuple(out)

    def from_lossy(self, base: YamlPath, entry: Mapping[str, Any],
                   formats: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """(format, allow|skip) for those of a playlist's formats that do not warn: the
        playlist's own `from_lossy`, else the top level's, else warn (cratefile.quality.policy)."""
        policies = dict.fromkeys(formats, "warn")
        top: YamlPath = ("from_lossy",)
        for path, value in ((top, self.data.get("from_lossy")), ((*base, "from_lossy"), entry.get("from_lossy"))):
            if isinstance(value, str):
                policies = dict.fromkeys(formats, value)
            elif isinstance(value, Mapping):
                for fmt, policy in value.items():
                    if fmt not in self.recipes:
                        self.bad((*path, fmt), f"{fmt!r} is not a format", f"known: {', '.join(sorted(self.recipes))}",
                                 key=True)
                    elif fmt in policies:
                        policies[fmt] = str(policy)
        return tuple((fmt, policy) for fmt, policy in policies.items() if policy != "warn")  # warn: the default

    def source(self, base: YamlPath, entry: Mapping[str, Any]) -> SourceSpec:
        from cratefile.sources import SOURCES

        kind = next(k for k in SOURCES if k in entry)  # the schema lets exactly one through
        return SOURCES[kind].parse(entry[kind], (*base, kind), self)

    def source_settings(self) -> dict[str, Any]:
        from cratefile.sources import SOURCES

        return {kind: source.parse_settings(self.data[source.settings], self)
                for kind, source in SOURCES.items()
                if source.settings is not None and self.data.get(source.settings) is not None}

    # -- sinks

    def sinks(self) -> dict[str, Any]:
        from cratefile.sinks import SINKS

        configs: dict[str, Any] = {}
        for name, sink in SINKS.items():
            if sink.section is None:
                configs[name] = sink.parse(None, self)
            elif self.data.get(sink.section) is not None:
                configs[name] = sink.parse(self.data[sink.section], self)
        return configs

"""YAML documents that remember where every value came from, and messages that point into them.

`load_yaml` parses with yaml's SafeLoader, rejects what SafeLoader lets through silently
(duplicate keys, non-text keys, recursive aliases, numbers that are infinite or NaN), bounds
what a hostile file can cost (nesting deeper than MAX_DEPTH levels, aliases that repeat more
than MAX_ALIASED values: a "billion laughs"), and keeps a map from each YAML path
(`("playlists", 2, "formats", 0)`) to the line of its value and of its key.
`schema_problems` checks a document against a JSON Schema and turns each jsonschema error
into `<file>:<line> <yaml.path>: <what is wrong> (<what is allowed / how to fix>)`.

Values that came from the environment (`${VAR}`) are never echoed: `Document.show` prints
the reference as written instead, so a secret cannot leak into a message.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from cratefile.errors import ManifestError

if TYPE_CHECKING:  # jsonschema (~40 ms) only when a document is validated (manifest._schema_problems)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

YamlPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

# A manifest needs a handful of levels and a few aliases; these bound a hostile or broken file
# (5,000 nested brackets, an alias bomb) to an error in well under a second. Both count
# aliases expanded, as every later stage sees the data.
MAX_DEPTH = 100
MAX_ALIASED = 1_000_000  # values that aliases repeat, in all


def format_path(path: Iterable[str | int]) -> str:
    """("playlists", 2, "formats", 0) -> 'playlists[2].formats[0]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


class Problem(NamedTuple):
    """One rendered message and the line it points at (for sorting)."""

    line: int
    text: str


def raise_problems(problems: Iterable[Problem], secrets: Iterable[str] = ()) -> None:
    """Raise one ManifestError listing every problem, first line first; no-op when none."""
    ordered = sorted(set(problems))
    if not ordered:
        return
    message = "\n".join(p.text for p in ordered)
    # Belt and braces: values from the environment are never shown, but a secret must not
    # leak even through a message we did not foresee.
    for secret in secrets:
        if len(secret) >= 4:
            message = message.replace(secret, "***")
    raise ManifestError(message)


def _render(display: str, line: int, col: int | None, path: YamlPath, what: str, fix: str) -> str:
    where = f"{display}:{line}" + (f":{col}" if col is not None else "")
    head = f"{where} {format_path(path)}" if path else where
    return f"{head}: {what}" + (f" ({fix})" if fix else "")


@dataclass
class Document:
    """A parsed YAML file: its data and where each value (and key) starts, 1-based lines."""

    display: str  # the file as messages name it: 'playlists.yaml', 'rules/formats.yaml'
    data: Any
    value_lines: dict[YamlPath, int] = field(default_factory=dict)
    key_lines: dict[YamlPath, int] = field(default_factory=dict)
    # path -> the string as written, for values that ${VAR} substitution changed
    from_env: dict[YamlPath, str] = field(default_factory=dict)

    def has(self, path: YamlPath) -> bool:
        return path in self.value_lines

    def line(self, path: YamlPath, *, key: bool = False) -> int:
        """Line of the value at path (of its key with key=True); the nearest parent if absent."""
        if key and path in self.key_lines:
            return self.key_lines[path]
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.value_lines:
                return self.value_lines[prefix]
            if prefix in self.key_lines:
                return self.key_lines[prefix]
        return 1

    def problem(self, path: YamlPath, what: str, fix: str = "", *, key: bool = False) -> Problem:
        line = self.line(path, key=key)
        return Problem(line, _render(self.display, line, None, path, what, fix))

    def show(self, path: YamlPath, value: Any) -> str:
        """How a value appears in a message; a value from the environment shows as written."""
        if path in self.from_env:
            return f"{self.from_env[path]!r} (from the environment)"
        return show_value(value)


def show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if value is None:
        return "an empty value"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(str(value))


# ---------------------------------------------------------------- parsing


def load_yaml(path: Path, display: str) -> Document:
    """Read and parse one YAML file; any problem raises ManifestError naming line and column."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{display}: cannot be read: {exc.strerror or exc}") from exc
    return parse_yaml(raw, display)


class _TooBig(Exception):
    """The document is nested too deep or its aliases repeat too much; raised while composing."""

    def __init__(self, mark: yaml.Mark, what: str, fix: str) -> None:
        super().__init__(what)
        self.mark, self.what, self.fix = mark, what, fix


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops at MAX_DEPTH levels and MAX_ALIASED values repeated by aliases.

    It keeps, for each node composed, how many values it holds and how deep it goes with its
    aliases expanded, so one alias costs what it stands for, not 1: nine nested lists of nine
    aliases ("billion laughs") fail at the alias that crosses the bound, before anything walks
    the 9**9 values. PyYAML's composer recurses once per level: the depth bound keeps it (and
    `_walk`, and flatten_mapping on chains of merges) well inside Python's recursion limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliased = 0
        self._extent: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels)

    def _next_mark(self) -> yaml.Mark:
        self.check_event()  # parses the next event into current_event
        mark: yaml.Mark = self.current_event.start_mark
        return mark

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self._next_mark()
            node = super().compose_node(parent, index)
            # an anchor still being composed is a recursive alias: _walk reports it
            values, levels = self._extent.get(id(node), (1, 1))
            self._aliased += values
            if self._aliased > MAX_ALIASED:
                raise _TooBig(mark, f"aliases repeat more than {MAX_ALIASED:,} values",
                              "an alias bomb? write the values out, or use fewer aliases")
            if self._depth + levels > MAX_DEPTH:
                raise _TooBig(mark, f"this alias nests values more than {MAX_DEPTH} levels deep",
                              "a manifest needs only a few levels")
            return node
        if self._depth >= MAX_DEPTH:
            raise _TooBig(self._next_mark(),
                          f"values are nested more than {MAX_DEPTH} levels deep",
                          "a manifest needs only a few levels: check the brackets and indentation")
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children = [self._extent.get(id(n), (1, 1)) for n in node.value]
        elif isinstance(node, yaml.MappingNode):
            children = [self._extent.get(id(n), (1, 1)) for pair in node.value for n in pair]
        else:
            children = []
        self._extent[id(node)] = (1 + sum(v for v, _ in children),
                                  1 + max((lv for _, lv in children), default=0))
        return node


def parse_yaml(raw: bytes, display: str) -> Document:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = _render(display, line, col, (), f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                      "save the file as UTF-8")
        raise ManifestError(msg) from exc

    doc = Document(display, None)
    problems: list[Problem] = []
    loader: yaml.SafeLoader | None = None
    try:
        loader = _BoundedLoader(text)  # checks every character up front: may raise
        node = loader.get_single_node()
        if node is not None:
            _walk(loader, node, (), doc, problems, set())
            raise_problems(problems)
            doc.data = loader.construct_document(node)
    except _TooBig as exc:
        msg = _render(display, exc.mark.line + 1, exc.mark.column + 1, (), exc.what, exc.fix)
        raise ManifestError(msg) from None
    except yaml.MarkedYAMLError as exc:
        raise ManifestError(_syntax_message(display, text, exc)) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        msg = _render(display, line, col, (), f"character U+{char:04X} is not allowed in YAML",
                      "remove it")
        raise ManifestError(msg) from exc
    except yaml.YAMLError as exc:  # any other parser complaint, without a position
        raise ManifestError(f"{display}: not valid YAML: {exc}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def _syntax_message(display: str, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    context = exc.context or ""
    if context and exc.context_mark and mark and exc.context_mark.line != mark.line:
        context += f" (from line {exc.context_mark.line + 1})"
    problem = ": ".join(p for p in (context, exc.problem) if p) or "not valid YAML"
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, None)
    at = text[mark.index] if mark and mark.index < len(text) else ""
    if at == "\t" or "'\\t'" in problem:
        fix = "indent with spaces, not tabs"
    elif "expected a single document" in problem:
        fix = "keep one document: remove the '---' separator"
    elif isinstance(exc, yaml.constructor.ConstructorError):
        fix = "only plain YAML values are allowed: no !!python tags"
    else:
        fix = "check indentation, quoting and brackets around here"
    return _render(display, line, col, (), f"YAML syntax error: {problem}", fix)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_KINDS = {"tag:yaml.org,2002:int": "number", "tag:yaml.org,2002:float": "number",
          "tag:yaml.org,2002:timestamp": "date"}


def _scalar_problem(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> tuple[str, str] | None:
    """(what, fix) for a plain value no setting can use: .inf, .nan, 1.0e+999, 2024-02-30.

    Constructing it here also caches it for construct_document, which would otherwise stop
    at a bad date or a 5,000-digit number with a ValueError that names no line.
    """
    if node.tag == _STR_TAG:
        return None
    shown = node.value if len(node.value) <= 40 else f"{node.value[:20]}... ({len(node.value)} characters)"
    quote = "or quote it if you mean text"
    try:
        value = loader.construct_object(node)
    except yaml.YAMLError:
        return None  # construct_document reports it with its position
    except (ValueError, OverflowError):
        kind = _KINDS.get(node.tag, "value")
        if kind == "number":
            return f"{shown} is too large a number", f"give a plain number, {quote}"
        return f"{shown} is not a valid {kind}", f"give a real {kind}, {quote}"
    if isinstance(value, float) and not math.isfinite(value):
        return (f"{shown} is not a finite number",
                f"no setting takes infinity or NaN: give a plain number, {quote}")
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return f"{shown} is too large a number", f"give a plain number, {quote}"
    return None


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: YamlPath, doc: Document,
          problems: list[Problem], stack: set[int]) -> None:
    """Record the line of every value and key under node; collect structural problems."""
    line = node.start_mark.line + 1
    doc.value_lines[path] = line
    if id(node) in stack:
        problems.append(Problem(line, _render(doc.display, line, None, path,
                                              "an alias refers to itself", "remove the loop")))
        return
    stack = stack | {id(node)}
    if isinstance(node, yaml.ScalarNode) and (bad := _scalar_problem(loader, node)):
        problems.append(Problem(line, _render(doc.display, line, None, path, *bad)))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # '<<: *anchor' may be overridden by the keys beside it
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                scalar = isinstance(key_node, yaml.ScalarNode)
                problems.append(Problem(key_line, _render(
                    doc.display, key_line, None, path, f"key {show_value(key)} is not text",
                    f"quote it: '{key_node.value}':" if scalar else "keys must be plain text")))
                continue
            if key in seen:
                problems.append(Problem(key_line, _render(
                    doc.display, key_line, None, path + (key,), f"duplicate key {key!r}",
                    f"first given on line {seen[key]}; keep only one")))
            seen.setdefault(key, key_line)
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                continue
            doc.key_lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(loader, value_node, path + (key,), doc, problems, stack)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, path + (index,), doc, problems, stack)


# ---------------------------------------------------------------- JSON Schema → messages

_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "empty",
}


def schema_problems(doc: Document, data: Any, validator: Draft202012Validator) -> list[Problem]:
    """Every schema violation in data (the document's data after substitution), as Problems."""
    out: list[Problem] = []
    for error in validator.iter_errors(data):
        out.extend(_translate(doc, error))
    return out


def _example(schema: Mapping[str, Any], path: YamlPath) -> str:
    examples = schema.get("examples")
    if not examples:
        return ""
    flow = yaml.safe_dump(examples[0], default_flow_style=True, width=math.inf,
                          sort_keys=False, allow_unicode=True)
    flow = flow.strip().removesuffix("...").strip()
    last = path[-1] if path else None
    return f"e.g. {last}: {flow}" if isinstance(last, str) else f"e.g. {flow}"


def _hint(schema: Mapping[str, Any], path: YamlPath) -> str:
    return str(schema.get("x-hint") or _example(schema, path))


def _expected(schema: Mapping[str, Any]) -> str:
    if "x-expected" in schema:
        return str(schema["x-expected"])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "valid here"


def closest(word: str, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _translate(doc: Document, error: ValidationError) -> Iterator[Problem]:
    path: YamlPath = tuple(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    # jsonschema's stubs allow these an "unset" sentinel; in a reported error they are set
    instance: Any = error.instance
    validator_value: Any = error.validator_value
    kind = error.validator
    subject = doc.show(path, instance)

    if "propertyNames" in error.schema_path:
        # jsonschema reports a bad key at its parent; point at the key itself
        key_path = path + (instance,)
        what = f"{show_value(instance)} is not {_expected(schema)}"
        yield doc.problem(key_path, what, _hint(schema, key_path), key=True)
        return

    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in instance:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            suggestion = closest(key, allowed)
            fix = (f"did you mean {suggestion!r}? " if suggestion else "")
            fix += f"allowed keys: {', '.join(allowed)}" if allowed else "no keys are allowed here"
            yield doc.problem(path + (key,), f"unknown key {key!r}", fix, key=True)
        return

    if kind == "required" and isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in validator_value:
            if key not in instance:
                prop = props.get(key, {})
                fix = _hint(prop, (key,)) if isinstance(prop, Mapping) else ""
                yield doc.problem(path, f"missing required key {key!r}", fix, key=True)
        return

    if kind in ("oneOf", "anyOf"):
        yield from _translate_choice(doc, error, path)
        return

    if kind == "enum":
        choices = [str(c) for c in validator_value]
        what = f"{subject} is not one of {', '.join(choices)}"
        hide = path in doc.from_env or not isinstance(instance, str)
        guess = None if hide else closest(instance, choices)
        yield doc.problem(path, what, f"did you mean {guess!r}?" if guess else "")
    elif kind in ("type", "pattern", "format", "const"):
        yield doc.problem(path, f"{subject} is not {_expected(schema)}", _hint(schema, path))
    elif kind in ("minItems", "maxItems"):
        n = len(instance)
        what = "is empty" if n == 0 else f"has {n} item{'s' if n != 1 else ''}"
        limit = validator_value
        fix = _hint(schema, path) or (
            f"give at least {limit}" if kind == "minItems" else f"give at most {limit}")
        yield doc.problem(path, what, fix)
    elif kind == "minLength":
        yield doc.problem(path, "is empty", _hint(schema, path) or "give a value")
    elif kind == "uniqueItems":
        seen: list[Any] = []
        for index, item in enumerate(instance):
            if item in seen:
                item_path = path + (index,)
                yield doc.problem(item_path, f"{doc.show(item_path, item)} is listed twice",
                                  "list each only once")
                return
            seen.append(item)
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        limit = show_value(validator_value)
        rel = {"minimum": f"at least {limit}", "exclusiveMinimum": f"more than {limit}",
               "maximum": f"at most {limit}", "exclusiveMaximum": f"less than {limit}"}[kind]
        yield doc.problem(path, f"{subject} is out of range", f"must be {rel}")
    else:
        # A keyword we did not phrase: don't echo jsonschema's message (it may print values).
        yield doc.problem(path, f"{subject} is not valid here ({kind})",
                          str(schema.get("description", "")))


def _translate_choice(doc: Document, error: ValidationError, path: YamlPath) -> Iterator[Problem]:
    branches: Any = error.validator_value  # set in a reported error (the stubs allow "unset")
    instance: Any = error.instance
    # 'exactly one of these keys': every branch is {"required": [key]}
    keys = [b["required"][0] for b in branches
            if isinstance(b, Mapping) and set(b) == {"required"} and len(b["required"]) == 1]
    if len(keys) == len(branches):
        if not isinstance(instance, dict):
            return  # the type error beside this one says it all
        given = [k for k in keys if k in instance]
        listing = " or ".join(f"{k}:" for k in keys)
        if not given:
            yield doc.problem(path, f"needs {listing}", "give exactly one of them", key=True)
        else:
            later = max(given, key=lambda k: doc.line(path + (k,), key=True))
            yield doc.problem(path + (later,), f"gives both {' and '.join(f'{k}:' for k in given)}",
                              "give exactly one of them", key=True)
        return
    from jsonschema.exceptions import best_match

    sub = best_match(error.context) if error.context else None
    if sub is not None:
        yield from _translate(doc, sub)
    else:
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        yield doc.problem(path, f"{doc.show(path, instance)} is not {_expected(schema)}",
                          _hint(schema, path))

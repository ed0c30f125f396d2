"""Library file names: template rendering, names safe on every OS, and unique stems.

A stem (the name without its extension) must survive Linux, macOS and Windows, FAT/exFAT
USB sticks included: no separators, no control characters, no Windows-reserved characters
or device names, no trailing dots or spaces, NFC, at most `max_length` UTF-8 bytes cut
between whole characters (emoji included), never empty. `assign_names` then makes stems
unique case-insensitively, with suffixes derived from the track key, without renaming a
file that already had its name.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterator, Mapping

from cratefile.records import NamingRule

# Only what is known once a track is downloaded: a name must not change when analysis runs.
TEMPLATE_FIELDS = ("artist", "title", "playlist", "id")

# Why these replacements: '/' and '\' separate paths, the rest is forbidden on Windows (and
# ':' shows as '/' in the macOS Finder). A readable stand-in beats silently dropping text.
_REPLACE = str.maketrans(
    {
        "/": "-",
        "\\": "-",
        "|": "-",
        ":": "-",
        "<": "(",
        ">": ")",
        '"': "'",
        "*": "_",
        "?": "",
    }
)
# Bidi controls can make a name display as something else ('gpj.exe'); BOM is invisible.
_INVISIBLE = frozenset(
    [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF]
)
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]]
)
# Leading '-' too: a name like '-rf.wav' is an option to every shell tool run on the library.
_LEAD_STRIP = ". -"
_TRAIL_STRIP = ". "
_SEPARATORS = "-–—|,;:~·+_"
_EMPTY_BRACKETS = re.compile(r"\s*(?:\(\s*\)|\[\s*\]|\{\s*\}|<\s*>)")
_SEP_RUN = re.compile(rf"(\s*[{re.escape(_SEPARATORS)}]\s*)(?:[{re.escape(_SEPARATORS)}]\s*)+")
_EDGE_SEPS = f"{_SEPARATORS}. \t"
_SPACES = re.compile(r"\s+")
# Placeholders for field values while the template's own punctuation is tidied: plane-15
# private use, which no template literal contains.
_PLACEHOLDER_BASE = 0xF0000
_SUFFIX_ABBREV = {"soundcloud": "sc", "youtube": "yt", "bandcamp": "bc", "mixcloud": "mc"}
_MIN_BYTES = 8


def template_fields(template: str) -> tuple[str, ...]:
    """Field names a template uses (for the manifest loader's validation)."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def render_name(rule: NamingRule, fields: Mapping[str, object]) -> str:
    """Fill `rule.template` from `fields` and return a safe, non-empty stem.

    Missing artist/title use the rule's fallbacks; any other missing or empty field renders
    as nothing, and the template punctuation around it goes with it ('{artist} - {title}
    [{key}]' without key gives 'Artist - Title').
    """
    values: list[str] = []
    skeleton: list[str] = []
    any_empty = False
    formatter = string.Formatter()
    for literal, name, spec, conversion in formatter.parse(rule.template):
        skeleton.append(literal)
        if name is None:
            continue
        value = _field_text(formatter, name, fields.get(name), spec or "", conversion)
        if not value and name == "artist":
            value = _clean(rule.fallback_artist)
        if not value and name == "title":
            value = _clean(rule.fallback_title)
        if value:
            skeleton.append(chr(_PLACEHOLDER_BASE + len(values)))
            values.append(value)
        else:
            any_empty = True
    shape = "".join(skeleton)
    if any_empty:
        shape = _tidy_around_gaps(shape)
    text = "".join(
        values[ord(ch) - _PLACEHOLDER_BASE]
        if 0 <= ord(ch) - _PLACEHOLDER_BASE < len(values)
        else ch
        for ch in shape
    )
    stem = safe_component(text, rule.max_length)
    if stem == "_" and text.strip(_EDGE_SEPS) == "":
        stem = safe_component(rule.fallback_title, rule.max_length)
    return stem


def _field_text(
    formatter: string.Formatter, name: str, value: object, spec: str, conversion: str | None
) -> str:
    if value is None:
        return ""
    if conversion:
        value = formatter.convert_field(value, conversion)
    if spec:
        try:
            text = format(value, spec)
        except (TypeError, ValueError):
            # '{bpm:.0f}' given a string: a name is still better than a failed track.
            text = str(value)
    elif isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    text = _clean(text).lstrip(_LEAD_STRIP)
    # A value made only of dots, dashes and spaces ('...', '../..') carries no name.
    return text if text.strip(_EDGE_SEPS) else ""


def _tidy_around_gaps(shape: str) -> str:
    previous = None
    while previous != shape:
        previous = shape
        shape = _EMPTY_BRACKETS.sub("", shape)
    shape = _SEP_RUN.sub(lambda m: m.group(1), shape)
    return shape.strip(_EDGE_SEPS)


def _clean(text: str) -> str:
    """Characters only: NFC, no control/invisible characters, no reserved ones, one space."""
    text = unicodedata.normalize("NFC", text)
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace() or cat == "Cc":
            kept.append(" ")
        elif cat == "Cs" or ord(ch) in _INVISIBLE:
            continue
        else:
            kept.append(ch)
    text = "".join(kept).translate(_REPLACE)
    return _SPACES.sub(" ", text).strip()


def safe_component(text: str, max_bytes: int) -> str:
    """`text` as one path component that is valid everywhere, at most `max_bytes` UTF-8 bytes.

    Idempotent: safe_component(safe_component(t, n), n) == safe_component(t, n).
    """
    if max_bytes < _MIN_BYTES:
        raise ValueError(f"max_bytes must be at least {_MIN_BYTES}, got {max_bytes}")
    name = _clean(text).lstrip(_LEAD_STRIP)
    name = cut_utf8(name, max_bytes).rstrip(_TRAIL_STRIP)
    base = name.split(".", 1)[0].rstrip(" ")
    if base.upper() in _RESERVED:
        # 'CON.wav' and 'con' open the console on Windows; 'CON_' is an ordinary name.
        name = cut_utf8(base + "_" + name[len(base) :], max_bytes).rstrip(_TRAIL_STRIP)
    return name or "_"


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` UTF-8 bytes that ends between two
    user-perceived characters: combining marks, ZWJ emoji sequences, skin tones, flags and
    keycaps stay whole or go whole."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    out: list[str] = []
    used = 0
    for cluster in _clusters(text):
        size = len(cluster.encode("utf-8"))
        if used + size > max_bytes:
            break
        out.append(cluster)
        used += size
    return "".join(out)


def _clusters(text: str) -> Iterator[str]:
    """An approximation of Unicode grapheme clusters, good for names (no `regex` needed)."""
    current = ""
    for ch in text:
        if current and (_extends(ch) or current[-1] == "\u200d" or _pairs_flag(current, ch)):
            current += ch
            continue
        if current:
            yield current
        current = ch
    if current:
        yield current


def _extends(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp == 0x200D  # zero-width joiner
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or 0xE0100 <= cp <= 0xE01EF
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _pairs_flag(current: str, ch: str) -> bool:
    """A regional indicator joins the cluster when that cluster is one lone indicator."""
    return _is_regional(ch) and len(current) == 1 and _is_regional(current)


def fold(stem: str) -> str:
    """How a case-insensitive file system (macOS, Windows) compares names."""
    return unicodedata.normalize("NFC", stem).casefold()


def suffix_tag(key: str) -> str:
    """Readable, stable tag of a track key: 'soundcloud 123456' -> 'sc-123456'."""
    extractor, _, ident = key.partition(" ")
    if not ident:
        extractor, ident = "", key
    abbrev = _SUFFIX_ABBREV.get(extractor.lower(), extractor.lower())
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(p for p in (abbrev, ident) if p))
    return tag.strip("-.")[:32].strip("-.") or _key_hash(key)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _with_suffix(stem: str, suffix: str, max_bytes: int) -> str:
    room = max_bytes - len(suffix.encode("utf-8"))
    if room < 1:
        return safe_component(suffix.strip(" []"), max_bytes)
    base = cut_utf8(stem, room).rstrip(_TRAIL_STRIP) or "_"
    return safe_component(base + suffix, max_bytes)


def _candidates(key: str, stem: str, max_bytes: int) -> Iterator[str]:
    """Names `key` may take, best first: plain, readable suffix, hashed suffix, numbered."""
    yield stem
    yield _with_suffix(stem, f" [{suffix_tag(key)}]", max_bytes)
    hashed = _key_hash(key)
    yield _with_suffix(stem, f" [{hashed}]", max_bytes)
    n = 2
    while True:
        yield _with_suffix(stem, f" [{hashed}-{n}]", max_bytes)
        n += 1


def assign_names(
    wanted: Mapping[str, str],
    previous: Mapping[str, str] | None = None,
    *,
    max_bytes: int = NamingRule.max_length,
    settled: Collection[str] = (),
) -> dict[str, str]:
    """Map each track key to a stem unique case-insensitively among `wanted`.

    `wanted` is key -> desired stem (made safe here). A stem claimed by several keys gets a
    suffix from each key (' [sc-123456]'), within `max_bytes`. `previous` (key -> stem the
    track had) keeps a track on its old name while that name is still one of its candidates
    and no other previous owner holds it, so adding a track never renames an existing file.
    Deterministic: the result does not depend on the order of either mapping.

    `settled`: keys whose wanted stem is already safe (what `render_name` gave) and whose
    previous name was seen to be one of its candidates for that very stem: neither is worked
    out again, which is most of the cost for a library that did not change (engine/fastpath.py).
    """
    plain = {key: stem if key in settled else safe_component(stem, max_bytes) for key, stem in wanted.items()}
    keys = sorted(plain)
    taken: set[str] = set()
    chosen: dict[str, str] = {}

    # 1. History first: an existing file keeps its name if that name still fits the track.
    for key in keys:
        old = (previous or {}).get(key)
        if old is None or fold(old) in taken:
            continue
        if old == plain[key] or key in settled or old in _first_candidates(key, plain[key], max_bytes):
            chosen[key] = old
            taken.add(fold(old))

    rest = [key for key in keys if key not in chosen]
    # Claims count every track, kept ones included: once a stem is contested, each
    # newcomer that wants it is suffixed too, as its first claimants were.
    claims = Counter(fold(stem) for stem in plain.values())
    # 2. A stem wanted by one track only, and free, is that track's; 3. everyone else is suffixed.
    _unique_or_suffixed(rest, plain, claims, taken, chosen, max_bytes)
    return {key: chosen[key] for key in wanted}


FixedFolds = tuple[frozenset[str], Counter[str]]


def fixed_folds(fixed: Mapping[str, str], fixed_plain: Mapping[str, str]) -> FixedFolds:
    """What assign_around needs of the fixed tracks, worked out once for several calls: their
    names folded, and how many of them want each folded template stem."""
    return frozenset(fold(name) for name in fixed.values()), Counter(fold(stem) for stem in fixed_plain.values())


def assign_around(
    wanted: Mapping[str, str],
    previous: Mapping[str, str],
    fixed: Mapping[str, str],
    fixed_plain: Mapping[str, str],
    *,
    max_bytes: int = NamingRule.max_length,
    folds: FixedFolds | None = None,
) -> dict[str, str] | None:
    """What `assign_names` gives the tracks of `wanted` when the others are `fixed` (key ->
    the name it keeps, its template's safe stem in `fixed_plain`: settled tracks), without
    working the fixed ones out again: a rerun where one track of 20,000 changed names one.

    The same as assign_names({**fixed_plain, **wanted}, {**fixed, **previous}, settled=fixed)
    restricted to `wanted`, whenever every fixed track keeps its name there: the fixed names
    fold apart and no wanted track's previous name folds to one of them. Otherwise None
    (the caller works every name out). `folds`: fixed_folds(fixed, fixed_plain), when the
    caller has it."""
    folded_fixed, fixed_claims = folds if folds is not None else fixed_folds(fixed, fixed_plain)
    if len(folded_fixed) != len(fixed):
        return None
    taken = set(folded_fixed)
    if any(fold(old) in taken for key, old in previous.items() if key in wanted):
        return None
    plain = {key: safe_component(stem, max_bytes) for key, stem in wanted.items()}
    keys = sorted(plain)
    chosen: dict[str, str] = {}
    for key in keys:  # 1. history first, as assign_names
        old = previous.get(key)
        if old is None or fold(old) in taken:
            continue
        if old == plain[key] or old in _first_candidates(key, plain[key], max_bytes):
            chosen[key] = old
            taken.add(fold(old))
    rest = [key for key in keys if key not in chosen]
    wanted_folds = {fold(stem) for stem in plain.values()}
    claims = Counter(fold(plain[key]) for key in keys)
    for folded in wanted_folds:  # only the stems a wanted track also wants can matter
        claims[folded] += fixed_claims.get(folded, 0)
    _unique_or_suffixed(rest, plain, claims, taken, chosen, max_bytes)
    return {key: chosen[key] for key in wanted}


def _unique_or_suffixed(rest: list[str], plain: Mapping[str, str], claims: Counter[str], taken: set[str],
                        chosen: dict[str, str], max_bytes: int) -> None:
    """Rules 2 and 3 of assign_names for the keys of `rest` (in key order), into `chosen`:
    a stem wanted by one track only, and free, is that track's; everyone else takes a
    suffixed name."""
    for key in rest:
        folded = fold(plain[key])
        if claims[folded] == 1 and folded not in taken:
            chosen[key] = plain[key]
            taken.add(folded)
    for key in rest:
        if key in chosen:
            continue
        for name in _candidates(key, plain[key], max_bytes):
            if name != plain[key] and fold(name) not in taken:
                chosen[key] = name
                taken.add(fold(name))
                break


def assign_one(key: str, stem: str, taken: Mapping[str, str], *, max_bytes: int = NamingRule.max_length) -> str:
    """A name for one track named while others are being built (engine/fastpath.py names a
    track once its download ends): its stem when no other track holds it, else its first free
    suffixed candidate. `taken` maps the folded names other tracks hold to their keys. Unlike
    assign_names this depends on which of two tracks wanting one stem came first; the names it
    gives are kept by assign_names afterwards (rule 1), so they never change later."""
    plain = safe_component(stem, max_bytes)
    for name in _candidates(key, plain, max_bytes):
        if taken.get(fold(name), key) == key:
            return name
    raise AssertionError("unreachable: _candidates never ends")


def keeps_name(key: str, stem: str, name: str, max_bytes: int) -> bool:
    """Whether a track whose template gives `stem` keeps `name` when it had it (rule 1 of
    assign_names, when no other track had that name)."""
    return name == stem or name in _first_candidates(key, stem, max_bytes)


def _first_candidates(key: str, stem: str, max_bytes: int) -> tuple[str, ...]:
    gen = _candidates(key, stem, max_bytes)
    return tuple(next(gen) for _ in range(3))

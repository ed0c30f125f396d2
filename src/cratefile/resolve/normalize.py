"""Names as matching compares them: folded artists, a title's base and its version.

A service says "Losing It - Extended Mix" by ["FISHER"]; an upload says
"FISHER - Losing It (Extended Mix) [FREE DL]" by "Catch & Release". Both must come down to the
same base title ("losing it"), the same artists ({"fisher"}) and the same version ({"extended"}),
while "Losing It (Kölsch Remix)" keeps a version ({"remix"}) and its remixer ("kolsch") that must
not be mistaken for the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Version words: each maps a phrase found in a title to the version it names. Order matters: the
# longer phrases first ("radio edit" before "edit", "dj mix" before "mix").
VERSION_PHRASES: tuple[tuple[str, str], ...] = (
    ("original mix", ""), ("original version", ""), ("original", ""), ("album version", ""),
    ("remastered", ""), ("remaster", ""), ("single version", ""), ("mono", ""), ("stereo", ""),
    ("deluxe edition", ""), ("deluxe", ""), ("bonus track", ""),
    ("radio edit", "radio edit"), ("radio mix", "radio edit"), ("radio version", "radio edit"),
    ("club mix", "club mix"), ("extended mix", "extended"), ("extended version", "extended"),
    ("extended", "extended"), ("12 inch mix", "extended"), ("12 mix", "extended"),
    ("dub mix", "dub"), ("dub", "dub"), ("instrumental", "instrumental"), ("acapella", "acapella"),
    ("a cappella", "acapella"), ("vip mix", "vip"), ("vip", "vip"), ("bootleg", "bootleg"),
    ("rework", "rework"), ("re edit", "edit"), ("reedit", "edit"), ("edit", "edit"),
    ("remix", "remix"), ("rmx", "remix"), ("mashup", "mashup"), ("flip", "remix"),
    ("sped up", "sped up"), ("speed up", "sped up"), ("nightcore", "sped up"), ("slowed", "slowed"),
    ("reverb", "slowed"), ("live at", "live"), ("live from", "live"), ("live", "live"),
    ("cover", "cover"), ("karaoke", "karaoke"), ("tribute", "cover"), ("dj mix", "mix"),
    ("mixed by", "mix"), ("continuous mix", "mix"), ("mixtape", "mix"), ("podcast", "podcast"),
    ("episode", "podcast"), ("essential mix", "mix"), ("boiler room", "mix"), ("set", "mix"),
    ("reprise", "reprise"), ("demo", "demo"), ("mix", "mix"),
)
ORIGINAL_WORDS = frozenset({"original mix", "original", "original version", "album version"})
# Noise an uploader puts in brackets that says nothing about the recording.
NOISE = re.compile(
    r"\b(free (dl|download)|out now|buy|premiere|exclusive|official( audio| video)?|hq|hd|clip|"
    r"video|audio|lyrics?|preview|snippet|forthcoming|wav|mp3|320|\d{2,3} ?kbps|"
    r"[a-z]+ records?|[a-z0-9]+ rec|out \w+)\b"
)
_BRACKETS = re.compile(r"[\(\[\{]([^\)\]\}]*)[\)\]\}]")
_FEAT = re.compile(r"\b(?:feat|ft|featuring|with)\b\.?\s*(.+)$", re.I)
_ARTIST_SPLIT = re.compile(r"\s*(?:,|&|\+|/|;|\band\b|\bx\b|\bvs\.?|\bfeat\.?|\bft\.?|\bfeaturing\b|\bwith\b)\s*", re.I)
_REMIXER = re.compile(r"^(.*?)\s*\b(remix|rmx|edit|re-?edit|rework|bootleg|flip|dub|vip mix|mix|version)$", re.I)
_DISAMBIGUATION = re.compile(r"\s*\(\d+\)$")  # Discogs' 'Artist (2)'
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case, no diacritics, '&' read as 'and', punctuation as spaces, one space between words."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold().replace("&", " and ").replace("'", "").replace("’", "")
    text = text.replace("ø", "o").replace("ß", "ss").replace("æ", "ae").replace("œ", "oe").replace("ł", "l")
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


def fold_artist(name: str) -> str:
    """One artist's name as compared: folded, Discogs' '(2)' and a leading 'The' removed."""
    folded = fold(_DISAMBIGUATION.sub("", name))
    return folded[4:] if folded.startswith("the ") and len(folded) > 4 else folded


def split_artists(text: str) -> tuple[str, ...]:
    """'A & B feat. C' -> ('a', 'b', 'c'), folded."""
    parts = (fold_artist(p) for p in _ARTIST_SPLIT.split(_DISAMBIGUATION.sub("", text)) if p and p.strip())
    return tuple(dict.fromkeys(p for p in parts if p))


@dataclass(frozen=True)
class Title:
    """A title taken apart."""

    base: str  # folded, without version, featured artists and noise: 'losing it'
    versions: frozenset[str]  # {'remix'}, {'extended'}, {} for the original
    credited: tuple[str, ...]  # folded names the title credits: remixers ('kolsch'), featured artists
    remixers: tuple[str, ...]  # folded names credited with the version ('kolsch' of 'Kolsch Remix')
    original: bool = False  # the title says so: '(Original Mix)', '- Original Version'


def _versions_in(phrase: str) -> tuple[set[str], str]:
    """The version words of one folded phrase and what is left of it."""
    found, rest, _said = _version_words(phrase)
    return found, rest


def _version_words(phrase: str) -> tuple[set[str], str, bool]:
    """The version words of one folded phrase, what is left of it, and whether it held any
    version phrase at all (a benign one included: 'remastered', 'single version', 'mono')."""
    found: set[str] = set()
    said = False
    rest = f" {phrase} "
    for words, version in VERSION_PHRASES:
        pattern = f" {words} "
        if pattern in rest:
            said = True
            rest = rest.replace(pattern, " ")
            if version:
                found.add(version)
    return found, _SPACES.sub(" ", rest).strip(), said


def _benign(phrase: str) -> bool:
    """A bracket or dash suffix that names no other recording: '2011 Remaster', 'Single Version',
    'From "Stranger Things"', 'Deluxe Edition'."""
    found, rest, said = _version_words(phrase)
    if found:
        return False
    if phrase.startswith(("from ", "music from ", "taken from ")):
        return True
    return said and all(w.isdigit() or w in ("version", "edition", "deluxe", "bonus", "track") for w in rest.split())


def _remixer_of(phrase: str) -> str | None:
    m = _REMIXER.match(phrase)
    if not m or not m.group(1):
        return None
    name = m.group(1).strip()
    if name in ("original", "extended", "radio", "club", "dub", "album", "12", "12 inch", "single", "the", "dj"):
        return None
    if _versions_in(name)[0] or any(name == words for words, _ in VERSION_PHRASES):
        return None  # 'Karaoke Version', 'Extended Club Mix': a version, not a name
    return name


@lru_cache(maxsize=65536)
def parse_title(title: str) -> Title:
    """Split a title into its base, version words and credited names.

    Versions come from brackets ('(Extended Mix)', '[Kolsch Remix]') and from ' - ' suffixes
    ('Losing It - Radio Edit'); words of the base itself are not read as versions unless they are
    one of the unmistakable ones (remix, bootleg, karaoke, ...) so 'Live Forever' stays an original
    while 'Losing It Remix' is a remix.
    """
    versions: set[str] = set()
    credited: list[str] = []
    remixers: list[str] = []

    kept: list[str] = []  # bracketed words that are part of the title: '(Part 2)', '(Overdrive)'
    said_original: list[str] = []

    def version_part(raw: str) -> None:
        folded = fold(raw)
        feat = _FEAT.match(folded) if folded.startswith(("feat", "ft", "featuring", "with ")) else None
        if feat:
            credited.extend(split_artists(feat.group(1)))
            return
        cleaned = NOISE.sub(" ", folded)
        cleaned = _SPACES.sub(" ", cleaned).strip()
        if not cleaned:
            return
        remixer = _remixer_of(cleaned)
        found, _rest = _versions_in(cleaned)
        if not found and cleaned in ORIGINAL_WORDS:
            said_original.append(cleaned)
        if _benign(cleaned):
            return
        if not found and cleaned not in ORIGINAL_WORDS:
            if cleaned == folded:  # no noise in it either: it belongs to the title
                kept.append(cleaned)
            return
        versions.update(found)
        if remixer and found:
            names = split_artists(remixer)
            remixers.extend(names)
            credited.extend(names)

    text = title.replace("–", " - ").replace("—", " - ")
    for inner in _BRACKETS.findall(text):
        version_part(inner)
    text = _BRACKETS.sub(" ", text)
    # 'Title - Extended Mix' / 'Title - Kolsch Remix': a dash suffix that is a version
    if " - " in text:
        head, _, tail = text.rpartition(" - ")
        tail_folded = fold(tail)
        found, _rest = _versions_in(NOISE.sub(" ", tail_folded))
        if found or tail_folded in ORIGINAL_WORDS or _benign(tail_folded):
            version_part(tail)
            text = head
    feat = _FEAT.search(fold(text))
    base = fold(text)
    if feat:
        credited.extend(split_artists(feat.group(1)))
        base = base[: feat.start()].strip()
    base = " ".join([base, *kept]).strip()
    # unmistakable versions in the base itself: 'Song Remix', 'Song (sped up)' without brackets
    words = f" {base} "
    for marker, version in (("remix", "remix"), ("bootleg", "bootleg"), ("karaoke", "karaoke"),
                            ("sped up", "sped up"), ("nightcore", "sped up"), ("vip", "vip"),
                            ("extended mix", "extended"), ("radio edit", "radio edit"), ("dj mix", "mix"),
                            ("live at", "live"), ("podcast", "podcast"), ("instrumental", "instrumental"),
                            ("essential mix", "mix"), ("boiler room", "mix"), ("mixtape", "mix")):
        if f" {marker} " in words:
            versions.add(version)
            words = words.replace(f" {marker} ", " ")
    base = _SPACES.sub(" ", words).strip() or fold(title)
    return Title(base, frozenset(versions), tuple(dict.fromkeys(credited)), tuple(dict.fromkeys(remixers)),
                 original=bool(said_original) and not versions)


@dataclass(frozen=True)
class UploadName:
    """What an upload's title and uploader say about artist and title."""

    artists: tuple[str, ...]  # folded: from 'Artist - Title', publisher metadata or the uploader
    title: Title
    artist_from: str  # 'title' | 'publisher' | 'uploader'


def parse_upload(title: str, uploader: str, publisher_artist: str | None = None) -> UploadName:
    """'FISHER - Losing It (Extended Mix)' by 'Catch & Release' -> artists ('fisher',), 'losing it'.

    An 'A - B' title names the artist on the left unless the left side is the uploader's own
    label-like prefix; without a dash, the publisher metadata's artist, else the uploader."""
    text = title.replace("–", " - ").replace("—", " - ")
    outside = _BRACKETS.sub(" ", text)
    if " - " in outside:
        left, _, right = text.partition(" - ")
        right_title = parse_title(right)
        left_folded = fold(left)
        right_rest = _versions_in(NOISE.sub(" ", fold(_BRACKETS.sub(" ", right))))[1]
        if left_folded and not _versions_in(left_folded)[0] and right_title.base and right_rest:
            return UploadName(split_artists(left), right_title, "title")
    parsed = parse_title(title)
    if publisher_artist:
        return UploadName(split_artists(publisher_artist), parsed, "publisher")
    return UploadName(split_artists(uploader), parsed, "uploader")


_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii", "ix"})
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_PART_WORDS = frozenset({"pt", "part", "vol", "volume", "chapter", "episode", "no"})


def numbering(base: str) -> frozenset[str]:
    """The part numbers a folded base title carries: 'strings pt 2' -> {'2'}, 'dopamine ii' -> {'2'},
    'age of love 2 0' -> {'2', '0'}; a sequel is another track, whatever else agrees."""
    words = base.split()
    out: set[str] = set()
    for i, word in enumerate(words):
        if word.isdigit() and 1900 <= int(word) <= 2099 and not (i > 0 and words[i - 1] in _PART_WORDS):
            continue  # a year ('Remastered 2011', 'Summer 2019') is not a part number
        if word.isdigit():
            out.add(str(int(word)))
        elif word in _NUMBER_WORDS and i > 0 and words[i - 1] in _PART_WORDS:
            out.add(str(_NUMBER_WORDS.index(word) + 1))
        elif word in _ROMAN and i > 0:
            out.add(str(["ii", "iii", "iv", "v", "vi", "vii", "viii", "ix"].index(word) + 2))
    if out and not (set(words) & _PART_WORDS) and len(out) == 1 and "0" in out:
        return frozenset()
    return frozenset(out)


_ACCOUNT_SUFFIX = re.compile(r"\s+(official( music)?|music|officiel|oficial|sc|tv|\(official\))$")


def fold_account(name: str) -> str:
    """An uploader's name as an artist's: 'FISHER Official' -> 'fisher', 'Ben Bohmer Music' -> 'ben bohmer'."""
    folded = fold_artist(name)
    return _ACCOUNT_SUFFIX.sub("", folded).strip() or folded

"""Musical key names: parse what tags carry (Am, A minor, 8A, 1m, F#m, Gbm) and print a key in
the notation a user chose (standard, Camelot, Open Key).

Standard names use the spelling DJ software shows: sharps for F#/C#/G# minor, flats for the
major keys Db, Eb, Ab, Bb and the minor keys Eb m, Bb m.
"""

from __future__ import annotations

import re

_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
# Camelot number of each pitch class: majors are 'B', minors 'A'. Open Key 1 = Camelot 8.
_CAMELOT_MAJOR = (8, 3, 10, 5, 12, 7, 2, 9, 4, 11, 6, 1)
_CAMELOT_MINOR = (5, 12, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10)

STANDARD_KEYS: tuple[str, ...] = _MAJOR_NAMES + _MINOR_NAMES


def _split(name: str) -> tuple[int, bool]:
    """(pitch class, is_minor) of a standard name."""
    if name in _MAJOR_NAMES:
        return _MAJOR_NAMES.index(name), False
    if name in _MINOR_NAMES:
        return _MINOR_NAMES.index(name), True
    raise ValueError(f"not a standard key name: {name!r}")


def to_notation(name: str, notation: str) -> str:
    """'Am' -> 'Am' | '8A' | '1m'."""
    pc, minor = _split(name)
    if notation == "standard":
        return name
    number = (_CAMELOT_MINOR if minor else _CAMELOT_MAJOR)[pc]
    if notation == "camelot":
        return f"{number}{'A' if minor else 'B'}"
    if notation == "openkey":
        return f"{(number + 4) % 12 + 1}{'m' if minor else 'd'}"
    raise ValueError(f"unknown key notation {notation!r}")


_STD = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(m|min|minor|maj|major|M)?\s*$")
_CAM = re.compile(r"^\s*(1[0-2]|[1-9])\s*([ABab])\s*$")
_OPEN = re.compile(r"^\s*(1[0-2]|[1-9])\s*([mdMD])\s*$")


def parse_key(text: str | None) -> str | None:
    """A standard key name from a tag value in any common notation, or None if unrecognised."""
    if not text:
        return None
    t = text.strip()
    m = _CAM.match(t)
    if m:
        number, minor = int(m.group(1)), m.group(2).upper() == "A"
        table = _CAMELOT_MINOR if minor else _CAMELOT_MAJOR
        return (_MINOR_NAMES if minor else _MAJOR_NAMES)[table.index(number)]
    m = _OPEN.match(t)
    if m:
        number = (int(m.group(1)) + 6) % 12 + 1  # Open Key -> Camelot
        minor = m.group(2).lower() == "m"
        table = _CAMELOT_MINOR if minor else _CAMELOT_MAJOR
        return (_MINOR_NAMES if minor else _MAJOR_NAMES)[table.index(number)]
    m = _STD.match(t.replace(" ", "") if len(t) <= 3 else t)
    if m:
        pc = _PITCH[m.group(1).upper()]
        accidental = m.group(2)
        if accidental in ("#", "♯"):
            pc += 1
        elif accidental in ("b", "♭"):
            pc -= 1
        mode = (m.group(3) or "")
        minor = mode in ("m", "min", "minor")
        pc %= 12
        return (_MINOR_NAMES if minor else _MAJOR_NAMES)[pc]
    return None

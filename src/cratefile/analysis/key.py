"""Musical key: names and notations (standard, Camelot, Open Key), and the key profiles.

Spelling: the names DJ software prints on the Camelot wheel (Mixed In Key, rekordbox): flats
everywhere except F# and F#m, so minor keys read Abm, Ebm, Bbm, Dbm and major keys Db, Eb, Ab,
Bb, next to F#. `parse_key` accepts any spelling (C#m, G#m, D#, A minor, 8A, 1m, ♯/♭).

No numpy here: every stage that names a key imports this module, the no-op rerun among them.
Detection itself is in keyfind.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "Dbm", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "Abm", "Am", "Bbm", "Bm")
NOTATIONS = ("standard", "camelot", "openkey")

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Key profiles, index 0 = tonic, in semitones above it. bgate and edma: Faraldo et al.,
# "Key estimation in electronic dance music" (ECIR 2016), as shipped in Essentia's KeyEDM;
# temperley: Temperley 1999; krumhansl: Krumhansl-Kessler (the classic baseline).
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "bgate": (
        (1.00, 0.00, 0.42, 0.00, 0.53, 0.37, 0.00, 0.77, 0.00, 0.38, 0.21, 0.30),
        (1.00, 0.00, 0.36, 0.39, 0.00, 0.38, 0.00, 0.74, 0.27, 0.00, 0.42, 0.23),
    ),
    "edma": (
        (1.0000, 0.2875, 0.5020, 0.4048, 0.6050, 0.5614, 0.3205, 0.7966, 0.3159, 0.4506, 0.4202, 0.3889),
        (1.0000, 0.3096, 0.4415, 0.5827, 0.3262, 0.4948, 0.2889, 0.7804, 0.4328, 0.2903, 0.5331, 0.3217),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
}
DEFAULT_PROFILE = "bgate"


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, C = 0
    minor: bool

    @property
    def standard(self) -> str:
        return (MINOR_NAMES if self.minor else MAJOR_NAMES)[self.tonic]

    @property
    def camelot(self) -> str:
        # Camelot numbers walk the circle of fifths: C major is 8B, A minor 8A, G major 9B.
        major_tonic = (self.tonic + 3) % 12 if self.minor else self.tonic
        number = (7 * major_tonic) % 12 + 8
        number = (number - 1) % 12 + 1
        return f"{number}{'A' if self.minor else 'B'}"

    @property
    def openkey(self) -> str:
        # Open Key is Camelot turned so that C major is 1d and A minor 1m.
        number = (int(self.camelot[:-1]) - 8) % 12 + 1
        return f"{number}{'m' if self.minor else 'd'}"

    def notation(self, notation: str) -> str:
        if notation == "standard":
            return self.standard
        if notation == "camelot":
            return self.camelot
        if notation == "openkey":
            return self.openkey
        raise ValueError(f"unknown key notation {notation!r} (known: {', '.join(NOTATIONS)})")


_STANDARD_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(m|min|minor|maj|major|M)?\s*$"
)
_WHEEL_RE = re.compile(r"^\s*(1[0-2]|0?[1-9])\s*([ABab]|[dm])\s*$")


def parse_key(text: str) -> Key:
    """A key from any common spelling: 'Am', 'A minor', 'C#m', 'Db', 'Eb major', '8A', '1m'."""
    wheel = _WHEEL_RE.match(text)
    if wheel:
        number, letter = int(wheel.group(1)), wheel.group(2)
        if letter in "dm":  # Open Key
            number = (number - 1 + 7) % 12 + 1
            minor = letter == "m"
        else:
            minor = letter in "Aa"
        # Inverse of Key.camelot: major tonic = 7 * (number - 8) mod 12 (7 is its own inverse).
        major_tonic = (7 * (number - 8)) % 12
        return Key((major_tonic - 3) % 12 if minor else major_tonic, minor)
    std = _STANDARD_RE.match(text)
    if not std:
        raise ValueError(f"not a key: {text!r} (expected e.g. 'Am', 'F#m', 'Eb', '8A' or '1m')")
    letter, accidental, mode = std.groups()
    pc = _LETTER_PC[letter.upper()]
    if accidental in ("#", "♯"):
        pc += 1
    elif accidental in ("b", "♭"):
        pc -= 1
    return Key(pc % 12, mode in ("m", "min", "minor"))


def key_in_notation(key_name: str, notation: str) -> str:
    """'Am' -> 'Am' (standard), '8A' (camelot), '1m' (openkey). Accepts any spelling parse_key does."""
    return parse_key(key_name).notation(notation)


# --- detection -------------------------------------------------------------------------

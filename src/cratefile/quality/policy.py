"""`from_lossy`: what a lossless target (WAV, AIFF, FLAC, ALAC) does with a source whose audio
came from a lossy encode (a lossy download, or a file the provenance found upscaled).

- `allow`: built, nothing said;
- `warn` (the default): built, and flagged (the report, `status`);
- `skip`: that format is not built for that track; the reason is recorded in the catalog
  (`from_lossy_skipped`) and said by the report and `status`.

The manifest gives a policy per playlist, for all its formats or per format
(`from_lossy: {wav: skip}`), the top level a default for every playlist. A track listed by
several playlists takes the policy of the first (in manifest order) that wants that format,
as its analysis options come from the first playlist listing it. Lossy targets (MP3, M4A) are
never held back: making a 320k MP3 from a 128k one is no lie about what it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cratefile.quality.provenance import Provenance, is_lossless_codec
from cratefile.records import FormatRecipe, Playlist

POLICIES = ("allow", "warn", "skip")
DEFAULT = "warn"


def lossless_target(recipe: FormatRecipe) -> bool:
    return is_lossless_codec(recipe.codec)


def policy_of(playlist: Playlist, fmt: str) -> str:
    return dict(playlist.from_lossy).get(fmt, DEFAULT)


@dataclass(frozen=True)
class Decision:
    build: bool
    flag: str | None = None  # what the report says when the file is built from lossy audio anyway
    reason: str | None = None  # why the file is not built (skip)


def decide(playlists: Iterable[Playlist], fmt: str, recipe: FormatRecipe, provenance: Provenance | None) -> Decision:
    """Build `fmt` for a track listed by `playlists` (manifest order), given its provenance?"""
    if provenance is None or not provenance.lossy_origin or not lossless_target(recipe):
        return Decision(True)
    wanting = [p for p in playlists if fmt in p.formats]
    policy = policy_of(wanting[0], fmt) if wanting else DEFAULT
    what = f"{fmt} from a lossy source ({provenance.label})"
    if policy == "skip":
        return Decision(False, reason=f"{what}: not built (from_lossy: skip)")
    if policy == "warn":
        return Decision(True, flag=f"{what}: built, but it is not lossless audio (from_lossy: warn)")
    return Decision(True)


__all__ = ["DEFAULT", "POLICIES", "Decision", "decide", "lossless_target", "policy_of"]

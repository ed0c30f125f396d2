"""`from_lossy`: what a lossless target (WAV, AIFF, FLAC, ALAC) does with a source whose audio
came from a lossy encode (a lossy download, or a file the provenance found upscaled).

- `allow`: built, nothing said;
- `warn` (the default): built, and flagged (the report, `status`);
- `skip`: that format is not built for that track; the reason is recorded in the catalog
  (`from_lossy_skipped`) and said by the report and `status`. A file built while the policy
  said warn or allow is no longer wanted: not published, and `cratefile prune` moves it to
  the trash (`held`); skip back to warn builds it again.

The manifest gives a policy per playlist, for all its formats or per format
(`from_lossy: {wav: skip}`), the top level a default for every playlist. A track listed by
several playlists takes the policy of the first (in manifest order) that wants that format,
as its analysis options come from the first playlist listing it. Lossy targets (MP3, M4A) are
never held back: making a 320k MP3 from a 128k one is no lie about what it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from cratefile.quality.provenance import Provenance, is_lossless_codec
from cratefile.records import Claim, FormatRecipe, Playlist

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


def policy_for(playlists: Iterable[Playlist], fmt: str) -> str:
    """The policy of the first of `playlists` (manifest order) that wants `fmt`."""
    wanting = [p for p in playlists if fmt in p.formats]
    return policy_of(wanting[0], fmt) if wanting else DEFAULT


def held(playlists: Iterable[Playlist], fmt: str, recipe: FormatRecipe, lossy_origin: bool) -> bool:
    """Is `fmt` of a track listed by `playlists` not wanted (`from_lossy: skip`)? What the
    sinks and `prune` ask: a file built before the policy said skip is not published, and
    `cratefile prune` moves it to the trash."""
    return lossy_origin and lossless_target(recipe) and policy_for(playlists, fmt) == "skip"


def any_skip(playlists: Iterable[Playlist], recipes: Mapping[str, FormatRecipe]) -> bool:
    """Does any playlist say `skip` for a lossless format? (If none does, nothing is held back
    and the lossy tracks need not be looked up.)"""
    return any(policy == "skip" and lossless_target(recipes[fmt]) for p in playlists for fmt, policy in p.from_lossy)


def held_formats(claims: Mapping[str, Claim], lossy: Collection[str],
                 recipes: Mapping[str, FormatRecipe]) -> dict[str, frozenset[str]]:
    """{track: formats `from_lossy: skip` holds back} of the claimed tracks from lossy audio (`lossy`)."""
    out = {}
    for key in lossy:
        claim = claims.get(key)
        if claim is not None:
            skipped = frozenset(f for f in claim.formats if held(claim.playlists, f, recipes[f], True))
            if skipped:
                out[key] = skipped
    return out


def decide(playlists: Iterable[Playlist], fmt: str, recipe: FormatRecipe, provenance: Provenance | None) -> Decision:
    """Build `fmt` for a track listed by `playlists` (manifest order), given its provenance?"""
    if provenance is None or not provenance.lossy_origin or not lossless_target(recipe):
        return Decision(True)
    policy = policy_for(playlists, fmt)
    what = f"{fmt} from a lossy source ({provenance.label})"
    if policy == "skip":
        return Decision(False, reason=f"{what}: not built (from_lossy: skip)")
    if policy == "warn":
        return Decision(True, flag=f"{what}: built, but it is not lossless audio (from_lossy: warn)")
    return Decision(True)


__all__ = ["DEFAULT", "POLICIES", "Decision", "any_skip", "decide", "held", "held_formats", "lossless_target",
           "policy_for", "policy_of"]

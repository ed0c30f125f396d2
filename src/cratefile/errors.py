"""The one exception tree of cratefile and the categories of track failures.

Third-party errors are caught where they enter and re-raised as one of these with the
cause attached (`raise SourceError(...) from exc`); `cli.py` maps them to exit codes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class CratefileError(Exception):
    """Root of every error cratefile raises on purpose."""


class ManifestError(CratefileError):
    """playlists.yaml or rules/*.yaml is invalid. Message names file, line, YAML path, fix."""


class UsageError(CratefileError):
    """The command line asks for something impossible."""


class WorkspaceBusy(CratefileError):
    """Another cratefile run holds the workspace lock."""


class SourceError(CratefileError):
    """A playlist's source could not be enumerated (the playlist as a whole, not one track)."""

    def __init__(self, message: str, category: Category | None = None) -> None:
        super().__init__(message)
        self.category = category


class SinkError(CratefileError):
    """A sink (Rekordbox XML, Eagle, Notion, ...) failed as a whole this run."""


class CatalogError(CratefileError):
    """The catalog (SQLite or a remote mirror) could not be read or written."""


class ToolError(CratefileError):
    """An external program (ffmpeg, ...) failed. Carries argv, exit code and stderr tail."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stderr_tail: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        prog = self.argv[0].rsplit("/", 1)[-1] if self.argv else "?"
        what = "timed out" if returncode is None else f"exited with {returncode}"
        super().__init__(f"{prog} {what}: {stderr_tail.strip()[-600:]}")


class Category(str, enum.Enum):  # noqa: UP042 - StrEnum would change str()/format() of a member
    """Why a track failed. The value is what the catalog and reports store."""

    NOT_FOUND = "not_found"
    PRIVATE = "private"
    GEO_BLOCKED = "geo_blocked"
    DRM = "drm"
    PREVIEW_ONLY = "preview_only"
    UNSUPPORTED_URL = "unsupported_url"
    UNREADABLE = "unreadable"  # a local file that is not decodable audio
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    EXTRACTOR_BROKEN = "extractor_broken"
    DOWNLOAD_FAILED = "download_failed"
    CONVERSION_FAILED = "conversion_failed"
    ANALYSIS_FAILED = "analysis_failed"
    PUBLISH_FAILED = "publish_failed"
    LOCKED_ELSEWHERE = "locked_elsewhere"  # another machine is building this Notion page
    BUILT_ELSEWHERE = "built_elsewhere"  # another machine built this Notion page's track already
    INTERNAL = "internal_error"  # a bug in cratefile: logged with its traceback, retried next run
    ENVIRONMENT = "environment"  # the machine's trouble (a missing tool): stops the run, never recorded

    @property
    def permanent(self) -> bool:
        """Permanent failures wait for a cool-off (or --retry-failed); the others retry next run."""
        return self in _PERMANENT

    @property
    def elsewhere(self) -> bool:
        """Another machine has the track (building it, or built): not a failure of this run;
        counted apart in the report, no effect on the exit code."""
        return self in _ELSEWHERE


_PERMANENT = frozenset(
    {
        Category.NOT_FOUND,
        Category.PRIVATE,
        Category.GEO_BLOCKED,
        Category.DRM,
        Category.PREVIEW_ONLY,
        Category.UNSUPPORTED_URL,
        Category.UNREADABLE,
        Category.ANALYSIS_FAILED,  # no decodable audio in the source: unreadable input
    }
)


_ELSEWHERE = frozenset({Category.LOCKED_ELSEWHERE, Category.BUILT_ELSEWHERE})


class TrackFailure(CratefileError):
    """One track could not be built. Recorded with its category; the run goes on."""

    def __init__(self, category: Category, message: str) -> None:
        self.category = Category(category)
        self.message = message
        super().__init__(f"{self.category.value}: {message}")

    @property
    def permanent(self) -> bool:
        return self.category.permanent

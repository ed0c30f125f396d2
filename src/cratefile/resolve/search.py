"""Candidates from SoundCloud search, through yt-dlp's own `scsearchN:` extractor.

yt-dlp's SoundcloudSearchIE pages api-v2 `/search/tracks` with its client_id handling, proxy,
cookies and loopback rewrite, but its flat entries drop `policy`, `full_duration`,
`user.verified` and `publisher_metadata.isrc` — exactly what keeps a preview or a stranger's
re-upload out. `_SearchIE` is that extractor with one change: each entry also carries the raw
fields resolution reads (`Hit.from_api`). Searches go through the same options as downloads
(`download.proxy`, cookies, the SoundCloud token) and the same retry path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from yt_dlp.extractor.soundcloud import SoundcloudIE, SoundcloudSearchIE
from yt_dlp.utils import update_url_query

from cratefile.errors import Category, SourceError, TrackFailure
from cratefile.records import YtdlpOptions
from cratefile.resolve import Wanted
from cratefile.resolve.hits import Hit
from cratefile.resolve.normalize import fold

log = logging.getLogger(__name__)

RAW_KEYS = ("id", "kind", "title", "permalink_url", "duration", "full_duration", "policy", "playback_count",
            "likes_count", "label_name", "genre", "publisher_metadata", "monetization_model")
USER_KEYS = ("username", "permalink", "verified", "followers_count", "badges")
IE_KEY = "CratefileSoundcloudSearch"


class _SearchIE(SoundcloudSearchIE):  # type: ignore[misc]  # yt-dlp has no type information
    """SoundcloudSearchIE whose entries keep the raw fields a safe match needs."""

    IE_NAME = "cratefile:soundcloud:search"

    @classmethod
    def ie_key(cls) -> str:
        return IE_KEY

    def _get_collection(self, endpoint: str, collection_id: str, **query: Any) -> Iterator[dict[str, Any]]:
        limit = min(query.get("limit", self._DEFAULT_RESULTS_PER_PAGE), self._MAX_RESULTS_PER_PAGE)
        query.update({"limit": limit, "linked_partitioning": 1, "offset": 0})
        next_url = update_url_query(self._API_V2_BASE + endpoint, query)
        page = 0
        while next_url:
            page += 1
            response = self._call_api(next_url, collection_id, f"Downloading page {page}",
                                      "Unable to download API page", headers=self._HEADERS)
            for item in response.get("collection") or []:
                if not isinstance(item, dict) or not item.get("uri"):
                    continue
                raw = {k: item.get(k) for k in RAW_KEYS}
                user: dict[str, Any] = item["user"] if isinstance(item.get("user"), dict) else {}
                raw["user"] = {k: user.get(k) for k in USER_KEYS}
                yield {**self.url_result(item["uri"], SoundcloudIE.ie_key(),
                                         **self._extract_info_dict(item, extract_flat=True)),
                       "cratefile_raw": raw}
            next_url = response.get("next_href")


def _ydl_with_search(opts: YtdlpOptions) -> Any:
    from cratefile.sources import ytdlp

    ydl = ytdlp._ydl(opts, "enumerate", True)
    if IE_KEY not in ydl._ies_instances:
        ydl.add_info_extractor(_SearchIE())
    return ydl


_QUERY_JUNK = re.compile(r"[\(\)\[\]\{\}\"“”]|\s-\s")


def queries(wanted: Wanted) -> list[str]:
    """What to ask search, most specific first: the artists and the title as the service
    writes it (version included), then the title with the first artist only."""
    artists = " ".join(wanted.artists[:2])
    title = _QUERY_JUNK.sub(" ", wanted.title)
    if wanted.remixers and not re.search(r"remix|edit|dub|rework|bootleg|vip", title, re.I):
        title = f"{title} {wanted.remixers[0]} remix"
    first = " ".join(f"{artists} {title}".split())
    second = " ".join(f"{title} {wanted.artists[0] if wanted.artists else ''}".split())
    out = [first]
    if fold(second) != fold(first) and wanted.artists[1:2]:
        out.append(second)
    return out


def search(query: str, n: int, opts: YtdlpOptions) -> list[Hit]:
    """The first `n` uploads SoundCloud search finds for `query`, as Hits (in its order)."""
    from cratefile.sources import ytdlp
    from cratefile.sources.ytdlp_errors import classify

    ydl = _ydl_with_search(opts)
    url = f"scsearch{n}:{query}"

    def once() -> dict[str, Any]:
        try:
            info = ydl.extract_info(url, download=False, ie_key=IE_KEY, process=True)
        except Exception as exc:  # yt-dlp lets raw HTTPError/RequestError/ExtractorError escape
            raise classify(exc, site="soundcloud", secrets=(opts.oauth_token,)) from exc
        if not isinstance(info, dict):
            raise TrackFailure(Category.EXTRACTOR_BROKEN, "yt-dlp returned nothing for a search")
        return info

    try:
        info = ytdlp._retrying(once, 4, 2.0, f"search {query!r}")
    except TrackFailure as failure:
        raise SourceError(f"SoundCloud search failed: {failure.message}", failure.category) from failure
    hits: list[Hit] = []
    for entry in info.get("entries") or []:
        raw = entry.get("cratefile_raw") if isinstance(entry, dict) else None
        hit = Hit.from_api(raw) if isinstance(raw, dict) else None
        if hit is not None:
            hits.append(hit)
    return hits

"""SoundCloud's request budget, respected before it is exceeded.

SoundCloud allows about 600 API requests per 10 minutes; a 500-track first build needs two or
three per track (track JSON, stream URL, sometimes a refresh of the client id). Every request
to an API host — from any download thread, enumeration or search of the process — takes a slot
of one shared pacer, so a large first build spreads itself out instead of running into a storm
of 429s. The pacer is a token bucket sized from the budget (`download.soundcloud_api_budget`,
W requests per T seconds): bursts of W/10, then 0.9 W/T per second, so no window of T seconds
ever holds more than W requests. Media bytes come from
the CDN hosts and are not paced.

When SoundCloud answers 429 anyway, its Retry-After pauses the pacer for every thread and is
written to `cache/ytdlp/soundcloud-cooldown.json`: the next run (an hourly cron job) waits out
what is left of a short pause, and leaves the tracks for later (transient, never a permanent
failure) when the pause is long, instead of hammering an API that said stop.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from pathlib import Path

from cratefile.atomic import write_bytes
from cratefile.errors import Category, TrackFailure
from cratefile.net import RateLimiter, limiter

log = logging.getLogger(__name__)

API_HOSTS = frozenset({"api-v2.soundcloud.com", "api.soundcloud.com", "api-auth.soundcloud.com"})
COOLDOWN_NAME = "soundcloud-cooldown.json"
MAX_INLINE_WAIT = 60.0  # a remembered pause shorter than this is waited out; a longer one defers the track


def is_api(url: str) -> bool:
    return (urllib.parse.urlsplit(url).hostname or "").lower() in API_HOSTS


Budget = tuple[int, float]  # (requests, seconds)


def pacer(budget: Budget) -> RateLimiter:
    """The process's one pacer for SoundCloud's API under `budget`."""
    requests, seconds = budget
    burst = max(1, requests // 10)
    rate = (requests - burst) / seconds
    return limiter(f"soundcloud api {requests}/{seconds:g}s", lambda: RateLimiter(rate, burst=burst))


def pace(url: str, budget: Budget) -> None:
    if is_api(url):
        pacer(budget).acquire()


def _cooldown_file(cachedir: str | None) -> Path | None:
    return Path(cachedir) / COOLDOWN_NAME if cachedir else None


def cooldown_until(cachedir: str | None) -> float:
    """Until when (wall clock) SoundCloud asked us to wait, as an earlier 429 recorded it; 0 if not."""
    path = _cooldown_file(cachedir)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return 0.0
    until = data.get("until") if isinstance(data, dict) else None
    return float(until) if isinstance(until, (int, float)) else 0.0


def remember(cachedir: str | None, budget: Budget, seconds: float) -> None:
    """A 429 asked for `seconds`: pause every thread now (a minute at most: a longer pause
    makes the downloads that follow fail at once, see `wait_out`) and remember it for the next run."""
    pacer(budget).pause_for(min(seconds, MAX_INLINE_WAIT))
    path = _cooldown_file(cachedir)
    until = time.time() + seconds
    if path is None or until <= cooldown_until(cachedir):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps({"until": until, "asked_seconds": seconds}).encode())
    log.info("SoundCloud asked to wait %.0f s; remembered in %s", seconds, path)


def wait_out(cachedir: str | None, budget: Budget) -> None:
    """Before a SoundCloud download: honour what is left of a remembered pause."""
    left = cooldown_until(cachedir) - time.time()
    if left <= 0:
        return
    if left > MAX_INLINE_WAIT:
        when = time.strftime("%H:%M", time.localtime(time.time() + left))
        raise TrackFailure(Category.RATE_LIMITED,
                           f"SoundCloud asked to wait until {when} (a 429 of an earlier run); left for a later run")
    pacer(budget).pause_for(left)

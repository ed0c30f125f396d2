"""The floor of a no-op rerun: a Python process that only stats every target of a workspace.

    python bench/floor.py WORKSPACE

Lists the folders that hold targets (snapshots, sidecars, analysis JSON, every library file,
playlist folders and their M3U8) and stats each file once, as any up-to-date check must.
Prints the number of files stat-ed. bench/noop.py runs it as its floor.
"""

from __future__ import annotations

import os
import sys


def stat_all(root: str) -> int:
    count = 0
    for top in ("cache/playlists", "cache/audio", "cache/analysis", "library"):
        for dirpath, _dirnames, filenames in os.walk(os.path.join(root, top)):
            for name in filenames:
                os.stat(os.path.join(dirpath, name))
                count += 1
    return count


if __name__ == "__main__":
    print(stat_all(sys.argv[1]))

"""One module per stage of a track's build: download, analyze, convert, publish."""

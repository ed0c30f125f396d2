"""Where tracks come from: one module per source kind (yt-dlp URLs, local folders, ...)."""

"""cratefile: `make` for a DJ's music library."""

__version__ = "0.1.0"
USER_AGENT = f"cratefile/{__version__}"  # every HTTP client sends it (Discogs requires one)

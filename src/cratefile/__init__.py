"""cratefile: `make` for a DJ's music library."""

__version__ = "0.1.0"

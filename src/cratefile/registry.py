"""Registered sinks and source kinds, imported when first used.

A run needs the code of the sinks and source kinds its manifest uses, and an hourly rerun of a
clean library needs little else: importing every one (Notion, Eagle, Spotify's login server,
Discogs, ...) cost a third of a no-op run's CPU. So the registries (`cratefile.sinks.SINKS`,
`cratefile.sources.SOURCES`) hold `Lazy` entries: the facts a run asks of every entry (a
sink's doit basename, its manifest section, what it runs after, its verbs' words; a kind's
settings section) are declared next to the registration, and anything else imports the
module and asks the real object. tests/test_registry.py checks each declared fact against the
object it stands for.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any


class Lazy:
    """Stands for `module:Class()` until something other than its declared `facts` is asked."""

    def __init__(self, target: str, **facts: Any) -> None:
        self._target = target
        self._facts = facts
        self._obj: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        facts = self.__dict__.get("_facts")
        if facts is None:  # not initialised yet (copy, pickle): nothing to forward to
            raise AttributeError(name)
        if name in facts:
            return facts[name]
        return getattr(self.load(), name)

    def load(self) -> Any:
        """The registered object (its module imported and the class made once)."""
        if self._obj is None:
            with self._lock:
                if self._obj is None:
                    module, _, cls = self._target.partition(":")
                    self._obj = getattr(importlib.import_module(module), cls)()
        return self._obj

    @property
    def declared(self) -> dict[str, Any]:
        """The facts answered without importing (for the test that checks them)."""
        return dict(self._facts)

    @property
    def module(self) -> str:
        return self._target.partition(":")[0]

    def __repr__(self) -> str:
        return f"Lazy({self._target!r})"

"""What every command gets: settings, the chosen backend (opened on first use) and the output streams."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any

from ollamalib.config import Settings

from ._backend import open_api

__all__ = ["Context"]


@dataclass
class Context:
    settings: Settings
    host: str | None = None
    explicit_host: bool = False
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    _api: Any = None

    @property
    def api(self) -> Any:
        """The Engine or Client commands call (see ``backend.open_api``)."""
        if self._api is None:
            self._api = open_api(self.settings, self.host, explicit=self.explicit_host)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            close = getattr(self._api, "close", None)
            if close is not None:
                close()
            self._api = None

    def out(self, text: str = "", end: str = "\n") -> None:
        self.stdout.write(text + end)
        self.stdout.flush()

    def err(self, text: str = "", end: str = "\n") -> None:
        self.stderr.write(text + end)
        self.stderr.flush()

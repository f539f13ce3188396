"""Progress for create, pull and push: rich bars and spinners on a terminal, plain status lines otherwise.

Both views take Ollama's ``ProgressResponse`` events: an event with a digest and a total drives a bar per
digest (size, speed, ETA); any other event is a status shown with a spinner until the next one arrives.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any

from ._output import human_bytes

__all__ = ["ProgressView", "Spinner", "show_progress"]


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def bar_label(status: str | None, digest: str, verb: str) -> str:
    """The label of a bar: Ollama's ``pulling <12 hex>`` form, or the event's own status for other steps."""
    short = digest.split(":", 1)[-1][:12]
    if not status or status.startswith(("pulling", "pushing", "downloading", "uploading")):
        return f"{verb} {short}"
    return status


class ProgressView:
    """Consumes progress events and draws them on ``stream`` (stderr by default)."""

    def __init__(self, stream: IO[str] | None = None, *, verb: str = "pulling", skip_empty: bool = False,
                 fancy: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.verb = verb
        self.skip_empty = skip_empty  # pull: the first 0-byte report of each layer is not drawn (as Ollama)
        self.fancy = _isatty(self.stream) if fancy is None else fancy
        self.status: str | None = None
        self._bars: dict[str, Any] = {}
        self._plain_done: set[str] = set()
        self._progress: Any = None
        self._spinner_task: Any = None

    def __enter__(self) -> ProgressView:
        if self.fancy:
            self._progress = _rich_progress(self.stream)
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self._progress is not None:
            self._end_spinner()
            self._progress.stop()
            self._progress = None

    def update(self, event: Any) -> None:
        """Draw one ``ProgressResponse`` (or an equivalent dict)."""
        get = event.get if hasattr(event, "get") else (lambda k, d=None: getattr(event, k, d))
        status, digest = get("status"), get("digest")
        total, completed = get("total") or 0, get("completed") or 0
        if digest and total:
            self._bar(status, digest, total, completed)
        elif status and status != self.status:
            self.set_status(status)

    def set_status(self, status: str) -> None:
        """Show a plain status (a spinner on a terminal); the previous status stops spinning."""
        self.status = status
        if self._progress is None:
            self.stream.write(status + "\n")
            self.stream.flush()
            return
        self._end_spinner()
        self._spinner_task = self._progress.add_task(status, total=None, kind="status")

    def _end_spinner(self) -> None:
        if self._spinner_task is not None and self._progress is not None:
            self._progress.update(self._spinner_task, total=1, completed=1)
            self._progress.stop_task(self._spinner_task)
            self._spinner_task = None

    def _bar(self, status: str | None, digest: str, total: int, completed: int) -> None:
        key = digest
        if key not in self._bars and self.skip_empty and completed == 0:
            return
        label = bar_label(status, digest, self.verb)
        if self._progress is None:
            done = completed >= total
            if key not in self._bars or (done and key not in self._plain_done):
                pct = int(100 * min(completed, total) / total) if total else 0
                self.stream.write(f"{label}: {pct:3d}% {human_bytes(completed)}/{human_bytes(total)}\n")
                self.stream.flush()
                if done:
                    self._plain_done.add(key)
            self._bars[key] = True
            return
        self._end_spinner()
        task = self._bars.get(key)
        if task is None:
            task = self._progress.add_task(label, total=total, completed=completed, kind="bar")
            self._bars[key] = task
        self._progress.update(task, total=total, completed=min(completed, total))


def show_progress(events: Iterable[Any], *, verb: str = "pulling", skip_empty: bool = False,
                  stream: IO[str] | None = None) -> Any:
    """Draw every event of ``events`` and return the last one."""
    last = None
    with ProgressView(stream, verb=verb, skip_empty=skip_empty) as view:
        for last in events:
            view.update(last)
    return last


class Spinner:
    """A transient spinner on a terminal (nothing otherwise), erased when stopped, as Ollama's ``StopAndClear``."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: IO[str] | None = None, text: str = "") -> None:
        self.stream = stream or sys.stderr
        self.text = text
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Spinner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not _isatty(self.stream) or self._thread is not None:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, args=(self._stop,), daemon=True)
        self._thread.start()

    def _spin(self, stop: threading.Event) -> None:
        i = 0
        while not stop.wait(0.0 if i == 0 else 0.1):
            with self._lock:
                if stop.is_set():
                    break
                label = f" {self.text}" if self.text else ""
                self.stream.write(f"\r{self.FRAMES[i % len(self.FRAMES)]}{label}")
                self.stream.flush()
            i += 1

    def stop(self) -> None:
        if self._thread is None or self._stop is None:
            return
        with self._lock:
            self._stop.set()
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self._thread.join()
        self._thread = None


def _rich_progress(stream: IO[str]) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class OnlyFor(ProgressColumn):
        """Render ``inner`` for tasks of one kind only (bars get sizes, statuses a spinner)."""

        def __init__(self, kind: str, inner: ProgressColumn) -> None:
            super().__init__()
            self.kind, self.inner = kind, inner

        def render(self, task: Any) -> Any:
            if task.fields.get("kind") != self.kind:
                return Text("")
            if self.kind == "status" and task.finished:
                return Text(" ")
            return self.inner.render(task)

    console = Console(file=stream)
    return Progress(
        OnlyFor("status", SpinnerColumn()),
        TextColumn("{task.description}"),
        OnlyFor("bar", TaskProgressColumn()),
        OnlyFor("bar", BarColumn()),
        OnlyFor("bar", DownloadColumn(binary_units=False)),
        OnlyFor("bar", TransferSpeedColumn()),
        OnlyFor("bar", TimeRemainingColumn()),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
    )

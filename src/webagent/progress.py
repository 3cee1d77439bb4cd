"""Progress of long commands: a live bar on a terminal, an occasional plain line in a log.

Every long command (world build, synthesis, sampling, evaluation, training) reports progress
through :func:`progress`. On a terminal it is a tqdm bar. When the stream is not a terminal (output
redirected to a file, a CI log, a pipe) a live bar would fill the log with carriage returns, so a
plain line is written instead each time another tenth of the work is done, or when
``every_seconds`` passed since the last line, and once at the end::

    eval webwalker: 40/180 ep (22%), acc 41.0%, 2.1 ep/min, 19m02s elapsed

This is the only module that imports tqdm (a test keeps it so).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (a live bar can redraw itself there)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """The bar's interface (``update``, ``set_postfix``, ``set_postfix_str``, ``close``) writing a
    whole line now and then instead of redrawing; see the module docstring."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int, stream: TextIO,
                 every_fraction: float = 0.1, every_seconds: float = 30.0):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.stream, self.every_fraction, self.every_seconds = stream, every_fraction, every_seconds
        self.postfix = ""
        self._initial = initial
        self._start = self._last_time = time.monotonic()
        self._last_step = self._step(initial)
        self._written = initial  # the count of the last line written
        self._due = False  # a line is due (see update)
        self._closed = False

    def _step(self, n: int) -> int:
        """Which tenth (``every_fraction``) of the total ``n`` lies in."""
        if not self.total or self.every_fraction <= 0:
            return 0
        return int(n / self.total / self.every_fraction)

    # Callers update the count, then the postfix (accuracy, loss) that goes with it: a line that
    # falls due on an update is written at the next postfix, update or close, so that it shows both.
    def update(self, n: int = 1) -> None:
        if self._due:
            self._write()
        self.n += n
        now = time.monotonic()
        step = self._step(self.n)
        if step > self._last_step or now - self._last_time >= self.every_seconds:
            self._last_step, self._last_time = step, now
            self._due = True

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s
        if self._due:
            self._write()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.set_postfix_str(", ".join(f"{k} {v}" for k, v in items.items()))

    def line(self) -> str:
        """The current state in one line."""
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.desc}: {done} {self.unit}" + (f" ({100 * self.n / self.total:.0f}%)" if self.total else "")]
        if self.postfix:
            parts.append(self.postfix)
        elapsed = time.monotonic() - self._start
        new = self.n - self._initial
        if new > 0 and elapsed > 0:
            rate = new / elapsed
            parts.append(f"{rate:.1f} {self.unit}/s" if rate >= 1 else f"{60 * rate:.1f} {self.unit}/min")
        parts.append(f"{_duration(elapsed)} elapsed")
        return ", ".join(parts)

    def _write(self) -> None:
        self._written, self._due = self.n, False
        try:
            print(self.line(), file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stream must not stop the work
            pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._due or self.n != self._written:  # a line for the end, unless it was just written
                self._write()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Off(PlainProgress):
    """A disabled bar: counts, writes nothing."""

    def _write(self) -> None:
        pass


def progress(total: int | None = None, *, desc: str, unit: str = "it", initial: int = 0, disable: bool = False,
             stream: TextIO | None = None, every_fraction: float = 0.1, every_seconds: float = 30.0) -> Any:
    """A progress bar for ``total`` units of work: tqdm when ``stream`` (default stderr) is a
    terminal, else a :class:`PlainProgress` writing a line each ``every_fraction`` of the total or
    ``every_seconds``; nothing at all when ``disable``. Use it as a context manager or ``close()``
    it."""
    stream = stream if stream is not None else sys.stderr
    if disable:
        return _Off(total, desc, unit, initial, stream)
    if is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=stream, dynamic_ncols=True)
    return PlainProgress(total, desc, unit, initial, stream, every_fraction, every_seconds)


def track(items: Iterable[T], *, total: int | None = None, **kwargs: Any) -> Iterator[T]:
    """Iterate over ``items`` with a :func:`progress` bar (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = progress(total, **kwargs)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"

"""Ctrl-C that keeps work: the first press asks a training loop to stop at its next step boundary
(where it checkpoints), the second stops at once.

Episode runners need none of this: they write each finished record as it ends, so a plain
``KeyboardInterrupt`` loses only the episodes in flight. A training step is different: stopping in
the middle of one throws away minutes of gradient accumulation, so the loop is asked to finish it::

    with GracefulStop() as stop:
        for step in range(start, end):
            train_one_step()
            if stop.requested:
                save_checkpoint(step + 1)
                raise KeyboardInterrupt
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType


class GracefulStop:
    """A SIGINT handler for the span of a ``with`` block (main thread only; elsewhere a no-op)."""

    def __init__(self, what: str = "step") -> None:
        self.what = what
        self.requested = False
        self._previous = None

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # the second press: stop now, the last checkpoint stays
            raise KeyboardInterrupt
        self.requested = True
        print(f"\nstopping after the current {self.what}, which is then checkpointed; "
              "press Ctrl-C again to stop at once", file=sys.stderr, flush=True)

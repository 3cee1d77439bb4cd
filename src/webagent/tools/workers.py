"""Tool work in worker processes: offline searches and page reading, on other cores.

An episode's client CPU is spent on its event loop: prompts, trajectories, HTTP, and the tools'
own work: for every visit the page's conversion to markdown and its extraction, and in-process a
search of the offline index (query analysis, ranking, snippets). One Python process uses one
core; :class:`ToolWorkers` runs that work in ``n`` child processes, so other cores do it while
the loop goes on with other episodes.

Each worker is ``python -m webagent.tools.workers FD``, joined to the parent by a socket pair
(no threads and no multiprocessing queues on the parent's side: a request costs a pickle and one
socket write on the event loop). Frames are a 4-byte big-endian length and a pickle. A worker
exits when its socket closes, so it never outlives its parent. A worker that dies fails only the
requests it held (:class:`WorkerUnavailable`: the caller does that work itself) and the pool
carries on with the workers left.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from webagent.tools.extract import LexicalExtractor
from webagent.types import Hit
from webagent.web.fetch import FetchResult, page_markdown

log = logging.getLogger(__name__)
_HEADER = struct.Struct(">I")


class WorkerUnavailable(Exception):
    """No worker could take the request (none started, or its worker exited): do it in-process."""


# -- the jobs (plain functions: a worker runs them, and so can anyone else) ---------------------

def read_page(result: FetchResult, goal: str, max_content: int, evidence_chars: int,
              summary_chars: int) -> tuple[str, str] | None:
    """``(evidence, summary)`` of a fetched page for ``goal``; None when it has no text.

    What :class:`~webagent.tools.visit.VisitTool` does with a page and the lexical extractor."""
    content = page_markdown(result, main_content=True)[:max_content]
    if not content.strip():
        return None
    found = LexicalExtractor(evidence_chars, summary_chars).extract_sync(content, goal)
    return found.evidence, found.summary


_indexes: dict[str, Any] = {}


def search_index(directory: str, query: str, k: int) -> list[Hit]:
    """``SearchIndex.search`` on the index in ``directory`` (opened once per process)."""
    index = _indexes.get(directory)
    if index is None:
        from webagent.web.index import SearchIndex

        index = _indexes[directory] = SearchIndex.open(directory)
    return index.search(query, k)


JOBS = {"read_page": read_page, "search_index": search_index}


# -- the parent's side --------------------------------------------------------------------------

class _Conn(asyncio.Protocol):
    """The parent's end of one worker's socket: frames out, replies matched to their futures."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.buf = bytearray()
        self.alive = True

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 4:
            (size,) = _HEADER.unpack_from(self.buf)
            if len(self.buf) < 4 + size:
                return
            rid, ok, value = pickle.loads(self.buf[4 : 4 + size])
            del self.buf[: 4 + size]
            fut = self.pending.pop(rid, None)
            if fut is None or fut.done():
                continue  # its caller gave up (cancelled)
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(RuntimeError(value))

    def connection_lost(self, exc) -> None:
        self.alive = False
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the tool worker exited"))
        self.pending.clear()

    def send(self, rid: int, job: str, args: tuple) -> asyncio.Future:
        if not self.alive:
            raise ConnectionError("the tool worker exited")
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        body = pickle.dumps((rid, job, args), protocol=pickle.HIGHEST_PROTOCOL)
        self.transport.write(_HEADER.pack(len(body)) + body)
        return fut


class ToolWorkers:
    """``n`` worker processes for the :data:`JOBS`, started on first use from the event loop
    they then belong to."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"tool workers: need at least 1, got {n}")
        self.n = n
        self._procs: list[asyncio.subprocess.Process] = []
        self._conns: list[_Conn] = []
        self._ids = itertools.count()
        self._started: asyncio.Future | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False

    async def start(self) -> None:
        """Start the workers (the first request does it too); raises OSError if they cannot."""
        if self._started is None:
            self._loop = asyncio.get_running_loop()
            self._started = asyncio.ensure_future(self._spawn())
        await asyncio.shield(self._started)

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.n):
            parent, child = socket.socketpair()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "webagent.tools.workers", str(child.fileno()),
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL)
            child.close()
            _, conn = await loop.create_unix_connection(_Conn, sock=parent)
            self._procs.append(proc)
            self._conns.append(conn)

    async def run(self, job: str, *args: Any) -> Any:
        """``JOBS[job](*args)`` in the least busy worker; raises :class:`WorkerUnavailable` when
        no worker can take it, and the job's own error as ``RuntimeError``."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # The sockets belong to the loop that started the workers (one asyncio.run).
            raise self._unavailable("they belong to another event loop")
        try:
            await self.start()
        except OSError as e:
            raise self._unavailable(f"could not start ({e})") from e
        live = [c for c in self._conns if c.alive]
        if not live:
            raise self._unavailable("every worker has exited")
        conn = min(live, key=lambda c: len(c.pending))
        try:
            return await conn.send(next(self._ids), job, args)
        except ConnectionError as e:
            raise self._unavailable("a worker exited") from e

    def _unavailable(self, why: str) -> WorkerUnavailable:
        if not self._warned:  # once: a dead pool would otherwise log at every call
            log.warning("tool workers: %s; their work is done in-process", why)
            self._warned = True
        return WorkerUnavailable(why)

    async def aclose(self) -> None:
        """Close the sockets (the workers exit on their own) and reap the processes."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            for proc in self._procs:  # their loop is gone, and its transports with it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
            self._conns, self._procs = [], []
            return
        if self._started is not None and not self._started.done():
            self._started.cancel()
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.close()
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._conns, self._procs = [], []


# -- the worker's side --------------------------------------------------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(fd: int) -> None:
    """A worker's loop: read a request, answer it, until the parent closes the socket."""
    sock = socket.socket(fileno=fd)
    while True:
        head = _recv_exact(sock, 4)
        if head is None:
            return
        body = _recv_exact(sock, _HEADER.unpack(head)[0])
        if body is None:
            return
        rid, job, args = pickle.loads(body)
        try:
            reply: tuple[Any, ...] = (rid, True, JOBS[job](*args))
        except Exception as e:  # the parent gets the error, the worker carries on
            reply = (rid, False, f"{type(e).__name__}: {e}")
        out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        sock.sendall(_HEADER.pack(len(out)) + out)


if __name__ == "__main__":
    serve(int(sys.argv[1]))

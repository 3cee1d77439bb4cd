"""The HTTP client the tools share: page fetches (offline web server and live web) and search APIs.

:class:`HTTPClient` wraps one aiohttp session per event loop and bounds the requests in flight to
each host. Two reasons for aiohttp rather than httpx's async client:

* httpx's connection pool (httpcore) rescans every connection for every waiting request each time
  a response is closed, so its cost per request grows with the number in flight: at 256 episodes
  in flight the client spent most of its time in that scan and throughput fell 4-6x below 16 in
  flight. aiohttp keeps idle connections per host in a queue (constant cost per request).
* aiohttp's per-request overhead is about half of httpx's async client (docs/benchmarks.md).

The bound per host is an ``asyncio.Semaphore`` held for a whole exchange (request and body): a
host never sees more than ``max_per_host`` connections from one client, the pool stays small,
and a live site is not hammered by hundreds of episodes at once. Connections are kept alive and
reused; the client lets an idle connection go before the server would (``keepalive``, below
uvicorn's default 5 s, or below the 30 s of ``webagent web serve`` for the offline web's own
server), so a reused connection is rarely one that the server is closing just then.

For the live web, ``pinned_hosts`` makes every connection go to an address the SSRF guard vetted
in the same DNS lookup (:class:`VettedResolver`), so a rebinding DNS server cannot swap in a
private address between the check and the connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from webagent.tools.guard import vetted_addresses

KEEPALIVE_S = 4.0
"""Seconds an idle connection is kept for reuse by default: below the 5 s that uvicorn and many
other servers keep one, so the client, not the server, closes it."""
SERVER_KEEPALIVE_S = 30.0
"""How long ``webagent web serve`` keeps an idle connection: an episode's next tool call comes
after a model call, often several seconds later."""

# Errors that mean "the exchange did not complete" and are worth a retry.
RETRYABLE = (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)


@dataclass
class Reply:
    """A whole response: status, headers and body."""

    status: int
    reason: str = ""
    headers: CIMultiDictProxy | dict = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.body)


class VettedResolver(AbstractResolver):
    """Resolve names only to addresses the SSRF guard allows (``vetted_addresses``); a refusal
    raises ``URLRefused`` out of the request."""

    def __init__(self, allow_hosts: tuple[str, ...] = ()):
        self.allow_hosts = tuple(allow_hosts)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        return [{"hostname": host, "host": a, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET}
                for a in await vetted_addresses(host, port, self.allow_hosts)]

    async def close(self) -> None:
        pass


class _LoopState:
    """What belongs to one event loop: the session and the per-host semaphores."""

    def __init__(self, session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop):
        self.session, self.loop = session, loop
        self.slots: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}


class HTTPClient:
    """An aiohttp session per event loop with at most ``max_per_host`` requests in flight per host.

    >>> client = HTTPClient(timeout=10, max_per_host=32)
    >>> reply = await client.request("POST", url, json={"q": "ferry"})
    >>> await client.aclose()

    ``proxy``: an outgoing HTTP proxy for every request. ``pinned_hosts``: when not None, connect
    only to addresses the SSRF guard vetted, these hosts being allowed despite the guard (the live
    web); None trusts the system resolver (the own server, search APIs).
    """

    def __init__(self, *, timeout: float = 20.0, max_per_host: int = 64, max_connections: int = 1024,
                 headers: dict[str, str] | None = None, proxy: str | None = None,
                 pinned_hosts: tuple[str, ...] | None = None, keepalive: float = KEEPALIVE_S):
        if max_per_host < 1:
            raise ValueError("max_per_host must be at least 1")
        self.timeout, self.max_per_host, self.max_connections = timeout, max_per_host, max_connections
        self.headers, self.proxy, self.pinned_hosts = dict(headers or {}), proxy, pinned_hosts
        self.keepalive = keepalive
        self._state: _LoopState | None = None

    def _current(self) -> _LoopState:
        # An aiohttp session belongs to the loop it was made on; a client used again under a new
        # loop (asyncio.run twice) gets a fresh session instead of a broken one.
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            if state is not None:
                _abandon(state.session)
            resolver = VettedResolver(self.pinned_hosts) if self.pinned_hosts is not None else None
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, resolver=resolver,
                                             use_dns_cache=resolver is None, keepalive_timeout=self.keepalive)
            session = aiohttp.ClientSession(connector=connector, headers=self.headers, trust_env=False,
                                            timeout=aiohttp.ClientTimeout(total=self.timeout))
            state = self._state = _LoopState(session, loop)
        return state

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request (no redirects followed) and yield the response with its body unread;
        the host's slot is held until the block ends."""
        state = self._current()
        u = URL(url)
        key = (u.scheme, u.host or "", u.port)
        slot = state.slots.get(key)
        if slot is None:
            slot = state.slots[key] = asyncio.Semaphore(self.max_per_host)
        async with slot, state.session.request(method, url, allow_redirects=False, proxy=self.proxy,
                                               **kwargs) as resp:
            yield resp

    async def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        """Send one request and read the whole body."""
        async with self.stream(method, url, **kwargs) as resp:
            body = await resp.read()
            return Reply(resp.status, resp.reason or "", resp.headers, body)

    def in_flight(self, url: str) -> int:
        """Requests to ``url``'s host in flight now (under this loop)."""
        state = self._state
        u = URL(url)
        slot = state.slots.get((u.scheme, u.host or "", u.port)) if state else None
        return self.max_per_host - slot._value if slot else 0

    async def aclose(self) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        if state.loop is asyncio.get_running_loop():
            await state.session.close()
        else:
            _abandon(state.session)


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose loop has ended: close its sockets now (the loop cannot any more)."""
    try:
        if session.connector is not None:
            session.connector._close()
    except Exception:  # a transport of a closed loop may refuse; the socket goes with it anyway
        pass
    session.detach()


async def request_with_retries(
    client: HTTPClient,
    method: str,
    url: str,
    *,
    retries: int = 2,
    backoff: float = 0.5,
    max_retry_after: float = 10.0,
    **kwargs,
) -> Reply:
    """Send one request, retrying timeouts, resets, 429 and 5xx with backoff (honouring a capped
    ``Retry-After``). Returns the last reply or raises the last transport error."""
    for attempt in range(retries + 1):
        delay = backoff * 2**attempt
        try:
            reply = await client.request(method, url, **kwargs)
        except aiohttp.ClientConnectorError:
            raise  # nothing listens there: a retry would not help
        except RETRYABLE:
            if attempt == retries:
                raise
        else:
            if reply.status != 429 and reply.status < 500 or attempt == retries:
                return reply
            after = retry_after(reply.headers.get("retry-after"))
            delay = min(after, max_retry_after) if after is not None else delay
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

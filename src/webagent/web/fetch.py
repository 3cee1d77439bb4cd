"""The fetch layer every tool reads pages through: one ``Fetcher`` for the offline and the live web.

Routing:

* ``.test`` hosts belong to the offline web. With a ``WorldStore`` they are read in-process
  (no HTTP at all); otherwise they go to the running local web server (``FetchConfig.web_url``),
  which serves pages by ``Host`` header. They never reach DNS.
* Everything else is the live web: every hop, redirects included, passes the SSRF guard first.

``Fetcher.fetch`` never raises. Timeouts, resets, HTTP errors, refusals, oversized or binary
bodies all come back as a ``FetchResult`` whose ``error`` says what happened in plain words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp

from webagent.tools.guard import DNSLookupError, URLRefused, check_url
from webagent.urls import is_test_host, normalize_url
from webagent.web.http import SERVER_KEEPALIVE_S, HTTPClient, request_with_retries, retry_after
from webagent.web.markdown import html_to_markdown

T = TypeVar("T")

if TYPE_CHECKING:
    from webagent.world.store import WorldStore

__all__ = ["FetchConfig", "FetchResult", "Fetcher", "html_to_markdown", "off_loop", "page_markdown",
           "request_with_retries"]

OFFLOAD_CHARS = 50_000
"""Inputs longer than this are parsed in a worker thread (see :func:`off_loop`)."""
REDIRECT_CODES = (301, 302, 303, 307, 308)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")


@dataclass
class FetchConfig:
    timeout: float = 20.0
    """Seconds for one attempt (connect + headers + body)."""
    max_bytes: int = 5_000_000
    """Body cap: reading stops here and the result is marked ``truncated``."""
    max_redirects: int = 5
    retries: int = 2
    """Extra attempts after a timeout, a reset connection, a 429 or a 5xx."""
    backoff: float = 0.5
    """First retry delay in seconds; it doubles on each retry."""
    max_retry_after: float = 10.0
    """Cap on a server's ``Retry-After`` (a hostile server must not park the agent)."""
    user_agent: str = "Mozilla/5.0 (compatible; webagent/0.1)"
    allow_hosts: tuple[str, ...] = ()
    """Live hosts (names, IPs or CIDR ranges) the SSRF guard lets through, e.g. a LAN service."""
    web_url: str | None = None
    """Base URL of the local web server (``webagent serve``) for ``.test`` hosts without a store."""
    proxy: str | None = None
    """Outgoing HTTP proxy for the live web (environment proxies are deliberately ignored)."""
    max_per_host: int = 16
    """Requests in flight to one live host at a time (more wait their turn): politeness, and a
    bound on connections per host."""
    max_to_server: int = 256
    """Requests in flight to the offline web's server (``web_url``) at a time."""


@dataclass
class FetchResult:
    url: str
    """Final URL, after redirects."""
    status: int = 0
    content_type: str = ""
    text: str = ""
    error: str | None = None
    truncated: bool = False
    """True when the body hit ``max_bytes`` and the rest was not read."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type.lower()


@dataclass
class _Redirect:
    location: str


@dataclass
class _Retryable:
    result: FetchResult
    retry_after: float | None = None


class Fetcher:
    """Fetch pages from the offline web (``store`` or ``config.web_url``) and the live web.

    >>> fetcher = Fetcher(FetchConfig(timeout=10), store=world)
    >>> result = await fetcher.fetch("http://www.velor-conf.test/")
    """

    def __init__(self, config: FetchConfig | None = None, *, store: WorldStore | None = None):
        self.config = config or FetchConfig()
        self.store = store
        self._clients: dict[str, HTTPClient] = {}

    async def fetch(self, url: str) -> FetchResult:
        """Fetch ``url`` following redirects; never raises."""
        try:
            return await self._fetch(url)
        except Exception as e:  # the last line of defence: a fetch must never kill an episode
            return FetchResult(str(url), error=f"unexpected error ({type(e).__name__}: {e})")

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # -- routing -------------------------------------------------------------------------------

    async def _fetch(self, url: str) -> FetchResult:
        url = _with_scheme(url)
        if not url:
            return FetchResult("", error="empty URL")
        for _ in range(self.config.max_redirects + 1):
            local = is_test_host(url)
            if local:
                url = normalize_url(url)
                if self.store is not None:
                    return self._from_store(url)
                if not self.config.web_url:
                    return FetchResult(url, error="the offline web is not available here (no world store or web_url)")
            else:
                try:
                    await check_url(url, self._allow_for(url))
                except URLRefused as e:
                    return FetchResult(url, error=f"refused by the URL guard: {e}")
                except DNSLookupError as e:
                    return FetchResult(url, error=str(e))
            outcome = await self._with_retries(url, local)
            if isinstance(outcome, _Redirect):
                url = urljoin(url, outcome.location.strip())
                continue
            return outcome
        return FetchResult(url, error=f"too many redirects (more than {self.config.max_redirects})")

    def _allow_for(self, url: str) -> tuple[str, ...]:
        # The local web's own server (web_url) is always reachable, even though it is on loopback.
        allow = self.config.allow_hosts
        if self.config.web_url:
            own = urlsplit(self.config.web_url)
            if urlsplit(url).netloc.lower() == own.netloc.lower() and own.hostname:
                allow = (*allow, own.hostname)
        return allow

    def _from_store(self, url: str) -> FetchResult:
        page = self.store.get(url)
        if page is None:
            return FetchResult(url, status=404, error="HTTP 404 Not Found (no such page on the offline web)")
        return FetchResult(page.url, status=200, content_type="text/html; charset=utf-8", text=page.html)

    def _client(self, local: bool) -> HTTPClient:
        key = "local" if local else "live"
        if key not in self._clients:
            c = self.config
            if local:
                kw = {"max_per_host": c.max_to_server, "keepalive": SERVER_KEEPALIVE_S - 10}
            elif c.proxy:  # the proxy resolves names: guard its egress there
                kw = {"max_per_host": c.max_per_host, "proxy": c.proxy}
            else:  # straight to the live web: connect only to vetted addresses (own server allowed)
                kw = {"max_per_host": c.max_per_host, "pinned_hosts": self._allow_for(c.web_url or "")}
            self._clients[key] = HTTPClient(timeout=c.timeout, headers={"User-Agent": c.user_agent}, **kw)
        return self._clients[key]

    # -- one hop, with retries -----------------------------------------------------------------

    async def _with_retries(self, url: str, local: bool) -> FetchResult | _Redirect:
        cfg = self.config
        last = FetchResult(url, error="not fetched")
        for attempt in range(cfg.retries + 1):
            delay = cfg.backoff * 2**attempt
            try:
                async with asyncio.timeout(cfg.timeout):
                    outcome = await self._attempt(url, local)
            except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
                last = FetchResult(url, error=f"timed out after {cfg.timeout:g} s")
            except URLRefused as e:  # from the resolver: the name now resolves elsewhere
                return FetchResult(url, error=f"refused by the URL guard: {e}")
            except aiohttp.ClientConnectorError as e:
                if isinstance(e.__cause__, DNSLookupError):
                    return FetchResult(url, error=str(e.__cause__))
                return FetchResult(url, error=f"could not connect ({e.strerror or 'connection refused'})")
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError):
                last = FetchResult(url, error="the connection was reset by the server")
            except (aiohttp.ClientError, ValueError) as e:  # ValueError: a URL aiohttp cannot send
                return FetchResult(url, error=f"request failed ({type(e).__name__}: {e})")
            else:
                if not isinstance(outcome, _Retryable):
                    return outcome
                last = outcome.result
                if outcome.retry_after is not None:
                    delay = min(outcome.retry_after, cfg.max_retry_after)
            if attempt < cfg.retries:
                await asyncio.sleep(delay)
        return last

    async def _attempt(self, url: str, local: bool) -> FetchResult | _Redirect | _Retryable:
        if local:
            parts = urlsplit(url)
            target = self.config.web_url.rstrip("/") + (parts.path or "/")
            target += f"?{parts.query}" if parts.query else ""
            headers = {"Host": parts.netloc}
        else:
            target, headers = url, {}
        async with self._client(local).stream("GET", target, headers=headers) as resp:
            status = resp.status
            ctype = resp.headers.get("content-type", "")
            if status in REDIRECT_CODES and resp.headers.get("location"):
                return _Redirect(resp.headers["location"])
            if status == 429 or status >= 500:
                result = FetchResult(url, status, ctype, error=f"HTTP {status} {resp.reason or ''}".strip())
                return _Retryable(result, retry_after(resp.headers.get("retry-after")))
            if status >= 400:
                return FetchResult(url, status, ctype, error=f"HTTP {status} {resp.reason or ''}".strip())
            if ctype and not _is_text_type(ctype):
                return FetchResult(url, status, ctype, error=_binary_message(ctype, resp.headers.get("content-length")))
            body, truncated = await _read_capped(resp, self.config.max_bytes)
        if not ctype:
            ctype = _sniff(body)
            if not _is_text_type(ctype):
                return FetchResult(url, status, ctype, error=_binary_message(ctype, str(len(body))))
        return FetchResult(url, status, ctype, _decode(body, ctype), truncated=truncated)


def page_markdown(result: FetchResult, *, main_content: bool = True) -> str:
    """Readable markdown for a successful fetch: HTML is converted, text types pass through."""
    if not result.ok:
        return ""
    if result.is_html or result.text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        return html_to_markdown(result.text, result.url, main_content=main_content)
    return result.text.strip()


async def off_loop(size: int, fn: Callable[..., T], *args: Any, always: bool = False, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, in a worker thread when ``size`` (characters of input) exceeds
    :data:`OFFLOAD_CHARS` or ``always``, else right here.

    Converting or condensing a big page takes tens of milliseconds of CPU; on the event loop
    that would stall every other episode in flight for as long. The offline web's pages (a few
    KB) take a fraction of a millisecond, less than a thread hop costs, so they stay here.
    """
    if always or size > OFFLOAD_CHARS:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)


# -- helpers -----------------------------------------------------------------------------------


def _with_scheme(url: str) -> str:
    url = (url or "").strip()
    if url and "://" not in url:
        url = ("http://" if is_test_host(url.split("/")[0]) else "https://") + url.lstrip("/")
    return url


def _is_text_type(ctype: str) -> bool:
    mime = ctype.split(";")[0].strip().lower()
    return mime.startswith(_TEXT_TYPES) or mime.endswith(("+json", "+xml"))


def _sniff(body: bytes) -> str:
    head = body[:1024]
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04")) or b"\x00" in head:
        return "application/octet-stream"
    return "text/html" if b"<html" in head.lower() or b"<!doctype" in head.lower() else "text/plain"


def _binary_message(ctype: str, length: str | None) -> str:
    mime = ctype.split(";")[0].strip().lower() or "unknown type"
    size = f", {_human_size(int(length))}" if length and length.isdigit() else ""
    return f"binary content ({mime}{size}) cannot be read"


def _human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _decode(body: bytes, ctype: str) -> str:
    charset = "utf-8"
    for param in ctype.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # unknown charset name
        return body.decode("utf-8", errors="replace")


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False

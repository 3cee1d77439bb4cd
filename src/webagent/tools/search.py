"""The ``search`` tool: batched web search with the WebDancer/WebSailor observation layout.

The model passes a list of queries; they run concurrently and each becomes one block::

    A Google search for '{q}' found {n} results:

    ## Web Results
    1. [{title}]({link})
    Date published: {date}
    Source: {source}

    {snippet}

    2. ...

Blocks are joined with ``\\n=======\\n``. Backends sit behind the small ``SearchEngine`` protocol:
the offline index (``LocalSearch``, default), Serper (``SerperSearch``, which also talks to the
local server's Serper-compatible endpoint through ``base_url``) and SearXNG (``SearxngSearch``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol, runtime_checkable

import aiohttp

from webagent.protocol import escape_observation
from webagent.tools.base import Tool, ToolError
from webagent.tools.workers import ToolWorkers, WorkerUnavailable
from webagent.types import Hit
from webagent.web.http import HTTPClient, request_with_retries

SERPER_URL = "https://google.serper.dev"
BLOCK_SEPARATOR = "\n=======\n"


class SearchBackendError(RuntimeError):
    """A search backend is misconfigured or failed; the message is safe to show (no keys)."""


@runtime_checkable
class SearchEngine(Protocol):
    """Anything that answers a query with ranked hits."""

    async def search(self, query: str, k: int = 10) -> list[Hit]: ...


class LocalSearch:
    """The offline web's BM25 index, searched in-process (on the event loop while searches are
    cheap, see ``SearchIndex.search_async``)."""

    def __init__(self, index: Any, name: str = "local", workers: ToolWorkers | None = None):
        self.index = index
        self.fingerprint = name
        # Workers open the index by its directory; one without (an in-memory index) stays here.
        self.workers = workers if getattr(index, "directory", None) is not None else None
        """Processes that search the same index (:mod:`webagent.tools.workers`)."""

    @classmethod
    def from_world(cls, store: Any, workers: ToolWorkers | None = None) -> LocalSearch:
        """Search a ``WorldStore``'s index; the fingerprint carries the world's content hash."""
        m = store.manifest
        digests = m.get("sha256") if isinstance(m.get("sha256"), dict) else {}
        digest = digests.get("pages") or m.get("pages_sha256") or f"seed{m.get('seed')}-size{m.get('size')}"
        return cls(store.index, name=f"local:{str(digest)[:16]}", workers=workers)

    async def search(self, query: str, k: int = 10) -> list[Hit]:
        if self.workers is not None:
            try:
                return await self.workers.run("search_index", str(self.index.directory), query, k)
            except WorkerUnavailable:
                pass  # search here, as without workers
        return await self.index.search_async(query, k)


class _HTTPEngine:
    """Shared plumbing of the HTTP backends: one client (an aiohttp session per event loop, at
    most ``max_in_flight`` requests to the endpoint at a time)."""

    def __init__(self, base_url: str, timeout: float, retries: int, max_in_flight: int = 256):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._client = HTTPClient(timeout=timeout, max_per_host=max_in_flight)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = await request_with_retries(
                self._client, method, self.base_url + path, retries=self.retries, backoff=0.5, **kwargs
            )
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SearchBackendError(f"{type(self).__name__} request failed ({type(e).__name__})") from None
        if resp.status != 200:
            raise SearchBackendError(f"{type(self).__name__} answered HTTP {resp.status}")
        try:
            return resp.json()
        except ValueError:
            raise SearchBackendError(f"{type(self).__name__} returned a body that is not JSON") from None

    async def aclose(self) -> None:
        await self._client.aclose()


class SerperSearch(_HTTPEngine):
    """Google results through Serper (``POST {base_url}/search``, key in ``SERPER_API_KEY``).

    Point ``base_url`` at the local web server to use its Serper-compatible endpoint offline; a
    key is then optional. The key is sent only as a header and never appears in messages or reprs.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 20.0,
        retries: int = 2,
        gl: str | None = None,
        hl: str | None = None,
    ):
        base_url = base_url or os.environ.get("SERPER_BASE_URL") or SERPER_URL
        super().__init__(base_url, timeout, retries)
        self._api_key = api_key or os.environ.get("SERPER_API_KEY") or ""
        if not self._api_key and self.base_url == SERPER_URL:
            raise SearchBackendError(
                "Serper search needs an API key: set the SERPER_API_KEY environment variable "
                "(or use the offline index / a local server via base_url)"
            )
        self.gl, self.hl = gl, hl
        self.fingerprint = f"serper:{self.base_url}"

    def __repr__(self) -> str:
        return f"SerperSearch(base_url={self.base_url!r})"

    async def search(self, query: str, k: int = 10) -> list[Hit]:
        payload: dict[str, Any] = {"q": query, "num": k}
        payload.update({key: v for key, v in (("gl", self.gl), ("hl", self.hl)) if v})
        headers = {"X-API-KEY": self._api_key} if self._api_key else {}
        data = await self._request("POST", "/search", json=payload, headers=headers)
        hits = []
        for item in (data.get("organic") or [])[:k]:
            if not isinstance(item, dict) or not item.get("link"):
                continue
            hits.append(
                Hit(
                    title=str(item.get("title") or item["link"]),
                    url=str(item["link"]),
                    snippet=str(item.get("snippet") or ""),
                    date=item.get("date") or None,
                    source=item.get("source") or None,
                )
            )
        return hits


class SearxngSearch(_HTTPEngine):
    """A self-hosted SearXNG instance (``GET {base_url}/search?q=...&format=json``; the JSON
    format must be enabled in its settings). ``base_url`` defaults to ``SEARXNG_URL``."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 20.0, retries: int = 2):
        base_url = base_url or os.environ.get("SEARXNG_URL") or ""
        if not base_url:
            raise SearchBackendError("SearXNG search needs a base URL: pass base_url or set SEARXNG_URL")
        super().__init__(base_url, timeout, retries)
        self.fingerprint = f"searxng:{self.base_url}"

    async def search(self, query: str, k: int = 10) -> list[Hit]:
        data = await self._request("GET", "/search", params={"q": query, "format": "json"})
        hits = []
        for item in (data.get("results") or [])[:k]:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            date = item.get("publishedDate")
            hits.append(
                Hit(
                    title=str(item.get("title") or item["url"]),
                    url=str(item["url"]),
                    snippet=str(item.get("content") or ""),
                    date=str(date)[:10] if date else None,
                )
            )
        return hits


def format_hits(query: str, hits: list[Hit]) -> str:
    """One query's block in the exact R-T-04 layout (title and snippet escaped)."""
    items = []
    for i, hit in enumerate(hits, 1):
        item = f"{i}. [{_clean(hit.title)}]({hit.url})"
        if hit.date:
            item += f"\nDate published: {_clean(hit.date)}"
        if hit.source:
            item += f"\nSource: {_clean(hit.source)}"
        if hit.snippet:
            item += f"\n\n{_clean(hit.snippet)}"
        items.append(item)
    header = f"A Google search for '{_clean(query)}' found {len(items)} results:\n\n## Web Results\n"
    return header + "\n\n".join(items)


def no_results(query: str) -> str:
    return f"No results found for '{_clean(query)}'. Try a shorter or more general query."


def _clean(text: str) -> str:
    return escape_observation(" ".join(str(text).split()))


class SearchTool(Tool):
    """``search``: run a batch of queries and list the top results of each."""

    name = "search"
    description = (
        "Perform web searches and return the top results for each query. "
        "Pass several related queries at once in the array."
    )
    parameters = {
        "type": "object",
        "properties": {
            "query": {
                "type": "array",
                "items": {"type": "string", "description": "A search query."},
                "minItems": 1,
                "description": "The list of search queries.",
            }
        },
        "required": ["query"],
    }

    def __init__(self, engine: SearchEngine, *, k: int = 10, max_queries: int | None = None):
        self.engine = engine
        self.k = k
        self.max_queries = max_queries

    @property
    def fingerprint(self) -> str:
        engine = getattr(self.engine, "fingerprint", type(self.engine).__name__)
        return f"search:{engine}:k={self.k}:max={self.max_queries}"

    def validate(self, args: dict[str, Any] | str | None) -> dict[str, Any]:
        # Models often send one bare string instead of a list; accept it rather than fail.
        if isinstance(args, dict) and isinstance(args.get("query"), str):
            args = {**args, "query": [args["query"]]}
        clean = super().validate(args)
        if not all(isinstance(q, str) for q in clean["query"]):
            raise ToolError("argument 'query' must be a list of strings")
        return clean

    async def call(self, query: list[str]) -> str:
        queries = [q.strip() for q in query if q.strip()]
        if not queries:
            raise ToolError("argument 'query' holds no non-empty query")
        if self.max_queries:
            queries = queries[: self.max_queries]
        blocks = await asyncio.gather(*(self._one(q) for q in queries))
        return BLOCK_SEPARATOR.join(blocks)

    async def _one(self, query: str) -> str:
        try:
            hits = await self.engine.search(query, self.k)
        except SearchBackendError as e:
            return f"The search for '{_clean(query)}' failed: {e}. Try again later."
        except Exception as e:
            return f"The search for '{_clean(query)}' failed ({type(e).__name__}). Try again later."
        return format_hits(query, hits) if hits else no_results(query)

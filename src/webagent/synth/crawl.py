"""A same-site crawler: breadth-first from a root URL, recording each page's text, links and depth.

It follows WebWalkerQA's link rules (R-WW-11, shared with the click tool): links from ``a[href]``,
``a[onclick*=location]``, ``a[data-url]`` and ``button[onclick]``, kept only when the resolved URL
starts with the root URL and the anchor text is non-empty, without images, PDFs or ``javascript:``,
deduplicated by URL and text. Depth counts the root as 1, as WebWalkerQA does.

Every fetch goes through :class:`webagent.web.fetch.Fetcher`, so the same crawler reads the
offline web (in-process or over HTTP) and live sites. On the live web it honours ``robots.txt``.
Pages that are error or bot-check pages (404, CAPTCHA, Cloudflare) are recorded as errors and never
become QA material: WebDancer's released CrawlQA has items built from such pages (R-WD-05).

>>> result = await crawl("http://www.velmora-conf.test/", fetcher, CrawlConfig(max_depth=4))
>>> result.golden_path(url)          # 'root->Editions->2024->Venue'
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from webagent import aio
from webagent.tools.click import _canonical, extract_buttons
from webagent.urls import is_test_host
from webagent.web.fetch import Fetcher, FetchResult, page_markdown
from webagent.web.markdown import strip_links

_BLOCKED = re.compile(
    r"captcha|cloudflare|ray id|access denied|verify you are (a )?human|attention required|"
    r"page not found|404 not found|enable javascript and cookies", re.I)


@dataclass
class CrawlConfig:
    max_depth: int = 4
    """Deepest page to fetch, the root being 1 (WebWalkerQA labels depths 2-4; R-WD-02 default)."""
    max_pages: int = 500
    """Stop after this many pages (the breadth limit of the papers is unknown: configurable)."""
    concurrency: int = 8
    """Fetches in flight at once within one BFS level."""
    respect_robots: bool = True
    """Obey ``robots.txt`` on live sites (the offline web has none)."""
    user_agent: str = "webagent"
    store_text: bool = True
    """Offline pages read through a world store keep the store's text (the text provenance is
    recorded against); otherwise the page text is its markdown with links stripped."""


@dataclass
class CrawledPage:
    url: str
    depth: int
    title: str
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)
    """``(anchor text, url)`` of every same-site link, in document order."""
    parent: str | None = None
    """The page it was first reached from (None for the root)."""
    anchor: str = ""
    """The text of the link clicked on ``parent`` to reach it."""


@dataclass
class CrawlResult:
    root: str
    pages: dict[str, CrawledPage] = field(default_factory=dict)
    """URL -> page, in BFS order."""
    errors: dict[str, str] = field(default_factory=dict)
    """URL -> why it was not kept (fetch error, blocked page, robots.txt)."""

    def path(self, url: str) -> list[str]:
        """Anchor texts clicked from the root to ``url``."""
        labels: list[str] = []
        page = self.pages.get(url)
        while page is not None and page.parent is not None:
            labels.append(page.anchor)
            page = self.pages.get(page.parent)
        return labels[::-1]

    def golden_path(self, url: str) -> str:
        """WebWalkerQA's golden-path string: ``root->Editions->2024->Venue``."""
        return "->".join(["root", *self.path(url)])

    def at_depth(self, lo: int, hi: int) -> list[CrawledPage]:
        return [p for p in self.pages.values() if lo <= p.depth <= hi]


async def crawl(root: str, fetcher: Fetcher, config: CrawlConfig | None = None) -> CrawlResult:
    """Breadth-first crawl of the site at ``root``; deterministic for a deterministic site (levels
    are fetched concurrently but processed in discovery order)."""
    config = config or CrawlConfig()
    root = _canonical(root if "://" in root else "http://" + root)
    result = CrawlResult(root)
    robots = await _robots(root, fetcher, config) if config.respect_robots and not is_test_host(root) else None
    seen = {root}
    level: list[tuple[str, str | None, str]] = [(root, None, "")]
    sem = asyncio.Semaphore(max(1, config.concurrency))

    async def one(url: str) -> FetchResult:
        async with sem:
            return await fetcher.fetch(url)

    depth = 1
    while level and depth <= config.max_depth and len(result.pages) < config.max_pages:
        level = level[: config.max_pages - len(result.pages)]
        allowed = []
        for item in level:
            if robots is not None and not robots.can_fetch(config.user_agent, item[0]):
                result.errors[item[0]] = "disallowed by robots.txt"
            else:
                allowed.append(item)
        fetched = await asyncio.gather(*(one(u) for u, _, _ in allowed))
        nxt: list[tuple[str, str | None, str]] = []
        for (url, parent, anchor), res in zip(allowed, fetched, strict=True):
            page = _page(res, url, depth, parent, anchor, root, fetcher, config)
            if isinstance(page, str):
                result.errors[url] = page
                continue
            result.pages[page.url] = page
            seen.add(page.url)
            for text, link in page.links:
                if link not in seen:
                    seen.add(link)
                    nxt.append((link, page.url, text))
        level, depth = nxt, depth + 1
    return result


def crawl_sync(root: str, fetcher: Fetcher, config: CrawlConfig | None = None) -> CrawlResult:
    """:func:`crawl` for synchronous callers (offline generators)."""
    return aio.run(crawl(root, fetcher, config))


def _page(res: FetchResult, url: str, depth: int, parent: str | None, anchor: str, root: str,
          fetcher: Fetcher, config: CrawlConfig) -> CrawledPage | str:
    """A crawled page, or the reason it is not kept."""
    if not res.ok:
        return res.error or "fetch failed"
    if not res.is_html:
        return f"not an HTML page ({res.content_type or 'unknown type'})"
    stored = fetcher.store.get(res.url) if (config.store_text and fetcher.store is not None
                                            and is_test_host(res.url)) else None
    if stored is not None:
        title, text = stored.title, stored.text
    else:
        text = strip_links(page_markdown(res))
        node = HTMLParser(res.text).css_first("title")
        title = node.text(strip=True) if node else ""
    if _looks_blocked(title, text):
        return "error or bot-check page"
    links = [(b.text, b.url) for b in extract_buttons(res.text, res.url, root)]
    return CrawledPage(_canonical(res.url), depth, title, text, links, parent, anchor)


def _looks_blocked(title: str, text: str) -> bool:
    # Short pages that talk about CAPTCHAs or 404s are error pages; a long article that mentions
    # Cloudflare once is not.
    return bool(_BLOCKED.search(title)) or (len(text) < 600 and bool(_BLOCKED.search(text)))


async def _robots(root: str, fetcher: Fetcher, config: CrawlConfig) -> RobotFileParser | None:
    parts = urlsplit(root)
    res = await fetcher.fetch(f"{parts.scheme}://{parts.netloc}/robots.txt")
    if not res.ok or res.is_html:
        return None  # no robots.txt (or an HTML error page in its place): everything is allowed
    parser = RobotFileParser()
    parser.parse(res.text.splitlines())
    return parser

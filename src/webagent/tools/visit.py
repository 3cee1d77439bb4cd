"""The ``visit`` tool: read one or more pages with a goal in mind.

Each URL is fetched (concurrently), converted to markdown, and condensed by an extractor into the
WebDancer/WebSailor layout::

    The useful information in {url} for user goal {goal} as follows: \\n\\nEvidence in page: \\n{evidence}\\n\\nSummary: \\n{summary}\\n\\n

Several URLs are joined with ``\\n=======\\n``. A page that cannot be read gets the same template
with fixed "could not be accessed" texts and the reason. All page text passes through
``escape_observation`` so a page can never forge a protocol tag.
"""

from __future__ import annotations

import asyncio
from typing import Any

from webagent.protocol import escape_observation
from webagent.tools.base import Tool, ToolError
from webagent.tools.extract import WEBCONTENT_MAXLENGTH, Extraction, Extractor, LexicalExtractor
from webagent.tools.workers import ToolWorkers, WorkerUnavailable
from webagent.urls import is_test_host
from webagent.web.fetch import Fetcher, FetchResult, off_loop, page_markdown

BLOCK_SEPARATOR = "\n=======\n"
MAX_EVIDENCE_CHARS = 10_000
"""Evidence quoted per page, whatever the extractor returned (the lexical one keeps 3,000)."""
MAX_SUMMARY_CHARS = 2_000
MAX_ECHO_CHARS = 500
"""The URL and goal are repeated in the observation: at most this many characters of each."""
FAILED_EVIDENCE = "The provided page could not be accessed ({reason}). Check the URL, or try another source."
FAILED_SUMMARY = "The page could not be accessed, so it gives no information for this goal."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_visit(url: str, goal: str, evidence: str, summary: str) -> str:
    """The exact R-T-07 observation for one page."""
    return (
        f"The useful information in {url} for user goal {goal} as follows: \n\n"
        f"Evidence in page: \n{evidence}\n\nSummary: \n{summary}\n\n"
    )


def format_failure(url: str, goal: str, reason: str) -> str:
    return format_visit(url, goal, FAILED_EVIDENCE.format(reason=reason.rstrip(".")), FAILED_SUMMARY)


class VisitTool(Tool):
    """``visit``: fetch pages and report the evidence and a summary relevant to ``goal``."""

    name = "visit"
    description = "Visit web page(s) and return the information in them that serves the given goal."
    parameters = {
        "type": "object",
        "properties": {
            "url": {
                "type": ["string", "array"],
                "items": {"type": "string"},
                "minItems": 1,
                "description": "The URL(s) of the page(s) to visit: one URL or a list of URLs.",
            },
            "goal": {"type": "string", "description": "What information to look for in the page(s)."},
        },
        "required": ["url", "goal"],
    }

    def __init__(
        self,
        fetcher: Fetcher,
        extractor: Extractor | None = None,
        *,
        max_urls: int | None = None,
        max_content: int = WEBCONTENT_MAXLENGTH,
        workers: ToolWorkers | None = None,
    ):
        self.fetcher = fetcher
        self.extractor = extractor or LexicalExtractor()
        self.max_urls = max_urls
        self.max_content = max_content
        self.workers = workers
        """Processes that read pages for the lexical extractor (:mod:`webagent.tools.workers`)."""

    @property
    def fingerprint(self) -> str:
        return f"visit:{getattr(self.extractor, 'fingerprint', type(self.extractor).__name__)}"

    def validate(self, args: dict[str, Any] | str | None) -> dict[str, Any]:
        clean = super().validate(args)
        urls = clean["url"] if isinstance(clean["url"], list) else [clean["url"]]
        if not all(isinstance(u, str) for u in urls):
            raise ToolError("argument 'url' must be a URL string or a list of URL strings")
        urls = [u.strip() for u in urls if u.strip()]
        if not urls:
            raise ToolError("argument 'url' holds no URL")
        if not clean["goal"].strip():
            raise ToolError("argument 'goal' is empty; say what information to look for")
        return {"url": urls, "goal": clean["goal"].strip()}

    async def call(self, url: list[str], goal: str) -> str:
        if self.max_urls:
            url = url[: self.max_urls]
        blocks = await asyncio.gather(*(self.read(u, goal) for u in url))
        return BLOCK_SEPARATOR.join(blocks)

    async def read(self, url: str, goal: str) -> str:
        """The observation for one URL (never raises)."""
        shown_url, shown_goal = (escape_observation(_cut(url, MAX_ECHO_CHARS)),
                                 escape_observation(_cut(goal, MAX_ECHO_CHARS)))
        result = await self.fetcher.fetch(url)
        if not result.ok:
            return format_failure(shown_url, shown_goal, escape_observation(result.error or "unknown error"))
        found = await self._extract(result, goal)
        if found is None:
            return format_failure(shown_url, shown_goal, "the page has no readable text")
        return self._observation(shown_url, shown_goal, found, result.truncated)

    async def _extract(self, result: FetchResult, goal: str) -> Extraction | None:
        """The page's evidence and summary for ``goal``; None when it has no readable text."""
        ex = self.extractor
        if self.workers is not None and type(ex) is LexicalExtractor:
            try:
                found = await self.workers.run("read_page", result, goal, self.max_content,
                                               ex.max_evidence_chars, ex.max_summary_chars)
                return None if found is None else Extraction(*found)
            except WorkerUnavailable:
                pass  # read it here, as without workers
        content = (await _markdown(result))[: self.max_content]
        if not content.strip():
            return None
        try:
            return await ex.extract(content, goal)
        except Exception as e:  # a broken extractor must not cost the page
            found = await LexicalExtractor().extract(content, goal)
            found.rational = f"extractor failed ({type(e).__name__})"
            return found

    def _observation(self, url: str, goal: str, found: Extraction, truncated: bool) -> str:
        evidence = found.evidence.strip() or "No passage of the page relates to the goal."
        evidence = escape_observation(_cut(evidence, MAX_EVIDENCE_CHARS))
        summary = escape_observation(_cut(found.summary.strip(), MAX_SUMMARY_CHARS))
        if truncated:
            summary += "\n(The page was too large and only its beginning was read.)"
        return format_visit(url, goal, evidence, summary)


async def _markdown(result: FetchResult) -> str:
    """The page's main content as markdown, off the event loop when the conversion is slow: a big
    page, or any live page (trafilatura reads those, at milliseconds even for small ones)."""
    live = not is_test_host(result.url)
    return await off_loop(len(result.text), page_markdown, result, main_content=True, always=live)

"""WebWalker's click tool, ``visit_page(button)``: move through one website by button labels.

A ``ClickSession`` belongs to one episode (the original kept its state in files in the working
directory, which broke concurrent runs). It shows a page as its markdown (links stripped, blank
lines collapsed, navigation kept) followed by the list of clickable buttons::

    {markdown}

    clickable button:

    <button>Home<button>
    <button>Call for Papers<button>

Buttons come from the raw HTML (``a[href]``, ``a[onclick*=window.location.href]``, ``a[data-url]``,
``button[onclick]``), limited to the site (the target URL starts with the root URL), with non-empty
text, without images, PDFs or ``javascript:`` links, deduplicated by URL and text. The label → URL
map grows over the episode, so buttons seen on earlier pages stay clickable (going back works).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from webagent.protocol import escape_observation
from webagent.tools.base import Tool, ToolError
from webagent.urls import is_test_host, normalize_url
from webagent.web.fetch import Fetcher, FetchResult, off_loop, page_markdown
from webagent.web.markdown import strip_links

SKIPPED_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".pdf")
UNKNOWN_BUTTON = "The button cannot be clicked. Choose another button from the clickable list and try again."
_LOCATION = re.compile(r"""(?:window\.)?location(?:\.href)?\s*=\s*['"]([^'"]+)['"]""")
_BUTTON_WRAP = re.compile(r"^\s*(?:<\s*button\s*>|&lt;button&gt;)?(.*?)(?:<\s*/?\s*button\s*>|&lt;/?button&gt;)?\s*$", re.S)


MAX_BUTTONS = 300
"""Buttons listed per page: a page of 100,000 links must not make a 100,000-line observation."""
MAX_LABEL_CHARS = 200
"""Characters of a button label (a whole article inside one link is not a label)."""


@dataclass
class Button:
    text: str
    """The label as shown to the model (whitespace collapsed, protocol tags escaped)."""
    url: str


def extract_buttons(html: str, page_url: str, root_url: str) -> list[Button]:
    """The clickable buttons of a page, in document order.

    Relative links are resolved against the page they appear on (the original resolved them
    against the root, which breaks relative links on deeper pages); the result must still start
    with ``root_url`` to count as part of the site.
    """
    tree = HTMLParser(html)
    root = _canonical(root_url)
    seen: set[tuple[str, str]] = set()
    buttons = []
    # One pass over a/button in document order (a selector list would yield a node once per
    # selector it matches); _target applies the R-WW-11 selectors.
    for node in tree.css("a, button"):
        target = _target(node)
        if not target:
            continue
        text = " ".join((node.text(deep=True, separator=" ") or "").split())
        if not text:
            continue
        low = target.strip().lower()
        if low.startswith(("javascript:", "mailto:", "tel:", "#")) or "javascript" in low:
            continue
        url = _canonical(urljoin(page_url, target.strip()))
        if not url.startswith(root) or url.split("?")[0].lower().endswith(SKIPPED_SUFFIXES):
            continue
        label = escape_observation(text[:MAX_LABEL_CHARS])  # the label is also the key a click names
        if (url, label) in seen:
            continue
        seen.add((url, label))
        buttons.append(Button(label, url))
    return buttons


def _target(node: Any) -> str | None:
    attrs = node.attributes
    if node.tag == "a" and attrs.get("data-url"):
        return attrs["data-url"]
    onclick = attrs.get("onclick") or ""
    if "location" in onclick:
        m = _LOCATION.search(onclick)
        if m:
            return m.group(1)
    if node.tag == "a":
        return attrs.get("href")
    return None  # a <button> without a location in its onclick


def _canonical(url: str) -> str:
    url = urldefrag(url)[0]
    return normalize_url(url) if is_test_host(url) else url




def render_observation(markdown: str, buttons: list[Button]) -> str:
    """Page text plus the clickable list (at most :data:`MAX_BUTTONS`), WebWalker-style."""
    listed = "\n".join(f"<button>{b.text}<button>" for b in buttons[:MAX_BUTTONS]) or "(no clickable buttons on this page)"
    if len(buttons) > MAX_BUTTONS:
        listed += f"\n({len(buttons) - MAX_BUTTONS} more buttons not listed)"
    return f"{markdown}\n\nclickable button:\n\n{listed}"


class ClickSession:
    """One episode of click-only navigation inside the site at ``root_url``."""

    def __init__(self, root_url: str, fetcher: Fetcher, *, max_page_chars: int = 30_000):
        self.root_url = _canonical(root_url if "://" in root_url else "http://" + root_url)
        self.fetcher = fetcher
        self.max_page_chars = max_page_chars
        self.buttons: dict[str, str] = {}
        """Label → URL of every button seen so far this episode (later pages win on a clash)."""
        self.history: list[str] = []
        """URLs visited, in order."""

    @property
    def current_url(self) -> str | None:
        return self.history[-1] if self.history else None

    async def start(self) -> str:
        """The root page's observation (WebWalker puts it in the first user message)."""
        return await self.open(self.root_url)

    async def click(self, button: str) -> str:
        """Follow a button by its label; an unknown label gets the fixed error observation."""
        url = self.lookup(button)
        if url is None:
            return UNKNOWN_BUTTON
        return await self.open(url)

    def lookup(self, button: str) -> str | None:
        """The URL behind a label, tolerant of the ``<button>`` wrapper and stray whitespace."""
        m = _BUTTON_WRAP.match(button)
        label = " ".join((m.group(1) if m else button).split())
        for candidate in (label, escape_observation(label)):
            if candidate in self.buttons:
                return self.buttons[candidate]
        return None

    async def open(self, url: str) -> str:
        """Fetch ``url``, record its buttons, and return its observation."""
        result = await self.fetcher.fetch(url)
        if not result.ok:
            return escape_observation(f"The page {url} could not be loaded ({result.error}). Try another button.")
        self.history.append(result.url)
        buttons, text = await off_loop(len(result.text), self._parse, result)
        for b in buttons:
            self.buttons[b.text] = b.url
        if len(text) > self.max_page_chars:
            text = text[: self.max_page_chars] + "\n…(page cut)"
        return render_observation(escape_observation(text), buttons)


    def _parse(self, result: FetchResult) -> tuple[list[Button], str]:
        buttons = extract_buttons(result.text, result.url, self.root_url) if result.is_html else []
        return buttons, strip_links(page_markdown(result, main_content=False))


class ClickTool(Tool):
    """``visit_page``: click a button of the current site (wraps one ``ClickSession``)."""

    name = "visit_page"
    description = (
        "Click a button on the website to open the page behind it. "
        "Pass the exact text of one button from the clickable button list."
    )
    parameters = {
        "type": "object",
        "properties": {"button": {"type": "string", "description": "The text of the button to click."}},
        "required": ["button"],
    }
    stateful = True
    """The observation depends on the clicks before it (the cache keys on the whole history)."""

    def __init__(self, session: ClickSession):
        self.session = session

    @property
    def fingerprint(self) -> str:
        return f"click:{self.session.root_url}"

    async def root_observation(self) -> str:
        """The first observation of the episode: the root page."""
        return await self.session.start()

    async def call(self, button: str) -> str:
        if not button.strip():
            raise ToolError("argument 'button' is empty")
        return await self.session.click(button)

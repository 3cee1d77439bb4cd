"""HTML to markdown for the agent tools.

Two converters, chosen by where the page comes from:

* the offline web writes semantic HTML (``<header>/<nav>/<main>/<aside>/<footer>``), so the fast
  Rust converter ``html-to-markdown`` with tag-based removal of the boilerplate is exact;
* arbitrary live HTML is mostly div soup, where only a main-content extractor finds the article:
  ``trafilatura`` (markdown, links kept, ``favor_recall`` so list items survive) when it is
  installed (the ``live`` extra), falling back to ``html-to-markdown``.

``main_content=False`` keeps the navigation, which WebWalker's click tool needs: menus are where
the buttons are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import html_to_markdown as h2m

from webagent.urls import is_test_host

BOILERPLATE_SELECTORS = ["nav", "header", "footer", "aside", ".cookie-banner", "[role=navigation]"]

_MAIN_OPTIONS = h2m.ConversionOptions(extract_metadata=False, exclude_selectors=BOILERPLATE_SELECTORS)
_FULL_OPTIONS = h2m.ConversionOptions(
    extract_metadata=False, preprocessing=h2m.PreprocessingOptions(remove_navigation=False)
)


def _converter(options: h2m.ConversionOptions) -> Callable[[str], Any]:
    """``html -> ConversionResult`` with ``options`` translated once.

    ``h2m.convert`` translates its Python options into the Rust extension's type on every call,
    which took as long as converting a small page of the offline web. The translation is done
    here once; should the package's internals change, the public ``convert`` is used instead."""
    try:
        import html_to_markdown._html_to_markdown as rust
        from html_to_markdown import api

        prepared = api._to_rust_conversion_options(options)
        rust.convert(html="<p>x</p>", options=prepared, visitor=None)
    except Exception:
        return lambda html: h2m.convert(html, options)
    return lambda html: rust.convert(html=html, options=prepared, visitor=None)


_CONVERT = {True: _converter(_MAIN_OPTIONS), False: _converter(_FULL_OPTIONS)}

_DEFINITION_TAG = re.compile(r"<(/?)(dl|dt|dd)\b[^>]*>", re.IGNORECASE)
_DEFINITION_MARKUP = {("", "dl"): "<ul>", ("/", "dl"): "</ul>", ("", "dt"): "<li><strong>",
                      ("/", "dt"): "</strong>: ", ("", "dd"): "<span>", ("/", "dd"): " </span>"}
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_BARE_URL = re.compile(r"<?\bhttps?://[^\s<>)\]]+>?")


def html_to_markdown(html: str, url: str = "", *, main_content: bool = True) -> str:
    """Convert a page to markdown.

    ``main_content=True`` (what ``visit`` reads) drops navigation, header, footer and sidebars;
    ``main_content=False`` (what ``click`` shows) keeps the whole page.
    """
    if not html.strip():
        return ""
    html = definition_lists_as_items(html)
    if main_content and url and not is_test_host(url):
        text = _trafilatura(html, url)
        if text:
            return text
    try:
        return _CONVERT[main_content](html).content.strip()
    except Exception:
        # A converter failure must not lose the page: fall back to its bare text.
        from selectolax.lexbor import LexborHTMLParser as HTMLParser

        tree = HTMLParser(html)
        for node in tree.css("script, style, noscript"):
            node.decompose()
        body = tree.body or tree.root
        return collapse_blank_lines(body.text(separator="\n") if body else "")


def definition_lists_as_items(html: str) -> str:
    """Rewrite ``<dl>`` lists as ``<ul>`` items "**term**: definition": converters put every
    ``<dt>`` and ``<dd>`` in a paragraph of its own, which separates an infobox's labels from their
    values, so a passage retriever finds "employer" on one line and the employer on another."""
    if "<dt" not in html and "<DT" not in html:
        return html
    return _DEFINITION_TAG.sub(lambda m: _DEFINITION_MARKUP[(m.group(1), m.group(2).lower())], html)


def _trafilatura(html: str, url: str) -> str:
    try:
        import trafilatura
    except ImportError:
        return ""
    try:
        text = trafilatura.extract(
            html, url=url, output_format="markdown", include_links=True, favor_recall=True
        )
    except Exception:
        return ""
    return (text or "").strip()


def collapse_blank_lines(text: str) -> str:
    """Squeeze runs of blank lines into one blank line and trim the ends."""
    return _BLANK_RUNS.sub("\n\n", text).strip()


def strip_links(markdown: str) -> str:
    """Markdown with links reduced to their text, images and bare URLs removed, blank lines
    collapsed (WebWalker's page text: the links are offered separately as buttons)."""
    text = _IMAGE.sub(lambda m: m.group(1), markdown)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _BARE_URL.sub("", text)
    return collapse_blank_lines(text)

"""URL helpers shared by the world, the server and the tools.

The offline web lives under the reserved ``.test`` top-level domain (RFC 2606), so its URLs look
real but can never resolve on the internet; the fetch layer routes them to the local web.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

TEST_TLD = ".test"


def host_of(url: str) -> str:
    """Lower-cased host name of ``url`` without port ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def is_test_host(url_or_host: str) -> bool:
    """True when the URL (or bare host) belongs to the offline web."""
    host = host_of(url_or_host) if "//" in url_or_host else url_or_host.split(":")[0].lower()
    return host.endswith(TEST_TLD) or host == TEST_TLD[1:]


def normalize_url(url: str) -> str:
    """Canonical form used as the page key: http scheme for ``.test`` hosts, lower-case host,
    no fragment, no default port, and ``/`` for an empty path.

    ``https://WWW.Foo.test/a?x=1#top`` and ``http://www.foo.test/a?x=1`` are the same page.
    """
    url = url.strip()
    if "//" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower() or "http"
    if host.endswith(TEST_TLD):
        scheme = "http"
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def check_url(value: str | None, option: str) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else a ``ValueError`` that names the
    command-line ``option`` (so a mistyped URL is one clear line, not a failed page later)."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{option} {value!r}: not an http(s) URL (e.g. http://www.lovara-conf.test/ "
                         "or http://127.0.0.1:8700)")
    return value.strip()

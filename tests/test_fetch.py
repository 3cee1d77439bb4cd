"""The fetch layer: offline web in-process and over HTTP, and the live path against a real loopback
server that misbehaves on purpose (allow-listed through the guard)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from _tools_web import ROOT, FakeWeb
from webagent.web.fetch import FetchConfig, Fetcher, FetchResult, page_markdown
from webagent.web.markdown import html_to_markdown, strip_links


@pytest.fixture(scope="module")
def web(store):
    with FakeWeb(store) as w:
        yield w


def fetch(url: str, **cfg) -> FetchResult:
    store = cfg.pop("store", None)
    config = FetchConfig(**{"allow_hosts": ("127.0.0.1",), "timeout": 2.0, "backoff": 0.01, **cfg})

    async def go():
        async with Fetcher(config, store=store) as f:
            return await f.fetch(url)

    return asyncio.run(go())


# -- the offline web -------------------------------------------------------------------------------


def test_store_fetch_normalises_spellings(store):
    for spelling in [ROOT + "program/", "https://WWW.Velor-Conf.test/program", "www.velor-conf.test/program/#x"]:
        r = fetch(spelling, store=store)
        assert r.ok and r.status == 200 and r.is_html
        assert r.url == ROOT + "program/"
        assert "four days of talks" in r.text


def test_store_miss_is_404(store):
    r = fetch(ROOT + "no/such/page/", store=store)
    assert r.status == 404 and "404" in r.error and r.text == ""


def test_test_hosts_go_through_web_url_by_host_header(store, web):
    r = fetch(ROOT + "program/keynotes/", web_url=web.base)
    assert r.ok and r.url == ROOT + "program/keynotes/"
    assert r.text == store.get(ROOT + "program/keynotes/").html
    missing = fetch(ROOT + "nope/", web_url=web.base)
    assert missing.status == 404 and not missing.ok


def test_the_local_web_server_itself_is_reachable(web):
    r = fetch(web.base + "/ok", web_url=web.base, allow_hosts=())
    assert r.ok and "otters" in r.text
    other_port = fetch("http://127.0.0.1:1/ok", web_url=web.base, allow_hosts=())
    assert "refused by the URL guard" in other_port.error


def test_test_hosts_never_reach_dns_without_a_local_web():
    r = fetch("http://www.velor-conf.test/")
    assert not r.ok and "offline web is not available" in r.error


def test_live_redirect_into_the_offline_web(store, web):
    r = fetch(web.base + "/to-test", store=store)
    assert r.ok and r.url == ROOT + "news/" and "Registration opens" in r.text


# -- the live path ---------------------------------------------------------------------------------


def test_live_html_text_and_json(web):
    r = fetch(web.base + "/ok")
    assert r.ok and r.status == 200 and r.is_html and "otters" in r.text
    assert fetch(web.base + "/text").text == "plain words here"
    j = fetch(web.base + "/json")
    assert j.ok and j.text == '{"answer": 42}' and page_markdown(j) == '{"answer": 42}'


def test_live_404(web):
    r = fetch(web.base + "/404")
    assert r.status == 404 and r.error.startswith("HTTP 404")


def test_stalling_server_times_out(web):
    r = fetch(web.base + "/stall", timeout=0.3, retries=1)
    assert r.error == "timed out after 0.3 s"
    assert web.hits["/stall"] == 2  # the timeout was retried once


def test_connection_reset(web):
    r = fetch(web.base + "/reset", retries=1)
    assert not r.ok and "reset" in r.error


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connecting is refused
        r = fetch(f"http://127.0.0.1:{port}/")
    assert not r.ok and r.error.startswith("could not connect")


def test_redirect_chain_is_followed(web):
    r = fetch(web.base + "/redirect/3")
    assert r.ok and r.url == web.base + "/ok" and "otters" in r.text


def test_too_many_redirects(web):
    r = fetch(web.base + "/loop", max_redirects=4)
    assert r.error == "too many redirects (more than 4)"
    assert fetch(web.base + "/redirect/3", max_redirects=2).error == "too many redirects (more than 2)"


def test_redirect_to_metadata_endpoint_is_refused(web):
    r = fetch(web.base + "/to-metadata")
    assert r.url == "http://169.254.169.254/latest/meta-data/"
    assert r.error.startswith("refused by the URL guard") and "link-local" in r.error


def test_redirect_to_a_name_resolving_to_loopback_is_refused(web):
    before = web.hits["/ok"]
    r = fetch(web.base + "/to-localhost")
    assert "refused by the URL guard" in r.error and "resolves to a loopback address" in r.error
    assert web.hits["/ok"] == before  # the guard stopped it before any request


def test_dns_rebinding_cannot_reach_loopback(web, monkeypatch):
    # A rebinding DNS server: the first lookup (the guard's check) gets a public address, every later
    # one 127.0.0.1. The fetcher connects only to addresses it vetted in one lookup, so it never
    # reaches the loopback server that a second resolution at connect time would have found.
    port = int(web.base.rsplit(":", 1)[1])
    real, answers = socket.getaddrinfo, iter(["93.184.215.14"])

    def rebinding(host, *args, **kwargs):
        if host in ("rebind.example", b"rebind.example"):  # anyio passes the name as IDNA bytes
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.1"), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    before = web.hits["/ok"]
    r = fetch(f"http://rebind.example:{port}/ok", allow_hosts=())
    assert "refused by the URL guard" in r.error and "loopback" in r.error, r
    assert web.hits["/ok"] == before


def test_loopback_is_refused_unless_allow_listed(web):
    r = fetch(web.base + "/ok", allow_hosts=())
    assert "refused by the URL guard" in r.error and "loopback" in r.error


def test_giant_page_is_capped(web):
    r = fetch(web.base + "/giant", max_bytes=100_000)
    assert r.ok and r.truncated and len(r.text) == 100_000


def test_binary_content_is_reported(web):
    r = fetch(web.base + "/pdf")
    assert r.error == "binary content (application/pdf, 1.2 MB) cannot be read"
    sniffed = fetch(web.base + "/sniff-pdf")
    assert sniffed.error.startswith("binary content (application/pdf")


def test_invalid_utf8_and_unknown_charset_are_decoded(web):
    r = fetch(web.base + "/latin")
    assert r.ok and r.text == "caf\ufffd \ufffd ok"
    assert fetch(web.base + "/charset").text == "fine text"


def test_429_then_success_is_retried(web):
    r = fetch(web.base + "/flaky429", retries=2)
    assert r.ok and "Patience" in r.text
    assert web.hits["/flaky429"] == 2


def test_persistent_503_gives_up_after_retries(web):
    before = web.hits["/always503"]
    r = fetch(web.base + "/always503", retries=2)
    assert r.status == 503 and r.error.startswith("HTTP 503")
    assert web.hits["/always503"] - before == 3


@pytest.mark.parametrize("url", ["", "   ", "ht!tp://x", "http://[::1", "file:///etc/passwd", "http://no-such-host.invalid/"])
def test_bad_urls_never_raise(url):
    r = fetch(url)
    assert isinstance(r, FetchResult) and not r.ok and r.error


def test_fetcher_survives_a_new_event_loop(web):
    fetcher = Fetcher(FetchConfig(allow_hosts=("127.0.0.1",)))
    assert asyncio.run(fetcher.fetch(web.base + "/text")).ok
    assert asyncio.run(fetcher.fetch(web.base + "/text")).ok  # fresh client, not a dead pool


def test_concurrent_fetches(store):
    async def go():
        f = Fetcher(store=store)
        return await asyncio.gather(*(f.fetch(ROOT + p) for p in ["", "program/", "venue/", "zh/"]))

    results = asyncio.run(go())
    assert [r.status for r in results] == [200, 200, 200, 200]


# -- HTML to markdown ------------------------------------------------------------------------------


def test_markdown_main_content_drops_boilerplate(store):
    html = store.get(ROOT).html
    main = html_to_markdown(html, ROOT, main_content=True)
    assert "Harrowgate from June 3" in main
    for boiler in ("Copyright Velor", "Sponsored by", "Partner site", "tracking", "color:red"):
        assert boiler not in main
    full = html_to_markdown(html, ROOT, main_content=False)
    assert "Copyright Velor" in full and "[Program](/program/)" in full and "tracking" not in full


def test_markdown_for_live_div_soup_uses_main_content():
    soup = (
        "<html><body><div class='menu'><a href='/a'>Menu A</a> <a href='/b'>Menu B</a></div>"
        "<div class='content'><h1>Otters</h1>"
        + "".join(f"<p>Otters are semi-aquatic mammals, fact number {i}, see <a href='https://ex.org/{i}'>source</a>.</p>" for i in range(8))
        + "<ul><li>River otter</li><li>Sea otter</li></ul></div></body></html>"
    )
    md = html_to_markdown(soup, "https://example.org/otters", main_content=True)
    assert "fact number 7" in md and "River otter" in md
    assert "https://ex.org/3" in md  # links kept


def test_definition_lists_keep_each_label_with_its_value():
    html = ("<main><h1>Ilsa Moravec</h1><dl class='person-info'><dt>employer</dt><dd><a href='/about/'>Velor "
            "University</a></dd><DT>field</DT><dd>harbour studies</dd><dt>email</dt></dl><p>After.</p></main>")
    md = html_to_markdown(html, "http://www.velor.test/people/ilsa/")
    assert "- **employer**: [Velor University](/about/)" in md
    assert "- **field**: harbour studies" in md and "- **email**:" in md and "After." in md


def test_strip_links_keeps_text_only():
    md = "See [the program](/program/) and ![logo](/logo.png) at https://x.org/a .\n\n\n\nEnd"
    assert strip_links(md) == "See the program and logo at  .\n\nEnd"


# -- the shared world and the real local server ----------------------------------------------------


def test_real_server_serves_the_same_pages_as_the_store(world):
    from webagent.web.server import ServerThread

    pages = [p for _, p in zip(range(25), world.iter_pages(), strict=False)]

    async def go(base):
        async with Fetcher(FetchConfig(web_url=base)) as f:
            return await asyncio.gather(*(f.fetch(p.url) for p in pages))

    with ServerThread(world) as server:
        results = asyncio.run(go(server.url))
        missing = fetch(world.sites()[0] + "no/such/page/", web_url=server.url)
    assert [r.text for r in results] == [p.html for p in pages]
    assert [r.url for r in results] == [p.url for p in pages]
    assert missing.status == 404


def test_real_server_faults_are_retried(world):
    from webagent.web.faults import FaultConfig
    from webagent.web.server import ServerThread

    pages = [p for _, p in zip(range(12), world.iter_pages(kind="site"), strict=False)]
    faults = FaultConfig(error_rate=0.3, rate_limit_rate=0.2, retry_after_s=0, seed=3)
    config = FetchConfig(retries=8, backoff=0.001, max_retry_after=0.001)

    async def go(base):
        async with Fetcher(FetchConfig(**{**config.__dict__, "web_url": base})) as f:
            return [await f.fetch(p.url) for p in pages]  # in order: the fault draws are seeded

    with ServerThread(world, faults=faults) as server:
        results = asyncio.run(go(server.url))
    with ServerThread(world, faults=faults) as server:
        config.retries = 0
        unretried = asyncio.run(go(server.url))
    assert {r.status for r in unretried} & {429, 500, 503}  # faults were really injected ...
    assert [r.error for r in results] == [None] * len(pages)  # ... and retried away
    assert [r.text for r in results] == [p.html for p in pages]

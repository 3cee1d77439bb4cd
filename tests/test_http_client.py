"""The tools' HTTP client under concurrency, against real servers on loopback: connections are
reused, requests in flight per host are bounded, and slow page work leaves the event loop free."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from _tools_web import ROOT
from webagent.tools.click import ClickSession
from webagent.tools.search import SerperSearch
from webagent.tools.visit import VisitTool
from webagent.web import fetch as fetch_module
from webagent.web.fetch import OFFLOAD_CHARS, FetchConfig, Fetcher, FetchResult
from webagent.web.http import HTTPClient
from webagent.web.server import BackgroundServer


class Recorder:
    """An ASGI app that answers every request with a small HTML page after ``delay`` seconds and
    records the client port of each request and the most requests it had in flight at once."""

    def __init__(self, delay: float = 0.0):
        self.delay, self.ports, self.in_flight, self.peak = delay, [], 0, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.ports.append(scope["client"][1])
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if scope["path"] == "/search":  # a Serper-shaped answer
                body, ctype = b'{"organic": [{"title": "Ferry", "link": "http://news.test/ferry"}]}', b"application/json"
            else:
                body, ctype = b"<html><body><main><p>Harbour Hall is by the ferry.</p></main></body></html>", b"text/html"
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.in_flight -= 1


def run_fetches(config: FetchConfig, urls: list[str]) -> list[FetchResult]:
    async def go():
        async with Fetcher(config) as f:
            return await asyncio.gather(*(f.fetch(u) for u in urls))

    return asyncio.run(go())


def test_offline_web_over_http_reuses_one_connection():
    app = Recorder()
    with BackgroundServer(app) as srv:
        config = FetchConfig(web_url=srv.url)

        async def go():
            async with Fetcher(config) as f:
                return [await f.fetch(f"{ROOT}page/{i}/") for i in range(20)]

        results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert len(app.ports) == 20 and len(set(app.ports)) == 1  # one kept-alive connection for all 20


def test_search_engine_reuses_one_connection():
    app = Recorder()
    with BackgroundServer(app) as srv:
        engine = SerperSearch(api_key="k", base_url=srv.url)

        async def go():
            hits = [await engine.search(q) for q in ("ferry", "Quellin", "Harbour Hall", "keynote")]
            await engine.aclose()
            return hits

        hits = asyncio.run(go())
    assert [h[0].url for h in hits] == ["http://news.test/ferry"] * 4
    assert len(app.ports) == 4 and len(set(app.ports)) == 1


def test_requests_in_flight_to_the_server_are_bounded():
    app = Recorder(delay=0.2)
    with BackgroundServer(app) as srv:
        urls = [f"{ROOT}p/{i}/" for i in range(12)]
        results = run_fetches(FetchConfig(web_url=srv.url, max_to_server=3), urls)
        assert all(r.ok for r in results)
        assert app.peak == 3  # 12 fetches at once, never more than 3 at the server
        app.peak = 0
        run_fetches(FetchConfig(web_url=srv.url, max_to_server=64), urls)
        assert app.peak == 12  # the bound, not the client, was what held them back
    assert len(set(app.ports)) <= 3 + 12  # connections are at most the requests in flight


def test_requests_in_flight_to_a_live_host_are_bounded():
    app = Recorder(delay=0.2)
    with BackgroundServer(app) as srv:
        config = FetchConfig(allow_hosts=("127.0.0.1",), max_per_host=2)
        results = run_fetches(config, [f"{srv.url}/live/{i}" for i in range(8)])
    assert all(r.ok for r in results) and app.peak == 2


def test_search_requests_in_flight_are_bounded():
    app = Recorder(delay=0.2)
    client = HTTPClient(max_per_host=4)

    async def go(url):
        replies = await asyncio.gather(*(client.request("POST", url + "/search", json={"q": str(i)})
                                         for i in range(10)))
        assert client.in_flight(url) == 0
        await client.aclose()
        return replies

    with BackgroundServer(app) as srv:
        replies = asyncio.run(go(srv.url))
    assert [r.status for r in replies] == [200] * 10 and app.peak == 4


def test_bound_must_be_positive():
    with pytest.raises(ValueError, match="max_per_host"):
        HTTPClient(max_per_host=0)


# -- CPU work and the event loop ---------------------------------------------------------------


def _loop_ticks_during(coro_factory):
    """Run the coroutine with a 10 ms ticker beside it; return (its result, ticks meanwhile)."""

    async def go():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        try:
            return await coro_factory(), ticks
        finally:
            done.set()
            await task

    return asyncio.run(go())


def test_a_big_page_is_converted_off_the_event_loop(store, monkeypatch):
    # A conversion that takes 0.3 s (as trafilatura can on a big live page): run on the loop, the
    # ticker would stand still for all of it.
    real = fetch_module.page_markdown
    threads = []

    def slow_markdown(result, **kw):
        threads.append(threading.get_ident())
        time.sleep(0.3)
        return real(result, **kw)

    monkeypatch.setattr("webagent.tools.visit.page_markdown", slow_markdown)
    big = "<html><body><main>" + "<p>The keynote is at nine in Harbour Hall.</p>" * (OFFLOAD_CHARS // 40) + "</main></body></html>"
    page = FetchResult(ROOT + "big/", 200, "text/html", big)

    class OnePage:
        async def fetch(self, url):
            return page

    tool = VisitTool(OnePage())
    obs, ticks = _loop_ticks_during(lambda: tool.read(page.url, "When is the keynote?"))
    assert "Harbour Hall" in obs
    assert threads and threads[0] != threading.get_ident()  # converted in a worker thread
    assert ticks >= 10  # the loop kept running meanwhile (about 30 ticks of 10 ms)


def test_small_offline_pages_stay_on_the_loop(store, monkeypatch):
    real = fetch_module.page_markdown
    threads = []

    def recording(result, **kw):
        threads.append(threading.get_ident())
        return real(result, **kw)

    monkeypatch.setattr("webagent.tools.visit.page_markdown", recording)
    obs = asyncio.run(VisitTool(Fetcher(store=store)).read(ROOT + "venue/", "venue"))
    assert "Congress Hall" in obs
    assert threads == [threading.get_ident()]  # a thread hop would cost more than the conversion


def test_click_parses_a_big_page_off_the_loop(store, monkeypatch):
    threads = []
    real = fetch_module.page_markdown

    def slow_markdown(result, **kw):
        threads.append(threading.get_ident())
        time.sleep(0.3)
        return real(result, **kw)

    monkeypatch.setattr("webagent.tools.click.page_markdown", slow_markdown)
    big = '<html><body><a href="/venue/">Venue</a>' + "<p>Filler text of the home page.</p>" * (OFFLOAD_CHARS // 30) + "</body></html>"

    class OnePage:
        async def fetch(self, url):
            return FetchResult(ROOT, 200, "text/html", big)

    session = ClickSession(ROOT, OnePage())
    obs, ticks = _loop_ticks_during(lambda: session.open(ROOT))
    assert "Venue" in obs and threads[0] != threading.get_ident() and ticks >= 10

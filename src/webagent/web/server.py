"""The HTTP server of the offline web: every page by its ``.test`` host, plus search APIs.

One Starlette app answers two kinds of request:

- **pages**: a request whose host ends in ``.test`` gets that page of the world. The host comes
  from the ``Host`` header (``GET /2024/ HTTP/1.1`` + ``Host: www.velor-conf.test``) or from an
  absolute-form target (``GET http://www.velor-conf.test/2024/ HTTP/1.1``), which is what an HTTP
  client sends when this server is its proxy. Unknown pages get a real 404 page.
- **the server's own endpoints** (any other host, e.g. ``127.0.0.1:8700``): ``GET /`` an HTML list
  of sites, ``GET /health``, a Serper-compatible ``POST /search`` (and ``GET /search?q=``) and a
  Search-R1-compatible ``POST /retrieve``, so existing clients work by changing their base URL.

:class:`ServerThread` runs the app under uvicorn in a background thread on a free loopback port;
tests and demos use it. ``serve()`` runs it in the foreground.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from webagent.types import Hit
from webagent.urls import is_test_host
from webagent.web.faults import FaultConfig, FaultMiddleware
from webagent.web.http import SERVER_KEEPALIVE_S
from webagent.world.store import WorldStore

log = logging.getLogger(__name__)

ENGINE_NAME = "webagent-local"
MAX_NUM = 100  # Serper's own ceiling for results per query
MAX_BATCH = 100  # queries per /search batch or /retrieve call
DEFAULT_TOPK = 3  # Search-R1's default retrieval depth


class BadRequest(Exception):
    """A request we refuse with 400 and a message saying why."""


# ---------------------------------------------------------------------------------------------
# ASGI plumbing


def _scope_host(scope: dict) -> str:
    """Lower-cased host of the request, without port."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # IPv6 literal
                return host.split("]")[0] + "]"
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    server = scope.get("server")
    return server[0] if server else ""


class AbsoluteFormMiddleware:
    """Turn a proxy-style request (``GET http://host/path``) into an origin-form one.

    uvicorn's httptools parser already strips the scheme and host from the target (the client
    sends a matching ``Host`` header); its h11 parser passes ``http://host/path`` through as the
    path. Either way, after this the path starts with ``/`` and the ``Host`` header names the
    target's host.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not scope["path"].startswith("/"):
            parts = urlsplit(scope["path"])
            if parts.scheme in ("http", "https") and parts.netloc:
                scope = dict(scope)
                scope["path"] = parts.path or "/"
                scope["raw_path"] = scope["path"].encode()
                headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
                scope["headers"] = [(b"host", parts.netloc.encode()), *headers]
        await self.app(scope, receive, send)


def _fault_applies(scope: dict) -> bool:
    """Faults hit pages and search calls, never the health check or the site list."""
    return is_test_host(_scope_host(scope)) or scope["path"] in ("/search", "/retrieve")


# ---------------------------------------------------------------------------------------------
# The app


class _WebApp:
    """Request handlers bound to one world."""

    def __init__(self, world: WorldStore, api_key: str | None):
        self.world = world
        self.api_key = api_key
        try:
            self.index = world.index
        except FileNotFoundError:  # a world without an index still serves its pages
            log.warning("world %s has no search index; /search will answer 503", world.root)
            self.index = None
        self.sites = world.sites()
        self.hosts = {urlsplit(s).hostname for s in self.sites}

    async def dispatch(self, request: Request) -> Response:
        host = _scope_host(request.scope)
        if is_test_host(host):
            response = self.page(request, host)
        else:
            response = await self.own(request)
        log.debug("%s %s%s -> %d", request.method, host, request.url.path, response.status_code)
        return response

    # -- pages of the offline web -------------------------------------------------------------

    def page(self, request: Request, host: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        url = f"http://{host}{request.url.path}"
        if request.url.query:
            url += "?" + request.url.query
        page = self.world.get(url) if host in self.hosts else None
        if page is not None:
            return HTMLResponse(page.html)
        if request.url.path == "/robots.txt" and host in self.hosts:
            return PlainTextResponse(f"User-agent: *\nAllow: /\n\n# {host} is part of the webagent offline web\n")
        return HTMLResponse(_not_found_html(host, request.url.path, host in self.hosts), status_code=404)

    # -- the server's own host ------------------------------------------------------------------

    async def own(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        routes: dict[str, tuple[tuple[str, ...], Callable]] = {
            "/": (("GET", "HEAD"), self.home),
            "/health": (("GET", "HEAD"), self.health),
            "/search": (("GET", "POST"), self.search),
            "/retrieve": (("POST",), self.retrieve),
            "/robots.txt": (("GET", "HEAD"), lambda r: PlainTextResponse("User-agent: *\nDisallow: /search\n")),
        }
        if path not in routes:
            return JSONResponse({"message": f"no endpoint {path}", "statusCode": 404}, status_code=404)
        methods, handler = routes[path]
        if method not in methods:
            return JSONResponse({"message": "Method Not Allowed", "statusCode": 405}, status_code=405,
                                headers={"Allow": ", ".join(methods)})
        try:
            result = handler(request)
            return await result if hasattr(result, "__await__") else result
        except BadRequest as e:
            return JSONResponse({"message": str(e), "statusCode": 400}, status_code=400)

    def home(self, request: Request) -> Response:
        items = "\n".join(f'<li><a href="{html.escape(s)}">{html.escape(s)}</a></li>' for s in self.sites)
        body = (
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>webagent offline web</title></head>"
            f"<body><h1>webagent offline web</h1><p>{len(self.sites)} sites. Fetch a page through this "
            "server as an HTTP proxy or with its <code>Host</code> header; search with "
            "<code>POST /search</code> (Serper JSON) or <code>POST /retrieve</code> (Search-R1).</p>"
            f"<ul>\n{items}\n</ul></body></html>"
        )
        return HTMLResponse(body)

    def health(self, request: Request) -> Response:
        return JSONResponse({
            "status": "ok",
            "pages": len(self.world),
            "documents": len(self.index) if self.index is not None else 0,
            "sites": len(self.sites),
            "seed": self.world.manifest.get("seed"),
        })

    def _authorized(self, request: Request) -> bool:
        if not self.api_key:
            return True  # Serper clients always send a key: accept and ignore it
        given = request.headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode(), self.api_key.encode())

    async def search(self, request: Request) -> Response:
        """Serper's ``/search``: one query object, or a list of them (batch mode)."""
        if not self._authorized(request):
            return JSONResponse({"message": "Unauthorized.", "statusCode": 403}, status_code=403)
        if self.index is None:
            return JSONResponse({"message": "this world has no search index", "statusCode": 503}, status_code=503)
        if request.method == "GET":
            payload: Any = dict(request.query_params)
        else:
            payload = await _json_body(request)
        if isinstance(payload, list):
            if len(payload) > MAX_BATCH:
                raise BadRequest(f"at most {MAX_BATCH} queries per batch")
            params = [_serper_params(p) for p in payload]
            return JSONResponse(await run_in_threadpool(
                lambda: [self._serper_answer(p, self.index.search(p["q"], p["num"], offset=p["offset"])) for p in params]))
        p = _serper_params(payload)
        # One query runs on the loop while searches are cheap (SearchIndex.search_async).
        hits = await self.index.search_async(p["q"], p["num"], offset=p["offset"])
        return JSONResponse(self._serper_answer(p, hits))

    def _serper_answer(self, params: dict, hits: list[Hit]) -> dict:
        q, num, page = params["q"], params["num"], params["page"]
        organic = []
        for i, h in enumerate(hits, start=params["offset"] + 1):
            item: dict[str, Any] = {"title": h.title, "link": h.url, "snippet": h.snippet}
            if h.date:
                item["date"] = h.date
            item["position"] = i
            organic.append(item)
        search_parameters = {"q": q, "num": num, "type": "search", "engine": ENGINE_NAME}
        if page > 1:
            search_parameters["page"] = page
        return {"searchParameters": search_parameters, "organic": organic, "credits": 1}

    async def retrieve(self, request: Request) -> Response:
        """Search-R1's retrieval server: ``{"queries": [...], "topk": 3, "return_scores": true}``."""
        if not self._authorized(request):
            return JSONResponse({"message": "Unauthorized.", "statusCode": 403}, status_code=403)
        if self.index is None:
            return JSONResponse({"message": "this world has no search index", "statusCode": 503}, status_code=503)
        payload = await _json_body(request)
        if not isinstance(payload, dict):
            raise BadRequest('expected a JSON object {"queries": [...], "topk": 3, "return_scores": false}')
        queries = payload.get("queries")
        if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
            raise BadRequest('"queries" must be a list of strings')
        if len(queries) > MAX_BATCH:
            raise BadRequest(f"at most {MAX_BATCH} queries per call")
        topk = _int_param(payload.get("topk"), "topk", DEFAULT_TOPK, 1, MAX_NUM)
        scores = bool(payload.get("return_scores", False))

        def run() -> list:
            return [[_retrieval_item(h, scores) for h in self.index.search(q, topk, with_text=True)]
                    for q in queries]

        return JSONResponse({"result": await run_in_threadpool(run)})


def _retrieval_item(hit: Hit, with_score: bool) -> dict:
    # Search-R1's corpus stores each passage as '"Title"\ntext'; its client splits on the newline.
    doc = {"id": hit.url, "contents": f'"{hit.title}"\n{hit.extra.get("text", "")}'}
    return {"document": doc, "score": hit.score} if with_score else doc


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise BadRequest("request body is not valid JSON") from None


def _int_param(value: Any, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer, got {value!r}") from None
    return min(max(number, low), high)


def _serper_params(obj: Any) -> dict:
    if not isinstance(obj, dict):
        raise BadRequest('each query must be a JSON object like {"q": "...", "num": 10}')
    q = obj.get("q")
    if not isinstance(q, str):
        raise BadRequest('missing query string "q"')
    num = _int_param(obj.get("num"), "num", 10, 1, MAX_NUM)
    page = _int_param(obj.get("page"), "page", 1, 1, 100)
    return {"q": q, "num": num, "page": page, "offset": (page - 1) * num}


def _not_found_html(host: str, path: str, known_host: bool) -> str:
    home = f'<p><a href="http://{html.escape(host)}/">Go to the home page</a></p>' if known_host else ""
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>404 Not Found</title></head>"
        f"<body><h1>404 Not Found</h1><p>The page {html.escape(path)} does not exist on "
        f"{html.escape(host)}.</p>{home}</body></html>"
    )


def create_app(world: WorldStore, *, faults: FaultConfig | None = None, api_key: str | None = None) -> Starlette:
    """The ASGI app serving ``world``: its pages by ``.test`` host, and the search endpoints.

    ``api_key``: when set, ``/search`` and ``/retrieve`` require it in ``X-API-KEY`` (403 otherwise).
    ``faults``: inject latency/errors/429s/truncation into page and search requests.
    """
    web = _WebApp(world, api_key)
    middleware = [Middleware(AbsoluteFormMiddleware)]
    if faults is not None and faults.active:
        middleware.append(Middleware(FaultMiddleware, config=faults, applies=_fault_applies))
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
    app = Starlette(routes=[Route("/{path:path}", web.dispatch, methods=methods)], middleware=middleware)
    app.state.web = web
    return app


# ---------------------------------------------------------------------------------------------
# Running it


class _Server(uvicorn.Server):
    """uvicorn server that reports when it is accepting connections."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class BackgroundServer:
    """Any ASGI app served by uvicorn in a daemon thread (tests, demos, notebooks).

    ``port=0`` (the default) takes a free port; ``url`` is the base URL once started. Startup waits
    on uvicorn's own ready signal, never on a sleep. ``options`` go to ``uvicorn.Config``.
    """

    name = "webagent-server"

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, **options: Any):
        self.app, self.host, self.port = app, host, port
        self.options = {"log_level": "warning", "access_log": False,
                        "timeout_keep_alive": int(SERVER_KEEPALIVE_S), **options}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(256)
        self._socket, self.port = sock, sock.getsockname()[1]
        self._server = _Server(uvicorn.Config(self.app, **self.options))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        if not self._server.ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {timeout} s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


class ServerThread(BackgroundServer):
    """The offline web served by uvicorn in a daemon thread on a loopback port.

    >>> with ServerThread(world) as server:           # doctest: +SKIP
    ...     httpx.get(server.url + "/health").json()
    """

    name = "the web server"

    def __init__(self, world: WorldStore | str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultConfig | None = None, api_key: str | None = None, http: str = "auto"):
        self.world = world if isinstance(world, WorldStore) else WorldStore(world)
        super().__init__(create_app(self.world, faults=faults, api_key=api_key), host=host, port=port,
                         lifespan="off", http=http)


def start_server(world: WorldStore | str | os.PathLike, **kwargs) -> ServerThread:
    """Start a :class:`ServerThread` and return it (call ``.stop()`` when done)."""
    return ServerThread(world, **kwargs).start()


def serve(world_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 8700, faults: FaultConfig | None = None,
          *, api_key: str | None = None, log_level: str = "info") -> None:
    """Serve the world at ``world_dir`` in the foreground until interrupted."""
    world = WorldStore(Path(world_dir))
    if not _is_loopback(host):
        log.warning("serving on %s: the offline web is reachable from other machines", host)
    app = create_app(world, faults=faults, api_key=api_key)
    log.info("offline web of %d pages at http://%s:%d (use it as an HTTP proxy for .test URLs)",
             len(world), host, port)
    # One process: on a small machine the clients need the other cores (docs/benchmarks.md). A
    # long keep-alive lets an episode reuse its connection across a model call between two tools.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off",
                timeout_keep_alive=int(SERVER_KEEPALIVE_S))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

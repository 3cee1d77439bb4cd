"""The web UI: a live agent demo, an evaluation-run viewer and a data browser, in one Starlette app.

>>> app = create_app(UIConfig(world="worlds/seed7", roots=["runs", "data"]))   # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8765)                             # doctest: +SKIP

Pages are rendered on the server with Jinja2 (autoescape on, always) and a small script
(``static/app.js``) streams live episodes over Server-Sent Events, writing every piece of text with
``textContent``. A Content-Security-Policy allows scripts from the app's own ``/static`` only, so a
``<script>`` that arrives in a page, an observation or a model reply is shown as text and never runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from webagent.protocol import loads_safe
from webagent.ui import files as F
from webagent.ui.live import (
    LiveRequest,
    LiveSession,
    LiveSessions,
    ModelFactory,
    default_models,
    run_agent,
    sse,
)
from webagent.web.server import BackgroundServer

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class UIConfig:
    """What the UI serves and where it may read."""

    world: str | None = None
    """Offline world for Live runs; None = the default world (built on first use)."""
    web_url: str | None = None
    """Read the offline web through a running ``webagent web serve`` instead of in-process."""
    roots: list[str] = field(default_factory=lambda: ["."])
    """Directories whose evaluation runs and data files the UI may open (and nothing else)."""
    cache_dir: str | None = None
    allow_hosts: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    """Where the server listens; only used to decide whether to check the ``Host`` header."""
    max_running: int = 4
    """Live episodes running at once."""
    max_body_bytes: int = 64 * 1024
    """Largest request body accepted (the Live form is a few hundred bytes); larger ones get 413
    before they are read."""


class _SecurityHeaders:
    """ASGI middleware: CSP and friends on every response; on a loopback bind, requests whose
    ``Host`` is not loopback are refused (a DNS-rebinding page cannot drive the UI); a request
    body over ``max_body`` bytes gets 413, decided from ``Content-Length`` before anything is
    read, or while a body without one streams in."""

    def __init__(self, app: Any, check_host: bool, max_body: int = 64 * 1024):
        self.app, self.check_host, self.max_body = app, check_host, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.check_host:
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK:
                return await _plain("this UI only answers on 127.0.0.1 / localhost", 421)(scope, receive, send)
        length = headers.get(b"content-length", b"0").decode("latin-1").strip()
        if not length.isdigit():
            return await _plain("bad Content-Length", 400)(scope, receive, send)
        if int(length) > self.max_body:
            return await _plain(f"request body over {self.max_body} bytes", 413)(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:  # answered as 413 by the app's exception handling
                    raise HTTPException(413, f"request body over {self.max_body} bytes")
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


def _plain(text: str, status: int) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


class UI:
    """The application state: configuration, templates, toolboxes and live sessions."""

    def __init__(self, config: UIConfig, models: dict[str, tuple[str, ModelFactory]] | None = None):
        self.config = config
        self.roots = [Path(r).expanduser().resolve() for r in (config.roots or ["."])]
        self.models = {**default_models(), **(models or {})}
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                      undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.1f}%"
        self.env.filters["num"] = lambda x, d=2: "–" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))
        # Plain text (not Markup), so autoescape still applies; non-ASCII stays readable.
        self.env.filters["jsontext"] = lambda x: json.dumps(x, ensure_ascii=False, default=str)
        self.env.filters["tojson_pretty"] = lambda x: json.dumps(x, ensure_ascii=False, indent=1, default=str)
        self.toolboxes: dict[str, Any] = {}
        self._toolbox_lock = asyncio.Lock()
        self.sessions = LiveSessions(self._episode, max_running=config.max_running)

    # --- rendering ------------------------------------------------------------------------------
    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(roots=self.roots, **context)
        return HTMLResponse(html, status_code=status)

    def error(self, message: str, status: int = 400) -> HTMLResponse:
        return self.page("error.html", status=status, title="Error", message=message)

    # --- live episodes ----------------------------------------------------------------------------
    async def toolbox(self, web: str) -> Any:
        """One Toolbox per web kind, built on first use (opening a world may take a while)."""
        async with self._toolbox_lock:
            if web not in self.toolboxes:
                from webagent.tools.toolbox import Toolbox, WebConfig

                c = self.config
                cfg = WebConfig(web=web, world=c.world, web_url=c.web_url if web == "offline" else None,
                                cache_dir=c.cache_dir, allow_hosts=tuple(c.allow_hosts))
                self.toolboxes[web] = await asyncio.to_thread(Toolbox, cfg)
            return self.toolboxes[web]

    async def _episode(self, session: LiveSession):
        req = session.request
        session.push("notice", f"starting {req.agent} · {self.models[req.llm][0]} · {req.web} web")
        model = self.models[req.llm][1](req)
        return await run_agent(session, model, await self.toolbox(req.web))

    def site_roots(self) -> list[str]:
        """Offline site roots for the WebWalker field's suggestions (if the world is open)."""
        tb = self.toolboxes.get("offline")
        if tb is None or tb.world is None:
            return []
        return [s for s in tb.world.sites() if s][:200]

    async def aclose(self) -> None:
        await self.sessions.aclose()
        for tb in self.toolboxes.values():
            await tb.aclose()


# --- routes: live ---------------------------------------------------------------------------------

async def live_page(request: Request) -> Response:
    ui: UI = request.app.state.ui
    choices = [(k, label) for k, (label, _) in ui.models.items()]
    return ui.page("live.html", title="Live", nav="live", llms=choices, sites=ui.site_roots(),
                   default_llm=next(iter(ui.models)) if "baseline" not in ui.models else "baseline")


async def live_start(request: Request) -> Response:
    ui: UI = request.app.state.ui
    # JSON only: a cross-site HTML form cannot send it without a CORS preflight, which we never grant.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send the form as application/json"}, status_code=415)
    try:
        # loads_safe: a deeply nested body is a 400 like any other bad JSON, not a RecursionError.
        body = loads_safe((await request.body()).decode("utf-8"))
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        session = ui.sessions.start(LiveRequest.from_dict(body, list(ui.models)))
    except (ValueError, TypeError) as e:  # UnicodeDecodeError is a ValueError
        return JSONResponse({"error": f"bad request: {e}"}, status_code=400)
    return JSONResponse({"id": session.id, "events": f"/api/live/{session.id}/events",
                         "trajectory": f"/api/live/{session.id}/trajectory.json"})


async def live_events(request: Request) -> Response:
    ui: UI = request.app.state.ui
    session = ui.sessions.get(request.path_params["sid"])
    if session is None:
        return JSONResponse({"error": "no such episode"}, status_code=404)
    last = request.headers.get("last-event-id", "")
    start = int(last) + 1 if last.isdigit() else 0

    async def body():
        async for event in session.stream(start):
            yield sse(event)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def live_trajectory(request: Request) -> Response:
    ui: UI = request.app.state.ui
    session = ui.sessions.get(request.path_params["sid"])
    if session is None or session.trajectory is None:
        return JSONResponse({"error": "no finished episode with that id"}, status_code=404)
    return _download(session.trajectory.to_json(), f"trajectory-{session.id}.json")


def _download(text: str, filename: str) -> Response:
    return Response(text, media_type="application/json; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- routes: runs ----------------------------------------------------------------------------------

def _run_dir(ui: UI, path: str) -> F.RunDir:
    return F.load_run_dir(F.resolve_under(ui.roots, path))


async def runs_page(request: Request) -> Response:
    ui: UI = request.app.state.ui
    path = request.query_params.get("dir", "")
    if not path:
        found = await asyncio.to_thread(F.find_run_dirs, ui.roots)
        return ui.page("runs_index.html", title="Runs", nav="runs", found=found)
    try:
        run = await asyncio.to_thread(_run_dir, ui, path)
    except F.NotAllowed as e:
        return ui.error(str(e), 404)
    rows = [F.row_of(r) for r in run.records]
    others = [d for d in await asyncio.to_thread(F.find_run_dirs, ui.roots) if d != run.path]
    return ui.page("runs.html", title=f"Run · {run.path.name}", nav="runs", run=run, rows=rows, others=others,
                   categories=sorted({r["category"] for r in rows}),
                   terminations=sorted({r["termination"] for r in rows}))


async def run_task(request: Request) -> Response:
    ui: UI = request.app.state.ui
    q = request.query_params
    try:
        run = await asyncio.to_thread(_run_dir, ui, q.get("dir", ""))
        record = run.find(q.get("task", ""), int(q.get("run", "0") or 0))
    except (F.NotAllowed, ValueError) as e:
        return ui.error(str(e), 404)
    if record is None:
        return ui.error(f"no record of task {q.get('task')!r} in run {q.get('run')}", 404)
    if q.get("format") == "json":
        return _download(json.dumps(record, ensure_ascii=False, indent=1),
                         f"{run.path.name}-run{record.get('run')}-{_safe_name(record.get('task_id'))}.json")
    runs = sorted(run.by_task().get(str(record.get("task_id")), {}))
    return ui.page("trajectory.html", title="Trajectory", nav="runs", t=record, run=run, runs=runs,
                   download="/runs/task?" + urlencode({"dir": str(run.path), "task": record.get("task_id"),
                                                       "run": record.get("run"), "format": "json"}))


def _safe_name(text: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))[:80]


async def run_plot(request: Request) -> Response:
    ui: UI = request.app.state.ui
    q = request.query_params
    try:
        path = F.resolve_under(ui.roots, q.get("dir", ""))
    except F.NotAllowed as e:
        return _plain(str(e), 404)
    name = q.get("name", "")
    # Only a plain PNG file name inside plots/, resolved (a symlink) to a file inside plots/:
    # nothing else is served from a run directory.
    if "/" in name or "\\" in name or "\x00" in name or not name.endswith(".png"):
        return _plain("no such plot", 404)
    plots = (path / "plots").resolve()
    plot = (plots / name).resolve()
    if plot.parent != plots or not plot.is_file():
        return _plain("no such plot", 404)
    return FileResponse(plot, media_type="image/png")


async def runs_compare(request: Request) -> Response:
    ui: UI = request.app.state.ui
    q = request.query_params
    try:
        a, b = await asyncio.gather(asyncio.to_thread(_run_dir, ui, q.get("a", "")),
                                    asyncio.to_thread(_run_dir, ui, q.get("b", "")))
    except F.NotAllowed as e:
        return ui.error(str(e), 404)
    rows = F.compare_rows(a, b)
    common = sum(bool(r["a"]) and bool(r["b"]) for r in rows)
    return ui.page("compare.html", title="Compare", nav="runs", a=a, b=b, rows=rows, common=common,
                   categories=sorted({r["category"] for r in rows}))


# --- routes: data ----------------------------------------------------------------------------------

async def data_page(request: Request) -> Response:
    ui: UI = request.app.state.ui
    path = request.query_params.get("path", "")
    try:
        target = F.resolve_under(ui.roots, path) if path else None
    except F.NotAllowed as e:
        return ui.error(str(e), 404)
    if target is None or target.is_dir():
        dirs = [target] if target is not None else ui.roots
        listing = [(d, await asyncio.to_thread(lambda d=d: F.group_data_files(F.list_data_files(d)))) for d in dirs]
        return ui.page("data_index.html", title="Data", nav="data", listing=listing)
    if target.suffix not in F.DATA_SUFFIXES:
        return ui.error("the data browser opens .jsonl and .json files", 400)
    content = await asyncio.to_thread(_read_data, target)
    return ui.page("data.html", title=f"Data · {target.name}", nav="data", path=target, **content)


def _read_data(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        return {"kind": "json", "doc": F.read_json(path), "rows": [], "summaries": [], "file": F.JsonlFile()}
    f = F.read_jsonl(path)
    kind = F.file_kind(f.rows)
    row = F.trajectory_row if kind == "trajectories" else F.qa_row
    rows = [row(r, i) for i, r in enumerate(f.rows)]
    return {"kind": kind, "doc": None, "rows": rows, "summaries": F.side_summaries(path), "file": f}


async def data_item(request: Request) -> Response:
    ui: UI = request.app.state.ui
    q = request.query_params
    try:
        path = F.resolve_under(ui.roots, q.get("path", ""))
        index = int(q.get("index", "-1"))
        rows = (await asyncio.to_thread(F.read_jsonl, path)).rows
        record = rows[index] if 0 <= index < len(rows) else None
    except (F.NotAllowed, ValueError, OSError) as e:
        return ui.error(str(e), 404)
    if record is None:
        return ui.error(f"no line {index} in {path.name}", 404)
    if q.get("format") == "json":
        return _download(json.dumps(record, ensure_ascii=False, indent=1), f"{path.stem}-{index}.json")
    return ui.page("trajectory.html", title="Trajectory", nav="data", t=record, run=None, runs=[],
                   download="/data/item?" + urlencode({"path": str(path), "index": index, "format": "json"}))


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


# --- the app ---------------------------------------------------------------------------------------

def create_app(config: UIConfig | None = None, *, models: dict[str, tuple[str, ModelFactory]] | None = None) -> Any:
    """The UI as an ASGI app. ``models`` adds (or replaces) Live model choices: ``{key: (label,
    factory(LiveRequest) -> ChatModel)}``; tests add a scripted model this way."""
    config = config or UIConfig()
    ui = UI(config, models)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await ui.aclose()

    routes = [
        Route("/", live_page),
        Route("/api/live", live_start, methods=["POST"]),
        Route("/api/live/{sid}/events", live_events),
        Route("/api/live/{sid}/trajectory.json", live_trajectory),
        Route("/runs", runs_page),
        Route("/runs/task", run_task),
        Route("/runs/plot", run_plot),
        Route("/runs/compare", runs_compare),
        Route("/data", data_page),
        Route("/data/item", data_item),
        Route("/health", health),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ui = ui
    checked = _SecurityHeaders(app, check_host=config.host in LOOPBACK, max_body=config.max_body_bytes)
    checked.state = app.state  # tests and callers reach the UI state through the outer app too
    return checked


class UIServer(BackgroundServer):
    """The UI served by uvicorn in a daemon thread on a loopback port (tests, notebooks).

    >>> with UIServer(create_app(UIConfig(roots=["runs"]))) as server:   # doctest: +SKIP
    ...     print(server.url)
    """

    name = "the UI server"

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        # Open event streams must not hold up shutdown for long.
        super().__init__(app, host=host, port=port, timeout_graceful_shutdown=2)


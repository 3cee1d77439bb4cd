"""Agent runtime throughput: scripted episodes on the offline web, side by side with a thread pool.

Each episode is search -> visit -> answer (2 tool steps, 3 model calls) with scripted replies, so
no LLM latency is measured. Engines, all in one run:

- our runtime, in-process: ReactAgent + run_tasks with the Toolbox's default offline tools
  (index and page store in the process, no HTTP);
- our runtime over HTTP: the same, with the Toolbox reading a `webagent web serve` process on a
  loopback port (Serper-compatible search + page fetches);
- with ``--tool-workers N``, both again with N tool worker processes (webagent.tools.workers: page
  reading and offline searches in child processes; their CPU has a column of its own);
- with ``--uvloop``, both again on uvloop;
- thread pool, sync HTTP: the same episodes as synchronous HTTP calls, one thread per episode in
  flight (how the reference demos call tools), against the same server;
- runtime overhead per step: the same episodes with instant in-memory tools.

Every figure is the median of ``--repeats`` runs, the engines interleaved so that a change in the
machine's load hits all of them alike. Besides throughput, each row gives the CPU time spent per
tool step by the client process and by the server process (from /proc), which load on a shared
machine changes far less than wall-clock rates.

A slow tool: ``--latency-ms 300`` repeats the HTTP engines against a second server that adds that
latency to every page and search request (the ``faults`` module), where concurrency is what
counts: the ideal is ``concurrency / (2 steps x latency)`` episodes/s.

    python bench/bench_agents.py --episodes 512 --concurrency 1 16 256 --repeats 3 --latency-ms 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from common import save, table
from webagent import protocol as P
from webagent.agents.react import ReactAgent, ReactConfig
from webagent.agents.runner import run_tasks
from webagent.llm.scripted import ScriptedModel
from webagent.tools.base import Tool
from webagent.tools.extract import LexicalExtractor
from webagent.tools.search import format_hits
from webagent.tools.toolbox import Toolbox, WebConfig
from webagent.tools.visit import format_visit
from webagent.types import Hit
from webagent.web.fetch import FetchResult, page_markdown
from webagent.world import open_world


def episodes(world, n: int) -> list[dict]:
    """n (question, url) pairs from real pages of the world."""
    pages = [p for p in world.iter_pages() if p.kind == "site"][:n]
    return [{"id": f"e{i}", "question": f"What does {pages[i % len(pages)].title} say?",
             "url": pages[i % len(pages)].url} for i in range(n)]


def script(task: dict) -> list[str]:
    q = task["question"]
    return [P.format_assistant("search", [P.ToolCall("search", {"query": [q]})]),
            P.format_assistant("read", [P.ToolCall("visit", {"url": task["url"], "goal": q})]),
            P.format_assistant("done", None, "x")]


class Instant(Tool):
    parameters = {"type": "object", "properties": {}, "required": []}

    def __init__(self, name: str):
        self.name = name

    async def call(self, **args) -> str:
        return "ok"


def run_async(tasks: list[dict], world_dir: str | None, server: str | None, concurrency: int,
              loop: str = "asyncio", tool_workers: int = 0) -> float:
    """Our runtime. ``server``: tools over HTTP; ``world_dir`` only: in-process; neither: instant tools.
    ``loop``: ``"asyncio"`` or ``"uvloop"``; ``tool_workers``: ``WebConfig.tool_workers``."""

    async def go() -> float:
        toolbox = None
        if world_dir or server:
            toolbox = Toolbox(WebConfig(world=world_dir if not server else None, web_url=server,
                                        tool_workers=tool_workers))
            tools = toolbox.react_tools
            if toolbox.workers:
                await toolbox.workers.start()
        else:
            tools = [Instant("search"), Instant("visit")]
        cfg = ReactConfig(date="2025-01-01")

        async def episode(task):
            return await ReactAgent(ScriptedModel(script(task)), tools, cfg).run(task["question"])

        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            s = await run_tasks(tasks, episode, os.path.join(d, "out.jsonl"), concurrency=concurrency)
            dt = time.perf_counter() - t0
        assert s.done == len(tasks), s.failed
        if toolbox:
            await toolbox.aclose()
        return dt

    if loop == "uvloop":
        import uvloop

        return uvloop.run(go())
    return asyncio.run(go())


def run_threads(tasks: list[dict], server: str, concurrency: int) -> float:
    """The reference demos' way: synchronous HTTP per tool call, one thread per episode in flight."""
    extractor = LexicalExtractor()

    def episode(task, client: httpx.Client) -> str:
        q = task["question"]
        hits = client.post(server + "/search", json={"q": q, "num": 10}, headers={"X-API-KEY": "bench"}).json()
        format_hits(q, [Hit(h["title"], h["link"], h.get("snippet", "")) for h in hits.get("organic", [])])
        path = httpx.URL(task["url"])
        r = client.get(server.rstrip("/") + path.raw_path.decode(), headers={"Host": path.host})
        md = page_markdown(FetchResult(task["url"], r.status_code, r.headers.get("content-type", ""), r.text))
        found = extractor.extract_sync(md, q)
        return format_visit(task["url"], q, found.evidence, found.summary)

    def with_retry(task, client: httpx.Client) -> str:
        # Under heavy load a kept-alive connection can be closed by the server just as it is
        # reused; retry like the async tools do, so both engines do the same work.
        for attempt in range(3):
            try:
                return episode(task, client)
            except httpx.TransportError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # 60 s like a patient client: on a loaded machine the default 5 s made the baseline itself fail.
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency), trust_env=False, timeout=60) as client:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda t: with_retry(t, client), tasks))
        return time.perf_counter() - t0


def start_server(world_dir: str, faults: str | None = None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = ["--faults", faults] if faults else []
    proc = subprocess.Popen([sys.executable, "-m", "webagent.cli", "web", "serve", "--world", world_dir,
                             "--port", str(port), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # wait for the server to come up (a benchmark may poll; tests may not)
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the web server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fn, tasks: list[dict], c: int, server: subprocess.Popen | None) -> dict:
    """One run of an engine: wall seconds and the CPU seconds of the client, of its tool workers
    (children it started and reaped during the run) and of the server."""
    s0 = cpu_seconds(server.pid) if server else 0.0
    c0, w0 = time.process_time(), _children_cpu()
    dt = fn(tasks, c)
    return {"seconds": dt, "client_cpu": time.process_time() - c0, "worker_cpu": _children_cpu() - w0,
            "server_cpu": (cpu_seconds(server.pid) - s0) if server else 0.0}


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def summarize(name: str, c: int, n: int, runs: list[dict]) -> dict:
    dt = statistics.median(r["seconds"] for r in runs)
    steps = 2 * n
    return {"engine": name, "concurrency": c, "episodes": n, "runs": len(runs), "seconds": round(dt, 2),
            "episodes/s": round(n / dt, 1), "tool steps/s": round(steps / dt, 1),
            "min-max steps/s": f"{steps / max(r['seconds'] for r in runs):.0f}-{steps / min(r['seconds'] for r in runs):.0f}",
            "client CPU ms/step": round(statistics.median(r["client_cpu"] for r in runs) / steps * 1000, 3),
            "worker CPU ms/step": round(statistics.median(r["worker_cpu"] for r in runs) / steps * 1000, 3),
            "server CPU ms/step": round(statistics.median(r["server_cpu"] for r in runs) / steps * 1000, 3)}


def compare(rows: list[dict]) -> list[dict]:
    """Each engine's rate over the thread pool's at the same concurrency, and 256 over 16."""
    by = {(r["engine"], r["concurrency"]): r["tool steps/s"] for r in rows}
    out = []
    for (engine, c), rate in by.items():
        base = by.get(("thread pool, sync HTTP", c))
        if base and engine != "thread pool, sync HTTP":
            out.append({"engine": engine, "concurrency": c, "x thread pool": round(rate / base, 2)})
    return out


COLUMNS = ["engine", "concurrency", "episodes", "runs", "episodes/s", "tool steps/s", "min-max steps/s",
           "client CPU ms/step", "worker CPU ms/step", "server CPU ms/step"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", help="world directory (default: the default world)")
    ap.add_argument("--episodes", type=int, default=512)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 256])
    ap.add_argument("--repeats", type=int, default=3, help="runs per engine and concurrency (the median is shown)")
    ap.add_argument("--latency-ms", type=float, default=300.0,
                    help="the slow-tool case: latency the second server adds per request (0: skip it)")
    ap.add_argument("--slow-concurrency", type=int, nargs="+", default=[16, 256])
    ap.add_argument("--tool-workers", type=int, nargs="*", default=[],
                    help="add our engines with this many tool worker processes (e.g. 1 2)")
    ap.add_argument("--uvloop", action="store_true", help="add our engines on uvloop (WEBAGENT_EVENT_LOOP=uvloop)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the servers are stopped too
    world = open_world(args.world)
    world_dir = str(world.root)
    tasks = episodes(world, args.episodes)
    run_async(tasks[:8], world_dir, None, 8)  # warm up: index, page store, imports
    proc, server = start_server(world_dir)
    rows = []
    engines = (("our runtime, in-process", lambda t, c: run_async(t, world_dir, None, c), None),
               ("our runtime over HTTP", lambda t, c: run_async(t, None, server, c), proc),
               ("thread pool, sync HTTP", lambda t, c: run_threads(t, server, c), proc))
    for n in args.tool_workers:
        engines += ((f"our runtime, in-process, {n} tool worker(s)",
                     lambda t, c, n=n: run_async(t, world_dir, None, c, tool_workers=n), None),
                    (f"our runtime over HTTP, {n} tool worker(s)",
                     lambda t, c, n=n: run_async(t, None, server, c, tool_workers=n), proc))
    if args.uvloop:
        engines += (("our runtime on uvloop, in-process", lambda t, c: run_async(t, world_dir, None, c, "uvloop"), None),
                    ("our runtime on uvloop, over HTTP", lambda t, c: run_async(t, None, server, c, "uvloop"), proc))
    try:
        run_async(tasks[:64], None, server, 16)  # warm up the server
        for c in args.concurrency:
            n = len(tasks) if c > 1 else min(len(tasks), 128)  # concurrency 1 is slow; fewer episodes
            runs: dict[str, list[dict]] = {name: [] for name, _, _ in engines}
            for _ in range(args.repeats):  # interleaved: load changes hit every engine alike
                for name, fn, srv in engines:
                    runs[name].append(measure(fn, tasks[:n], c, srv))
            for name, _, _ in engines:
                rows.append(summarize(name, c, n, runs[name]))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        proc.kill()
    slow_rows = []
    if args.latency_ms > 0:
        proc, server = start_server(world_dir, faults=f"latency_ms={args.latency_ms:g}")
        slow = (("our runtime over HTTP", lambda t, c: run_async(t, None, server, c)),
                ("thread pool, sync HTTP", lambda t, c: run_threads(t, server, c)))
        try:
            for c in args.slow_concurrency:
                n = min(len(tasks), 4 * c)  # four rounds of episodes per run
                for name, fn in slow:
                    dts = [fn(tasks[:n], c) for _ in range(args.repeats)]
                    dt = statistics.median(dts)
                    ideal = c / (2 * args.latency_ms / 1000)
                    slow_rows.append({"engine": name, "concurrency": c, "episodes": n, "runs": len(dts),
                                      "episodes/s": round(n / dt, 1), "ideal episodes/s": round(ideal, 1),
                                      "share of ideal": round(n / dt / ideal, 2)})
                    print(json.dumps(slow_rows[-1]), flush=True)
        finally:
            proc.kill()
    n = len(tasks)
    overhead_runs = [run_async(tasks, None, None, 256) for _ in range(args.repeats)]
    dt = statistics.median(overhead_runs)
    overhead = {"episodes": n, "steps": 3 * n, "seconds": round(dt, 3), "ms per step": round(dt / (3 * n) * 1000, 3)}
    ratios = compare(rows)
    print("\n" + table(rows, COLUMNS))
    print("\n" + table(ratios, ["engine", "concurrency", "x thread pool"]))
    if slow_rows:
        print(f"\nslow tool: the server adds {args.latency_ms:g} ms to every request\n")
        print(table(slow_rows, ["engine", "concurrency", "episodes", "runs", "episodes/s", "ideal episodes/s",
                                "share of ideal"]))
    print(f"\nruntime overhead (instant tools, scripted model, concurrency 256): {overhead['ms per step']} ms per "
          f"model step ({overhead['steps']} steps in {overhead['seconds']} s)")
    save("agents", {"rows": rows, "ratios": ratios, "slow": slow_rows, "latency_ms": args.latency_ms,
                    "overhead": overhead, "cpus": os.cpu_count(), "load_before": os.getloadavg()})


if __name__ == "__main__":
    main()

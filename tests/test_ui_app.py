"""The UI over real HTTP on loopback (no browser): routes, escaping, headers, path confinement,
the live event stream and the trajectory download."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from _ui_helpers import HOSTILE, LIVE_ANSWER, hostile_trajectory_file, live_model, make_runs, synth_file
from webagent.cli import build_parser
from webagent.ui.app import UIConfig, UIServer, create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory, world, world_dir):
    root = tmp_path_factory.mktemp("ui-http")
    a, b = make_runs(root, world, world_dir)
    traj_file = hostile_trajectory_file(root / "data" / "hostile.jsonl")
    synth = synth_file(root, world)
    app = create_app(UIConfig(world=str(world_dir), roots=[str(root)]),
                     models={"scripted": ("scripted test model", live_model)})
    with UIServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield {"client": client, "root": root, "a": a, "b": b, "traj": traj_file, "synth": synth}


def test_every_page_sends_a_strict_csp_and_pages_render(site):
    c = site["client"]
    for url in ("/", "/runs", "/data", f"/runs?dir={site['a']}", f"/data?path={site['synth']}"):
        r = c.get(url)
        assert r.status_code == 200, url
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    assert 'value="scripted"' in c.get("/").text  # the injected model is offered


def test_markup_from_pages_models_and_answers_is_escaped(site):
    c = site["client"]
    for url in (f"/data/item?path={site['traj']}&index=0", f"/runs?dir={site['b']}",
                f"/runs/compare?a={site['a']}&b={site['b']}"):
        html = c.get(url).text
        assert "<script>window.__pwned" not in html and "<img src=x" not in html and "<iframe" not in html, url
        assert "&lt;script&gt;window.__pwned" in html, url
        # The only script element is the app's own file.
        assert html.count("<script") == 1 and '<script src="/static/app.js" defer></script>' in html


def test_paths_outside_the_roots_are_refused(site):
    c = site["client"]
    for url in ("/runs?dir=/etc", "/data?path=/etc/passwd", f"/data?path={site['root']}/../../etc/passwd",
                f"/runs/plot?dir={site['a']}&name=../config.json", f"/runs/plot?dir={site['a']}&name=report.json"):
        r = c.get(url)
        assert r.status_code in (400, 404), url
        assert "root:" not in r.text


def test_a_foreign_host_header_is_refused(site):
    r = site["client"].get("/", headers={"Host": "attacker.example:80"})
    assert r.status_code == 421


def test_runs_page_lists_every_record_with_its_verdict(site):
    c = site["client"]
    html = c.get(f"/runs?dir={site['a']}").text
    records = [json.loads(x) for p in sorted(site["a"].glob("run-*.jsonl")) for x in p.read_text().splitlines()]
    assert len(records) == 8
    assert html.count("<tr data-correct=") == 8
    assert html.count('data-correct="1"') == sum(r["correct"] for r in records)
    assert "privileged oracle" in html and "mean Pass@1" in html and "type×difficulty" in html
    plots = sorted(p.name for p in (site["a"] / "plots").glob("*.png"))
    assert plots and all(f"name={p}" in html for p in plots)
    png = c.get("/runs/plot", params={"dir": str(site["a"]), "name": plots[0]})
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    # One trajectory, as a page and as a download.
    r0 = records[0]
    page = c.get("/runs/task", params={"dir": str(site["a"]), "task": r0["task_id"], "run": r0["run"]})
    assert page.status_code == 200 and page.text.count('class="step role-agent"') == len(r0["steps"])
    dl = c.get("/runs/task", params={"dir": str(site["a"]), "task": r0["task_id"], "run": r0["run"], "format": "json"})
    assert "attachment" in dl.headers["content-disposition"] and dl.json()["task_id"] == r0["task_id"]


def test_compare_lines_up_the_same_tasks(site):
    html = site["client"].get("/runs/compare", params={"a": str(site["a"]), "b": str(site["b"])}).text
    assert "4 task(s) in both runs, 4 in all." in html
    assert html.count("<tr data-differs=") == 4


def test_data_browser_shows_records_summary_and_skips_torn_lines(site):
    c = site["client"]
    html = c.get("/data", params={"path": str(site["synth"])}).text
    rows = site["synth"].read_text().splitlines()
    assert html.count("<tr data-category=") == len(rows) == 6
    assert "crawlqa.jsonl.summary.json" in html and "kept" in html
    html = c.get("/data", params={"path": str(site["traj"])}).text
    assert "trajectories" in html and "1 unreadable line(s) skipped" in html
    listing = c.get("/data").text
    assert "crawlqa.jsonl" in listing and "hostile.jsonl" in listing


def test_live_episode_streams_events_and_the_trajectory_downloads(site):
    c = site["client"]
    bad = c.post("/api/live", json={"question": "  "})
    assert bad.status_code == 400 and "question" in bad.json()["error"]
    assert c.post("/api/live", json={"question": "x", "llm": "nope"}).status_code == 400
    assert c.post("/api/live", content="question=x", headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 415
    started = c.post("/api/live", json={"question": "Who chairs it?", "llm": "scripted"}).json()
    kinds, last = [], None
    with c.stream("GET", started["events"]) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[6:])
                kinds.append(last["kind"])
    assert kinds.count("tool_call") == 2 and kinds.count("observation") == 2 and kinds[-1] == "done"
    assert last["data"]["answer"].startswith(LIVE_ANSWER) and last["data"]["termination"] == "answer"
    # A reconnect after event 3 replays from event 4 on.
    with c.stream("GET", started["events"], headers={"Last-Event-ID": "3"}) as r:
        seqs = [json.loads(x[6:])["seq"] for x in r.iter_lines() if x.startswith("data: ")]
    assert seqs[0] == 4 and seqs[-1] == len(kinds) - 1
    traj = c.get(started["trajectory"]).json()
    assert traj["answer"] == f"{LIVE_ANSWER} {HOSTILE}" and len(traj["steps"]) == 3
    assert traj["steps"][1]["actions"][0]["name"] == "visit" and "http://" in traj["steps"][1]["actions"][0]["observation"]


def test_a_failing_episode_reports_its_error(site):
    c = site["client"]
    started = c.post("/api/live", json={"question": "q", "llm": "openai"}).json()  # no model name
    with c.stream("GET", started["events"]) as r:
        events = [json.loads(x[6:]) for x in r.iter_lines() if x.startswith("data: ")]
    assert events[-1]["kind"] == "failed" and "model" in events[-1]["text"]
    assert c.get(started["trajectory"]).status_code == 404


def test_cli_registers_ui_with_help():
    parser = build_parser()
    args = parser.parse_args(["ui", "--root", "runs", "--port", "9000"])
    assert args.func.__name__ == "cmd_ui" and args.host == "127.0.0.1" and args.root == ["runs"]
    sub = next(a for a in parser._subparsers._group_actions[0].choices["ui"]._actions if a.dest == "host")
    assert "127.0.0.1" in sub.help


def test_live_local_model_runs_the_shipped_checkpoint_in_its_runtime(site, monkeypatch):
    from webagent.checkpoints import find_checkpoint, load_runtime

    monkeypatch.setenv("WEBAGENT_POLICY", "nano")  # the small toy checkpoint: fast in a test
    path = find_checkpoint("nano")
    if path is None:
        pytest.skip("no shipped checkpoint in this installation")
    c = site["client"]
    started = c.post("/api/live", json={"question": "What is the location of Savia University?", "llm": "local"}).json()
    with c.stream("GET", started["events"]) as r:
        events = [json.loads(x[6:]) for x in r.iter_lines() if x.startswith("data: ")]
    assert events[-1]["kind"] == "done", events[-1]
    traj = c.get(started["trajectory"]).json()
    runtime = load_runtime(path)
    assert traj["policy"] == path.name and events[-1]["data"]["llm_calls"] <= runtime.max_llm_calls  # not the form's 20
    assert "Tools:\nsearch" in traj["messages"][1]["content"]  # the compact prompt it was trained with
    search = next(a for s in traj["steps"] for a in s["actions"] if a["name"] == "search")
    assert search["observation"].count("\n1. [") == 1 and "\n4. [" not in search["observation"]  # k = 3 hits
    bad = c.post("/api/live", json={"question": "q", "llm": "local", "model": "/nonexistent/model"}).json()
    with c.stream("GET", bad["events"]) as r:
        last = [json.loads(x[6:]) for x in r.iter_lines() if x.startswith("data: ")][-1]
    assert last["kind"] == "failed" and "no model directory" in last["text"]


def test_live_page_decodes_a_trained_policy_greedily(world_dir):
    from webagent import protocol as P
    from webagent.agents.react import ReactConfig
    from webagent.checkpoints import ANSWER_TEMPERATURE, AgentRuntime
    from webagent.llm.scripted import ScriptedModel
    from webagent.tools.toolbox import Toolbox, WebConfig
    from webagent.ui.live import LiveRequest, LiveSession, run_agent

    async def answer(model):
        async with Toolbox(WebConfig(world=str(world_dir))) as tb:
            return await run_agent(LiveSession(LiveRequest(question="Where is Savia University?")), model, tb)

    trained = ScriptedModel([P.format_assistant("sure", None, "Velmora")])
    trained.runtime = AgentRuntime(search_k=3, temperature=0.6)  # what _local attaches to a checkpoint
    assert asyncio.run(answer(trained)).answer == "Velmora"
    assert trained.calls[0]["temperature"] == ANSWER_TEMPERATURE == 0.0  # not the runtime's 0.6
    other = ScriptedModel([P.format_assistant("sure", None, "Velmora")])
    asyncio.run(answer(other))
    assert other.calls[0]["temperature"] == ReactConfig().temperature == 0.6


def test_live_webwalker_with_the_rule_based_policy(site, world):
    c = site["client"]
    root = next(s for s in world.sites() if "openpedia" not in s and "news" not in s)
    started = c.post("/api/live", json={"question": "Who is the general chair?", "agent": "walker", "root_url": root,
                                        "llm": "baseline", "max_actions": 3}).json()
    with c.stream("GET", started["events"]) as r:
        events = [json.loads(x[6:]) for x in r.iter_lines() if x.startswith("data: ")]
    assert events[-1]["kind"] == "done" and any(e["kind"] == "tool_call" for e in events)
    traj = c.get(started["trajectory"]).json()
    assert traj["agent"] == "walker" and traj["meta"]["root_url"] == root
    assert sum(len(s["actions"]) for s in traj["steps"]) <= 3
    assert f'value="{root}"' in c.get("/").text  # offline site roots are offered for the root URL field
    assert c.post("/api/live", json={"question": "q", "agent": "walker"}).status_code == 400  # no root URL


def test_the_data_page_groups_files_by_kind(site):
    listing = site["client"].get("/data").text
    heads = [h.split("<")[0].strip() for h in listing.split("<h3>")[1:]]
    assert heads[:3] == ["QA", "trajectories", "runs"]  # in this order, each once
    qa, traj, runs = (listing.split("<h3>")[i] for i in (1, 2, 3))
    assert "crawlqa.jsonl" in qa and "hostile.jsonl" in traj and "run-1.jsonl" in runs
    assert "crawlqa.jsonl\"" not in runs and "hostile.jsonl" not in qa

"""`webagent run` end to end: the rule-based WebWalker policy on the shared world, the ReAct baseline
through the Toolbox, and `--web live` against an allow-listed loopback "live" site."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webagent import trajectory as T
from webagent.agents.walker import WalkerAgent
from webagent.agents.walker_baseline import WalkerBaselinePolicy, terms
from webagent.cli import main
from webagent.tools.toolbox import Toolbox, WebConfig


def organizer_task(world):
    """(question, root url, gold) from the graph: who organizes a conference with an official site."""
    g = world.graph
    for f in g.iter_facts():
        if f.predicate == "conf_organizer":
            root = next((s for s in world.sites() if f.pages and f.pages[0].startswith(s)), None)
            if root and world.get(root).lang == "en":
                name = g[f.subject].display()
                return f"Which organization organized {name}?", root, g[f.object].display()
    pytest.skip("the test world has no English conference site")


def test_walker_baseline_finds_a_fact_on_the_shared_world(world):
    question, root, gold = organizer_task(world)

    async def go():
        async with Toolbox(WebConfig(), world=world) as tb:
            return await WalkerAgent(WalkerBaselinePolicy(), tb.click_tool).run(question, root)

    traj = asyncio.run(go())
    assert traj.policy == "rule-based baseline" and traj.agent == "walker"
    assert (traj.termination, traj.answer) == (T.ANSWER, gold)
    assert any(gold in m for m in traj.memory) and traj.tool_calls <= 15
    clicks = [a.arguments["button"] for s in traj.steps if s.role == "agent" for a in s.actions]
    assert len(clicks) == len(set(clicks))  # never clicks the same button twice while others remain


def test_walker_baseline_rules():
    policy = WalkerBaselinePolicy()
    # The site's name is on most buttons, so it does not decide; the rarer shared term does.
    label, why = policy.choose("Who gives the keynote at VELOR?",
                               ["VELOR 2024", "VELOR 2023", "VELOR news", "Keynotes", "VELOR 2022"], [], set())
    assert label == "Keynotes" and "keyno" in why
    assert policy.choose("q", ["A", "B"], [], {"A"})[0] == "B"
    page = "# VELOR\n\n- organized by: Nesacor Council\n- Home\n\nclickable button:\n\n<button>Home<button>"
    assert policy.extract("Which organization organized VELOR?", page) == {
        "usefulness": True, "information": "VELOR: organized by: Nesacor Council."}
    assert policy.extract("Which organization organized VELOR?", "# VELOR\n\nAll rights reserved.") == {"usefulness": False}
    assert policy.judge("Which organization organized VELOR?", "VELOR: organized by: Nesacor Council.") == {
        "judge": True, "answer": "Nesacor Council"}
    assert policy.judge("Which organization organized VELOR?", "VELOR 2024 is held in Huayu.") == {"judge": False}
    assert terms("Keynotes 主题") >= {"keyno", "主", "题"}


def test_cli_walker_and_react_offline(world, world_dir, tmp_path, capsys):
    question, root, gold = organizer_task(world)
    out = tmp_path / "t.json"
    rc = main(["run", question, "--agent", "walker", "--root-url", root, "--world", str(world_dir), "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and f"answer: {gold}" in text
    assert "policy: rule-based baseline (not a language model)" in text and "policy: rule-based baseline" in text.splitlines()[-2]
    assert T.Trajectory.from_json(out.read_text()).answer == gold
    rc = main(["run", f"Who organized {question.split()[-1]}", "--world", str(world_dir), "--quiet"])
    text = capsys.readouterr().out
    assert "search" in text or "termination:" in text
    assert "policy: rule-based baseline" in text and "2 tool calls" in text
    with pytest.raises(SystemExit):
        main(["run", "q", "--llm", "nope"])
    assert main(["run", "q", "--agent", "walker", "--world", str(world_dir)]) == 2
    assert "needs --root-url" in capsys.readouterr().err


def test_run_decodes_a_trained_policy_greedily_and_other_models_at_0_6(tmp_path):
    from argparse import Namespace

    from webagent.agents.cli import default_temperature
    from webagent.checkpoints import ANSWER_TEMPERATURE, AgentRuntime
    from webagent.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", "q"]).temperature is None  # decided once the policy is known
    assert parser.parse_args(["run", "q", "--temperature", "0.3"]).temperature == 0.3
    AgentRuntime(search_k=3).save(tmp_path)  # a trained policy ships its runtime
    assert default_temperature(Namespace(llm="local", model=str(tmp_path))) == ANSWER_TEMPERATURE == 0.0
    assert default_temperature(Namespace(llm="local", model=str(tmp_path / "plain-hf-dir"))) == 0.6
    assert default_temperature(Namespace(llm="openai", model="qwen")) == 0.6


class LiveSite:
    """A loopback stand-in for the live web: a Serper-style /search and one HTML page."""

    def __init__(self):
        self.requests = []
        site = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                site.requests.append(("search", body, self.headers.get("X-API-KEY")))
                hits = [{"title": "Ostrava Rowing Club", "link": site.url + "/club", "snippet": "Founded by the river"}]
                self._send("application/json", json.dumps({"organic": hits}))

            def do_GET(self):
                site.requests.append(("get", self.path, None))
                self._send("text/html", "<html><head><title>Ostrava Rowing Club</title></head><body><main>"
                           "<h1>Ostrava Rowing Club</h1><p>The Ostrava Rowing Club was founded by Marta Velenska "
                           "in 1921 on the banks of the Oder.</p></main></body></html>")

            def _send(self, ctype, text):
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def live_site():
    s = LiveSite()
    yield s
    s.close()


def test_cli_live_web_with_allow_listed_loopback(live_site, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SERPER_API_KEY", "test-key-123")
    args = ["run", "Who founded the Ostrava Rowing Club?", "--web", "live", "--search", "serper",
            "--search-url", live_site.url, "--json", str(tmp_path / "t.json")]
    rc = main(args + ["--allow-host", "127.0.0.1"])
    out = capsys.readouterr().out
    traj = T.Trajectory.from_json((tmp_path / "t.json").read_text())
    assert rc == 0 and traj.answer == "Marta Velenska", out
    assert ("get", "/club", None) in live_site.requests
    assert live_site.requests[0][0] == "search" and live_site.requests[0][2] == "test-key-123"
    assert "test-key-123" not in out and "test-key-123" not in (tmp_path / "t.json").read_text()
    # Without the allow-list the SSRF guard refuses the loopback page, and says so to the model.
    n = len(live_site.requests)
    main(args)
    traj = T.Trajectory.from_json((tmp_path / "t.json").read_text())
    visit = traj.steps[1].actions[0].observation
    assert traj.answer != "Marta Velenska" and ("refus" in visit.lower() or "not allowed" in visit.lower()), visit
    assert all(r[0] == "search" for r in live_site.requests[n:])

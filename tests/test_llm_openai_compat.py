"""The OpenAI-compatible backend against a real HTTP server on loopback (no mocks of the SDK)."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

openai = pytest.importorskip("openai")

from webagent.llm.openai_compat import OpenAICompatModel, OpenAIConfig  # noqa: E402


def ok_body(text="<answer>1</answer>", **extra_choice):
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text, **extra_choice.pop("message", {})},
                         **extra_choice}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}


class FakeServer:
    """Replies from a script: each item is (status, body, headers), "hang" (wait until closed) or a
    function of the request body returning one of those."""

    def __init__(self, script):
        self.script, self.requests, self.release = list(script), [], threading.Event()
        srv = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                srv.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                item = srv.script.pop(0) if srv.script else (200, ok_body(), {})
                if callable(item):
                    item = item(body)
                if item == "hang":
                    srv.release.wait(30)
                    return
                status, payload, headers = item
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(request):
    s = FakeServer(request.param)
    yield s
    s.close()


def model(server, **cfg):
    cfg = {"base_url": server.url, "model": "m", "backoff": 0.01, "max_retries": 2, "timeout": 5, **cfg}
    return OpenAICompatModel(OpenAIConfig(**cfg))


def gen(m, **kw):
    async def go():
        try:
            return await m.generate([{"role": "user", "content": "hi"}], **kw)
        finally:
            await m.aclose()
    return asyncio.run(go())


ERR = {"error": {"message": "slow down", "type": "rate_limit"}}


@pytest.mark.parametrize("server", [[(429, ERR, {"Retry-After": "0"}), (200, ok_body("<answer>ok</answer>"), {})]], indirect=True)
def test_429_then_success(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret")
    m = model(server, api_key_env="MY_KEY", temperature=0.6, top_p=0.95, repetition_penalty=1.1,
              extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    c = gen(m, stop=["<tool_response>"], max_tokens=64)
    assert c.text == "<answer>ok</answer>" and (c.prompt_tokens, c.completion_tokens) == (11, 3)
    assert m.usage["retries"] == 1 and m.usage["requests"] == 2 and m.usage["prompt_tokens"] == 11
    body = server.requests[-1]["body"]
    assert body["stop"] == ["<tool_response>"] and body["max_tokens"] == 64 and body["top_p"] == 0.95
    assert body["repetition_penalty"] == 1.1 and body["chat_template_kwargs"] == {"enable_thinking": False}
    assert server.requests[-1]["auth"] == "Bearer sk-secret"


@pytest.mark.parametrize("server", [[(500, ERR, {}), (502, ERR, {}), (200, ok_body(), {})]], indirect=True)
def test_5xx_retried_with_backoff(server):
    m = model(server)
    assert gen(m).text == "<answer>1</answer>" and m.usage["retries"] == 2


@pytest.mark.parametrize("server", [[(500, ERR, {})] * 3], indirect=True)
def test_500_out_of_retries_raises(server):
    m = model(server)
    with pytest.raises(openai.InternalServerError):
        gen(m)
    assert m.usage["failures"] == 1 and len(server.requests) == 3


@pytest.mark.parametrize("server", [["hang", (200, ok_body("late ok"), {})]], indirect=True)
def test_timeout_is_retried(server):
    m = model(server, timeout=0.3)
    assert gen(m).text == "late ok" and m.usage["retries"] == 1


@pytest.mark.parametrize("server", [["hang", "hang"]], indirect=True)
def test_timeout_out_of_retries(server):
    m = model(server, timeout=0.2, max_retries=1)
    with pytest.raises(openai.APITimeoutError):
        gen(m)


@pytest.mark.parametrize("server", [[(400, {"error": {"message": "bad"}}, {})]], indirect=True)
def test_client_errors_are_not_retried(server):
    m = model(server)
    with pytest.raises(openai.BadRequestError):
        gen(m)
    assert len(server.requests) == 1


LP = {"content": [{"token": "a", "logprob": -0.5, "bytes": None, "top_logprobs": []},
                  {"token": "b", "logprob": -0.25, "bytes": None, "top_logprobs": []}]}
RICH = ok_body("ab", message={"reasoning_content": "thinking...",
                              "tool_calls": [{"id": "t1", "type": "function",
                                              "function": {"name": "search", "arguments": "{\"query\": [\"x\"]}"}}]},
               logprobs=LP, token_ids=[7, 8])
RICH["prompt_token_ids"] = [1, 2, 3]


@pytest.mark.parametrize("server", [[(200, RICH, {})]], indirect=True)
def test_reasoning_tool_calls_token_ids_and_logprobs(server):
    m = model(server, logprobs=True, return_token_ids=True)
    c = gen(m, tools=[{"type": "function", "function": {"name": "search", "parameters": {}}}])
    assert c.reasoning == "thinking..." and c.tool_calls == [{"id": "t1", "name": "search", "arguments": '{"query": ["x"]}'}]
    assert c.token_ids == [7, 8] and c.prompt_token_ids == [1, 2, 3] and c.logprobs == [-0.5, -0.25]
    body = server.requests[0]["body"]
    assert body["logprobs"] is True and body["return_token_ids"] is True and body["tools"][0]["function"]["name"] == "search"


class CountingServer(FakeServer):
    """Counts requests in flight; each waits until ``limit`` are in flight together, so a working
    limit shows a peak of exactly ``limit`` and a broken one a higher peak."""

    def __init__(self, limit, total):
        super().__init__([])
        self.limit, self.total, self.started = limit, total, 0
        self.inflight, self.peak, self.cond = 0, 0, threading.Condition()
        handler = self.httpd.RequestHandlerClass
        server, base_post = self, handler.do_POST

        def do_post(h):
            with server.cond:
                server.inflight += 1
                server.started += 1
                server.peak = max(server.peak, server.inflight)
                server.cond.notify_all()
                server.cond.wait_for(lambda: server.inflight >= server.limit or server.started >= server.total,
                                     timeout=5)
            try:
                base_post(h)
            finally:
                with server.cond:
                    server.inflight -= 1

        handler.do_POST = do_post


def test_concurrency_limit_holds_on_the_server():
    server = CountingServer(limit=2, total=8)
    m = model(server, concurrency=2)

    async def go():
        try:
            return await asyncio.gather(*(m.generate([{"role": "user", "content": str(i)}]) for i in range(8)))
        finally:
            await m.aclose()
    try:
        out = asyncio.run(go())
    finally:
        server.close()
    assert len(out) == 8 and len(server.requests) == 8 and m.usage["requests"] == 8
    assert server.peak == 2  # never more than the limit in flight, and the limit was used


# --- per-turn token limit and context overflow ------------------------------------------------------

# How llama.cpp, vLLM and OpenAI answer a request that does not fit the context window.
OVERFLOWS = [
    {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
               "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}},
    {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested "
                                   "6144 tokens (4096 in the messages, 2048 in the completion).",
     "type": "BadRequestError", "param": None, "code": 400},
    {"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                          "9001 tokens.", "type": "invalid_request_error", "param": "messages",
               "code": "context_length_exceeded"}},
    {"error": {"message": "Too many tokens: the prompt is longer than the model's context window"}},
]


@pytest.mark.parametrize("server", [[(200, ok_body(), {}), (200, ok_body(), {})]], indirect=True)
def test_a_per_turn_token_limit_is_sent_by_default(server):
    from webagent.llm.openai_compat import DEFAULT_MAX_TOKENS

    gen(model(server))
    assert server.requests[0]["body"]["max_tokens"] == DEFAULT_MAX_TOKENS == 2048
    gen(model(server, max_tokens=300))
    assert server.requests[1]["body"]["max_tokens"] == 300


@pytest.mark.parametrize("server", [[(400, body, {}) for body in OVERFLOWS]], indirect=True)
def test_context_overflow_replies_become_context_overflow_error(server):
    from webagent.llm.base import ContextOverflowError

    for _ in OVERFLOWS:
        with pytest.raises(ContextOverflowError):
            gen(model(server))
    assert len(server.requests) == len(OVERFLOWS)  # not retried


@pytest.mark.parametrize("server", [[(400, {"error": {"message": "unknown field 'foo'"}}, {})]], indirect=True)
def test_other_bad_requests_stay_bad_requests(server):
    with pytest.raises(openai.BadRequestError):
        gen(model(server))


def _small_window_server(body):
    """A server whose window holds the question but not a long observation."""
    size = sum(len(str(m.get("content") or "")) for m in body["messages"])
    if size > 6000:
        return 400, OVERFLOWS[0], {}
    if "maximum context length" in body["messages"][-1]["content"]:
        return 200, ok_body("<think>enough read</think>\n<answer>Quarnby</answer>"), {}
    call = '<think>look</think>\n<tool_call>{"name": "search", "arguments": {"query": ["Velor"]}}</tool_call>'
    return 200, ok_body(call), {}


@pytest.mark.parametrize("server", [[_small_window_server] * 4], indirect=True)
@pytest.mark.parametrize("protocol", ["webagent", "released"])
def test_a_context_overflow_takes_the_agents_forced_answer_path(server, protocol):
    from webagent import trajectory as T
    from webagent.agents.react import ReactConfig
    from webagent.agents.released import make_react_agent
    from webagent.tools.base import Tool

    class Big(Tool):
        name = "search"
        parameters = {"type": "object", "properties": {"query": {"type": "array"}}, "required": ["query"]}

        async def call(self, query):
            return "The Velor Conference is held in Quarnby. " * 200

    async def go():
        m = model(server)
        try:  # the agent's own cap is far away: only the server knows its window is full
            agent = make_react_agent(protocol, m, [Big()], ReactConfig(max_context_tokens=100_000, date="2025-01-01"))
            return await agent.run("Where is the Velor Conference held?")
        finally:
            await m.aclose()

    traj = asyncio.run(go())
    assert (traj.answer, traj.termination) == ("Quarnby", T.TOKEN_LIMIT)
    assert traj.llm_calls == 2 and "exceeds the available context size" in traj.meta["context_overflow"]
    assert len(server.requests) == 3  # search, the refused turn, the forced answer


@pytest.mark.parametrize("server", [[(400, OVERFLOWS[1], {})]], indirect=True)
def test_an_overflow_on_the_first_turn_ends_the_episode_without_a_crash(server):
    from webagent import trajectory as T
    from webagent.agents.react import ReactAgent, ReactConfig

    async def go():
        m = model(server)
        try:
            return await ReactAgent(m, [], ReactConfig(date="2025-01-01")).run("q")
        finally:
            await m.aclose()

    traj = asyncio.run(go())
    assert traj.termination == T.NOT_FOUND and traj.answer is None and traj.llm_calls == 0
    assert "maximum context length is 4096" in traj.meta["context_overflow"]


@pytest.mark.parametrize("server", [[(200, ok_body("<answer>Quarnby</answer>"), {})] * 3], indirect=True)
def test_max_tokens_option_of_run_eval_and_synth_reaches_the_server(server, world_dir, tmp_path):
    from webagent.cli import build_parser, main
    from webagent.llm.factory import model_from_args

    code = main(["run", "Where is the Velor Conference held?", "--world", str(world_dir), "--llm", "openai",
                 "--base-url", server.url, "--model", "m", "--max-tokens", "77", "--quiet"])
    assert code == 0 and server.requests[-1]["body"]["max_tokens"] == 77
    code = main(["eval", "--benchmark", "synth:webwalker", "--limit", "1", "--runs", "1", "--world", str(world_dir),
                 "--llm", "openai", "--base-url", server.url, "--model", "m", "--max-tokens", "99",
                 "--out", str(tmp_path / "ev"), "--quiet"])
    assert code == 0 and server.requests[-1]["body"]["max_tokens"] == 99
    args = build_parser().parse_args(["synth", "crawlqa", "--out", "x.jsonl", "--llm", "--max-tokens", "55"])
    assert model_from_args(args).config.max_tokens == 55
    from webagent.trajectories.cli import _teacher_config

    args = build_parser().parse_args(["traj", "sample", "--qa", "x", "--out", "y", "--teacher", "openai",
                                      "--max-reply-tokens", "300"])
    assert _teacher_config(args).max_tokens == 300  # traj's --max-tokens is the RFT trajectory limit

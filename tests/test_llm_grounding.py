"""Grounded decoding: URLs, queries and answers stay within the conversation's text, whatever the
model prefers (random choices among the allowed tokens, and a model scripted to hallucinate)."""

import asyncio
import random
import re
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from webagent.llm.grounding import Grounder, parse_grounding, token_bytes  # noqa: E402
from webagent.llm.local import LocalConfig, LocalModel  # noqa: E402

RESULTS = """<tool_response>
A Google search for 'Vetalen Gatis employer' found 3 results:
1. [Vetalen Gatis](http://www.mozomar-university.test/people/vetalen-gatis/)
employer: University of Mozomar field: theory of computation
2. [Vetalen Gatis](http://www.openpedia.test/wiki/Vetalen_Gatis)
Vetalen Gatis (Chinese: 韦塔伦·加蒂斯) works at 岚文大学 since 1964年8月1日.
</tool_response>"""
URLS = {"http://www.mozomar-university.test/people/vetalen-gatis/", "http://www.openpedia.test/wiki/Vetalen_Gatis"}
MESSAGES = [{"role": "system", "content": "You answer questions with search (query) and visit (url, goal). See https://system.example/only"},
            {"role": "user", "content": "Question: Where does Vetalen Gatis work?"},
            {"role": "assistant", "content": "<think>search</think>"},
            {"role": "user", "content": RESULTS}]
CALL = '<think>I pick one.</think>\n<tool_call>\n{"name": "visit", "arguments": {"url": ["'


@pytest.fixture(scope="module")
def grounder(tok):
    return Grounder(tok, ("url", "query", "answer"))


def walk(request, reply: str, done, seed: int, steps: int = 80) -> str:
    """Extend ``reply`` with random allowed tokens until ``done(text)`` or ``steps`` run out."""
    rng, out = random.Random(seed), reply.encode()
    for _ in range(steps):
        allowed = request.allowed(out)
        assert allowed, f"nothing allowed after {out[-40:]!r}"
        out += request.g.token_bytes[rng.choice(sorted(allowed))]
        if done(out.decode("utf-8", "ignore")):
            break
    return out.decode("utf-8", "replace")


def test_parse_grounding():
    assert parse_grounding("all") == ("format", "url", "query", "answer", "thought")
    assert parse_grounding(" url, answer ,url") == ("url", "answer")
    assert parse_grounding(None) == () and parse_grounding("") == () and parse_grounding("none") == ()
    with pytest.raises(ValueError, match="unknown grounded value"):
        parse_grounding("urls")


def test_token_bytes_spell_the_text(tok):
    text = "Vetalen Gatis 韦塔伦 works at 岚文大学 <answer>1964年8月1日</answer> 🦦"
    pieces = token_bytes(tok)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert b"".join(pieces[i] for i in ids) == text.encode()


def test_urls_are_ones_the_conversation_shows(grounder):
    request = grounder.request(MESSAGES)
    assert set(u.decode() for u in request.urls) == URLS | {"http://www.mozomar-university.test/people/vetalen-gatis/"}
    seen = set()
    for seed in range(12):
        text = walk(request, CALL, lambda t: re.search(r'\["[^"]*"', t[len(CALL) - 2:]), seed)
        url = re.search(r'"url": \["([^"]*)"', text).group(1)
        assert url in URLS  # never the system prompt's, never one of its own
        seen.add(url)
    assert seen == URLS  # random choices reach both: the rule constrains, it does not pick


def test_answers_are_whole_pieces_of_the_conversation(grounder):
    request = grounder.request(MESSAGES)
    source = "\n".join(m["content"] for m in MESSAGES[1:]).replace("<think>search</think>", "")
    closed = 0
    for seed in range(20):
        text = walk(request, "<think>found</think>\n<answer>", lambda t: "</answer>" in t, seed)
        answer = text.split("<answer>", 1)[1]
        if "</answer>" in answer:
            closed += 1
            answer = answer.split("</answer>")[0]
            assert answer.strip() and answer in source
            # it ends where a word does in some occurrence (not "University of M")
            assert any(not (nxt.isascii() and nxt.isalnum())
                       for nxt in (source[m.end():m.end() + 1] for m in re.finditer(re.escape(answer), source)))
        else:
            assert answer in source or "</" in answer  # still open: a piece so far
    assert closed >= 5
    # "<" starts a piece of the text ("</tool_response>") and the closing tag alike: an answer
    # that is nothing but the start of "</answer>" may not close (it was an empty answer).
    after = request.allowed(b"<think>found</think>\n<answer></")
    assert after and not any(request.g.token_bytes[i].startswith(b"a") for i in after)


def test_query_words_come_from_the_question_results_or_thought(grounder):
    request = grounder.request(MESSAGES)
    reply = '<think>I need the headquarters of it.</think>\n<tool_call>\n{"name": "search", "arguments": {"query": ["'
    source = "\n".join(m["content"] for m in MESSAGES[1:]) + reply
    closed = 0
    for seed in range(10):
        text = walk(request, reply, lambda t: '"' in t[len(reply):], seed, steps=30)
        query, _, rest = text[len(reply):].partition('"')
        if rest or text.endswith('"'):
            closed += 1
            assert query.strip() and all(word in source for word in query.split()), query
    assert closed >= 3


def test_earlier_thoughts_are_not_a_source(grounder):
    """A name the model garbled in an earlier thought is free text, not evidence: no value copies it."""
    garbled = {"role": "assistant", "content": "<think>Zorbleq is the employer.</think>\n<tool_call>\n"
               '{"name": "search", "arguments": {"query": ["Vetalen Gatis"]}}\n</tool_call>'}
    request = grounder.request([*MESSAGES[:2], garbled, MESSAGES[3]])
    assert b"Zorbleq" not in request.source and b'"Vetalen Gatis"' in request.source  # the call stays
    shown = grounder.request([*MESSAGES[:3], {"role": "user", "content": RESULTS + "\nZorbleq is here."}])
    for req, expect in ((request, False), (shown, True)):
        starts = {req.g.token_bytes[i] for i in req.allowed(b"<answer>")}
        assert any(b"Zorbleq".startswith(b) for b in starts if b.strip()) is expect


def test_cjk_runs_of_a_thought_come_from_the_conversation(tok):
    """Under ``thought``, a thought's ASCII text is free and each run of CJK text is copied whole
    from the conversation; leaning to non-ASCII tokens, random walks still write only such runs."""
    request = Grounder(tok, ("thought",)).request(MESSAGES)
    source = "\n".join(m["content"] for m in MESSAGES[1:])
    runs = 0
    for seed in range(30):
        rng, out = random.Random(seed), b"<think>I need the "
        for _ in range(25):
            if b"</think>" in out:
                break
            allowed = request.allowed(out)
            cjk = sorted(i for i in allowed if not request.g.token_bytes[i].isascii())
            out += request.g.token_bytes[rng.choice(cjk if cjk and rng.random() < 0.8 else sorted(allowed))]
        if b"</think>" in out:  # a thought closes only at a whole character
            out.split(b"</think>")[0].decode("utf-8")
        text = out.decode("utf-8", "ignore").split("</think>")[0]
        for run in re.findall(r"[^\x00-\x7f]+", text[:-1]):  # the last run may be unfinished
            runs += 1
            assert run in source, (run, text)
    assert runs >= 20
    assert request.allowed(b"<think>I need the ") >= request.g.ascii_ids  # English stays free
    half = "I need the 岚文".encode()[:-2]  # half-way through 文: neither English nor "</think>" yet
    assert all(not request.g.token_bytes[i].isascii() for i in request.allowed(b"<think>" + half))
    assert Grounder(tok, ("answer",)).request(MESSAGES).allowed(b"<think>I need the ") is None


def test_outside_grounded_values_everything_is_allowed(grounder, tok):
    request = grounder.request(MESSAGES)
    assert request.allowed(b"<think>I need") is None
    assert request.allowed(b'<tool_call>\n{"name": "visit", "arguments": {"url": ["http://x.test/"], "goal": "') is None
    assert request.allowed(b"<answer>x</answer>") is None
    only_url = Grounder(tok, ("url",)).request(MESSAGES)
    assert only_url.allowed(b"<answer>") is None and only_url.allowed(CALL.encode()) is not None


class Hallucinator(torch.nn.Module):
    """A 'model' that always wants the next token of ``script``: a visit to a URL it made up."""

    def __init__(self, tokenizer, script: str):
        super().__init__()
        self.script = tokenizer(script, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        self.vocab = len(tokenizer)
        self.config = SimpleNamespace(max_position_embeddings=4096)
        self.generation_config = None
        self.step = 0

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True):
        self.step = 0 if past_key_values is None else self.step + 1
        logits = torch.zeros(input_ids.shape[0], input_ids.shape[1], self.vocab)
        logits[:, -1, self.script[min(self.step, len(self.script) - 1)]] = 10.0
        return SimpleNamespace(logits=logits, past_key_values=("cache",))


class Repeater(Hallucinator):
    """A model that wants to go on with ``script`` (a phrase, over and over) and, where it may not,
    prefers the tokens that close a call."""

    def __init__(self, tokenizer, script: str):
        super().__init__(tokenizer, script)
        self.closers = sorted(set(tokenizer('"]}}\n</tool_call>', add_special_tokens=False)["input_ids"]))

    def forward(self, input_ids, **kwargs):
        out = super().forward(input_ids, **kwargs)
        out.logits[:, -1, self.closers] += 5.0
        return out


def _script_call(tok_dir, tok, script: str, grounding: tuple[str, ...], max_new_tokens: int = 200):
    lm = LocalModel(LocalConfig(str(tok_dir), temperature=0.0, max_new_tokens=max_new_tokens, grounding=grounding),
                    model=Repeater(tok, script))
    return asyncio.run(lm.generate(MESSAGES))


QUERY_HEAD = '<tool_call>\n{"name": "search", "arguments": {"query": ["'
GOAL_HEAD = ('<tool_call>\n{"name": "visit", "arguments": {"url": ["http://www.openpedia.test/wiki/Vetalen_Gatis"], '
             '"goal": "')


def _one_call(c, field: str) -> str:
    from webagent.protocol import parse_reply

    calls = parse_reply(c.text).tool_calls
    assert c.finish_reason == "stop" and len(calls) == 1 and calls[0].ok, c.text
    value = calls[0].arguments[field]
    return value[0] if isinstance(value, list) else value


def test_a_goal_that_repeats_itself_is_closed_in_time(tok_dir, tok):
    """A model that repeats a phrase inside a goal would run into ``max_tokens`` and lose the call;
    grounded, the string closes by MAX_VALUE_BYTES and the call is whole."""
    from webagent.llm.grounding import MAX_VALUE_BYTES

    script = GOAL_HEAD + "Vetalen Gatis " * 60
    assert _script_call(tok_dir, tok, script, ()).finish_reason == "length"
    value = _one_call(_script_call(tok_dir, tok, script, ("format",)), "goal")
    assert value.startswith("Vetalen Gatis Vetalen") and MAX_VALUE_BYTES <= len(value.encode()) <= MAX_VALUE_BYTES + 16


def test_a_query_ends_where_it_starts_a_loop(tok_dir, tok):
    """Queries that repeat themselves ("工程大会 工程大会 ...") end once their last words say again
    the ones before them; a word that comes back later ("of" in a name) does not end them, and a
    second space never starts a word."""
    script = QUERY_HEAD + "Vetalen Gatis " * 60
    assert _script_call(tok_dir, tok, script, ()).finish_reason == "length"
    assert _one_call(_script_call(tok_dir, tok, script, ("format", "query")), "query") == "Vetalen Gatis Vetalen Gatis"
    name = "University of Mozomar employer: University of Mozomar"
    assert _one_call(_script_call(tok_dir, tok, QUERY_HEAD + name + '"]}}', ("format", "query")), "query") == name
    request = Grounder(tok, ("format", "query")).request(MESSAGES)
    after_space = {request.g.token_bytes[i] for i in request.allowed((QUERY_HEAD + "Vetalen ").encode())}
    assert any(b and b"Gatis".startswith(b) for b in after_space) and not any(b.startswith(b" ") for b in after_space)


def test_a_value_closes_before_the_reply_runs_out_of_tokens(tok_dir, tok):
    """A CJK value costs several tokens a character, so it can reach ``max_tokens`` before
    MAX_VALUE_BYTES: near the end of the budget the value closes and the call stays whole."""
    script = GOAL_HEAD + "岚文大学" * 30
    budget = len(tok(GOAL_HEAD, add_special_tokens=False)["input_ids"]) + 24
    assert _script_call(tok_dir, tok, script, (), budget).finish_reason == "length"
    value = _one_call(_script_call(tok_dir, tok, script, ("format",), budget), "goal")
    assert "岚文大学" in value and len(value.encode()) < 96
    # Free text closes only at a whole character: half-way through 文 the goal cannot end.
    request = Grounder(tok, ("format",)).request(MESSAGES)
    half = request.allowed((GOAL_HEAD + "岚文").encode()[:-2])
    assert half and not any(request.g.token_bytes[i].startswith(b'"') for i in half)


def test_format_keeps_every_reply_to_one_valid_call_or_answer(tok):
    """Random choices among the allowed tokens, leaning to the protocol's text where it may come:
    every reply that ends is one protocol turn: ``parse_reply`` finds exactly one valid call (a tool
    named in the prompt) or an answer, and nothing after it."""
    from webagent.protocol import parse_reply

    grounder = Grounder(tok, ("format",))
    request = grounder.request(MESSAGES)
    prompt_words = set(re.findall(r"\b[A-Za-z_]\w*\b", "\n".join(m["content"] for m in MESSAGES), re.ASCII))
    kinds = set()
    for seed in range(40):
        rng, out = random.Random(seed), b""
        for _ in range(200):
            allowed = request.allowed(out)
            assert allowed, f"nothing allowed after {out[-40:]!r}"
            protocol = sorted(allowed - grounder.text_ids)
            token = rng.choice(protocol if protocol and rng.random() < 0.3 else sorted(allowed))
            if token in grounder.end_ids:
                break
            out += grounder.token_bytes[token]
        else:
            continue  # still inside a free thought after 200 tokens: nothing to check
        reply = parse_reply(out.decode("utf-8", "replace"))  # a thought may hold half a character
        if reply.answer is not None:
            kinds.add("answer")
            assert not reply.tool_calls and out.endswith(b"</answer>")
        else:
            kinds.add("call")
            assert len(reply.tool_calls) == 1 and reply.tool_calls[0].ok, out
            assert reply.tool_calls[0].name in prompt_words and out.endswith(b"\n</tool_call>")
    assert kinds == {"answer", "call"}


def test_format_allows_only_what_the_protocol_can_continue_with(tok):
    request = Grounder(tok, ("format",)).request(MESSAGES)
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<think>", "</think>", "<tool_call>", "</tool_call>", "<answer>")}

    def spelled(reply: str) -> set[bytes]:
        return {request.g.token_bytes[i] for i in request.allowed(reply.encode())}

    assert {ids["<think>"], ids["<tool_call>"], ids["<answer>"]} <= request.allowed(b"")
    thought = request.allowed(b"<think>\nI need the credits")  # free text, closed only by </think>
    assert ids["</think>"] in thought and ids["</tool_call>"] not in thought and ids["<answer>"] not in thought
    assert all(b.startswith(b" ") or b == b" " for b in spelled('<think>\nx</think>\n<tool_call>\n{"name":'))
    assert all(b'rch", "arguments": {'.startswith(b) for b in spelled('<tool_call>\n{"name": "sea'))  # a prompt word
    for call in ('{"name": "visit", "arguments": {"url": "http://x.test/", "goal": "emp',
                 '{"name": "visit", "arguments": {"answer": "emp'):  # a JSON string, whatever its name
        allowed = request.allowed(b"<tool_call>\n" + call.encode())
        assert not any(b'"' in request.g.token_bytes[i][1:] or b"\n" in request.g.token_bytes[i] for i in allowed)
    assert request.allowed(b'<tool_call>\n{"name": "visit", "arguments": {}}\n</tool_call>') == request.g.end_ids
    assert request.allowed(b"<answer>University of Mozomar</answer>") == request.g.end_ids


def test_format_closes_a_call_the_model_leaves_open(tok_dir, tok):
    """A model that ends right after its call's JSON: ``format`` writes the closing tag first; with
    ``url`` as well, its made-up URL becomes one of the conversation's (the rest of the script no
    longer lines up with the reply, so only the URL is checked there)."""
    script = '<tool_call>\n{"name": "visit", "arguments": {"url": ["http://made-up.test/page/"], "goal": "employer"}}'
    texts, completions = {}, {}
    for grounding in [(), ("format",), ("format", "url")]:
        lm = LocalModel(LocalConfig(str(tok_dir), temperature=0.0, max_new_tokens=120, grounding=grounding),
                        model=Hallucinator(tok, script))
        completions[grounding] = c = asyncio.run(lm.generate(MESSAGES))
        texts[grounding] = c.text
    assert texts[()] == script and completions[()].token_masks is None
    assert texts[("format",)] == script + "\n</tool_call>"
    # The logprobs are the constrained policy's, and each constrained step's choices are recorded.
    c = completions[("format",)]
    assert len(c.token_masks) == len(c.token_ids) == len(c.logprobs)
    from webagent.llm.local import unpack_masks

    for token, lp, mask in zip(c.token_ids, c.logprobs, c.token_masks, strict=True):
        if mask is None:
            continue
        allowed = unpack_masks([mask], len(tok))[0]
        assert allowed[token]
        if int(allowed.sum()) == 1:
            assert lp == pytest.approx(0.0)  # the only choice: probability 1 under the constraint
    assert re.search(r'"url": \["([^"]*)"', texts[("format", "url")]).group(1) in URLS


@pytest.mark.parametrize("grounding", [(), ("url",)])
def test_local_model_grounds_a_hallucinated_url(tok_dir, tok, grounding):
    script = CALL[len("<think>I pick one.</think>\n"):] + 'http://made-up.test/page/"], "goal": "employer"}}\n</tool_call>'
    lm = LocalModel(LocalConfig(str(tok_dir), temperature=0.0, max_new_tokens=240, grounding=grounding),
                    model=Hallucinator(tok, script))
    c = asyncio.run(lm.generate(MESSAGES))
    url = re.search(r'"url": \["([^"]*)"', c.text).group(1)
    if grounding:
        assert url in URLS
    else:
        assert url == "http://made-up.test/page/"
    assert len(c.token_ids) == len(c.logprobs)


def test_eval_config_names_grounding_and_refuses_it_without_a_local_model():
    from webagent.eval.runner import EvalConfig

    cfg = EvalConfig(benchmark="b.jsonl", llm="local", model="m", grounding="all")
    cfg.validate()
    assert cfg.policy_label() == "local model m, grounded decoding (all)"
    with pytest.raises(ValueError, match="needs a local model"):
        EvalConfig(benchmark="b.jsonl", llm="baseline", grounding="url").validate()
    with pytest.raises(ValueError, match="unknown grounded value"):
        EvalConfig(benchmark="b.jsonl", llm="local", model="m", grounding="urls").validate()

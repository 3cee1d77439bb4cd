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
MESSAGES = [{"role": "system", "content": "You answer questions. See https://system.example/only"},
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
    assert parse_grounding("all") == ("url", "query", "answer")
    assert parse_grounding(" url, answer ,url") == ("url", "answer")
    assert parse_grounding(None) == () and parse_grounding("") == ()
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
    source = "\n".join(m["content"] for m in MESSAGES[1:])
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

"""The local transformers backend on a tiny random Qwen2 model and a tokenizer trained here (no hub)."""

import asyncio

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from webagent import protocol as P  # noqa: E402
from webagent.llm.local import LocalConfig, LocalModel, pick_device_dtype  # noqa: E402

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TAGS = [f"<{t}>" for t in ("think", "tool_call", "tool_response", "answer")]
TAGS += [t.replace("<", "</") for t in TAGS]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *TAGS]
CORPUS = """The Velor Conference 2024 is held in Quarnby. Its general chair is Ilsa Moravec.
Quarnby is a harbour town founded in 1788 on the Sallow coast. Search the web, visit pages, answer.
<think>I should search for the conference first.</think> <tool_call>{"name": "search", "arguments": {"query": ["Velor"]}}</tool_call>
<tool_response>A search for 'Velor' found 3 results.</tool_response> <answer>Quarnby</answer>
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS] * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL[1:2] + TAGS)
    fast.chat_template = CHATML
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    model = Qwen2ForCausalLM(cfg)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    d = tmp_path_factory.mktemp("tiny-qwen")
    model.save_pretrained(d)
    fast.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def lm(model_dir):
    return LocalModel(LocalConfig(str(model_dir), temperature=0.0, max_new_tokens=24, batch_window=0.05))


def msgs(q):
    return [{"role": "system", "content": "You answer questions."}, {"role": "user", "content": q}]


QUESTIONS = ["Where is Velor held?", "Who is the chair?", "When was Quarnby founded?", "Search the web"]


def gen_all(lm, requests):
    async def go():
        return await asyncio.gather(*(lm.generate(m, **kw) for m, kw in requests))
    return asyncio.run(go())


def test_loads_a_directory_and_uses_its_chat_template(lm):
    assert pick_device_dtype(None, None) == ("cpu", torch.float32)  # no GPU in CI
    ids = lm.prompt_ids(msgs("Where is Velor held?"))
    text = lm.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nYou answer questions.<|im_end|>") and text.endswith("<|im_start|>assistant\n")
    assert lm.tokenizer.convert_tokens_to_ids("<tool_response>") in lm.tokenizer("<tool_response>")["input_ids"]


def test_concurrent_requests_share_one_batch_and_match_single_runs(lm):
    before = len(lm.batch_sizes)
    out = gen_all(lm, [(msgs(q), {}) for q in QUESTIONS])
    assert lm.batch_sizes[before:] == [len(QUESTIONS)]  # four episodes, one decoding batch
    for q, c in zip(QUESTIONS, out, strict=True):
        assert len(c.token_ids) == len(c.logprobs) == c.completion_tokens > 0
        assert c.prompt_token_ids == lm.prompt_ids(msgs(q)) and c.prompt_tokens == len(c.prompt_token_ids)
        assert all(lp <= 0 for lp in c.logprobs)
        alone = gen_all(lm, [(msgs(q), {})])[0]  # left padding must not change a greedy reply
        assert alone.token_ids == c.token_ids and alone.text == c.text
        assert alone.logprobs == pytest.approx(c.logprobs, abs=1e-4)


def full_pass_logprobs(lm, c) -> list[float]:
    """The logprobs of ``c``'s reply under one forward pass over its prompt and reply."""
    full = torch.tensor([c.prompt_token_ids + c.token_ids])
    with torch.no_grad():
        logits = lm.model(full).logits[0].float()
    n = len(c.prompt_token_ids)
    return torch.log_softmax(logits[n - 1:-1], -1).gather(1, torch.tensor(c.token_ids)[:, None])[:, 0].tolist()


def test_logprobs_are_the_models_own(lm):
    c = gen_all(lm, [(msgs("Who is the chair?"), {})])[0]
    assert c.logprobs == pytest.approx(full_pass_logprobs(lm, c), abs=1e-4)


def test_prompts_of_very_different_lengths_in_one_batch_decode_as_the_model_alone(lm):
    """Each prompt is computed on its own and the rows are stacked left-padded for decoding: every
    reply's logprobs are those of one full forward pass over its own prompt and reply."""
    questions = ["hi", "Where is Velor held? " * 12, "Who is the general chair of the Velor Conference?"]
    before = len(lm.batch_sizes)
    out = gen_all(lm, [(msgs(q), {"max_tokens": 20}) for q in questions])
    assert lm.batch_sizes[before:] == [3]
    assert len({len(c.prompt_token_ids) for c in out}) == 3
    for c in out:
        assert c.logprobs == pytest.approx(full_pass_logprobs(lm, c), abs=1e-4)


def test_reserved_cache_layer_writes_in_place_and_grows_past_its_room():
    from webagent.llm.local import _reserved_layer_class

    keys, values = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    short = [keys[1:, :, 2:], values[1:, :, 2:]]  # a second row of 3 positions, left-padded to 5
    layer = _reserved_layer_class()([keys[:1], short[0]], [values[:1], short[1]], width=5, room=2)
    assert torch.equal(layer.keys[1, :, :2], torch.zeros(3, 2, 4))
    keys[1, :, :2], values[1, :, :2] = 0, 0
    buffer = layer._keys
    steps = [torch.randn(2, 3, 1, 4) for _ in range(4)]
    for i, step in enumerate(steps):
        k, v = layer.update(step, -step)
        assert (layer._keys is buffer) == (i < 2)  # no copy while the reply fits the room
    assert torch.equal(k, torch.cat([keys, *steps], -2)) and torch.equal(v, torch.cat([values, *[-x for x in steps]], -2))
    assert layer.get_seq_length() == 9


def test_stop_strings_max_tokens_and_per_request_settings_in_one_batch(lm):
    plain = gen_all(lm, [(msgs("Search the web"), {"max_tokens": 40})])[0]
    assert len(plain.text) > 6, plain.text
    stop = plain.text[3:6]
    cut = plain.text.find(stop)
    before = len(lm.batch_sizes)
    stopped, short, sampled = gen_all(lm, [
        (msgs("Search the web"), {"max_tokens": 40, "stop": ["never-appears", stop]}),
        (msgs("Search the web"), {"max_tokens": 5}),
        (msgs("Search the web"), {"max_tokens": 40, "temperature": 1.0, "top_p": 0.9}),
    ])
    assert lm.batch_sizes[before:] == [3]
    # Cut exactly like the HTTP backends: text before the stop string, the stop string excluded.
    assert stopped.text == plain.text[:cut] == P.cut_at_stop(plain.text, [stop])
    assert stopped.finish_reason == "stop" and stopped.meta["stop_string"] == stop
    assert stopped.token_ids == plain.token_ids[: len(stopped.token_ids)]  # sampled ids, never re-derived
    assert lm.tokenizer.decode(stopped.token_ids).startswith(stopped.text + stop)
    assert short.finish_reason == "length" and short.token_ids == plain.token_ids[:5]
    assert len(sampled.token_ids) == len(sampled.logprobs) <= 40


def test_greedy_is_deterministic_and_eos_ends_a_reply(model_dir, lm):
    a = gen_all(lm, [(msgs(q), {"max_tokens": 16}) for q in QUESTIONS])
    b = gen_all(lm, [(msgs(q), {"max_tokens": 16}) for q in QUESTIONS])
    assert [c.token_ids for c in a] == [c.token_ids for c in b]
    # Force the end-of-sequence token: a reply ending on it reports "stop" and keeps the id, not the text.
    eos = lm.tokenizer.eos_token_id
    forced = LocalModel(LocalConfig(str(model_dir), temperature=0.0), model=lm.model, tokenizer=lm.tokenizer)
    def favour_eos(module, inputs, logits):  # the model now prefers to end at once
        logits = logits.clone()
        logits[..., eos] += 1e4
        return logits

    hook = forced.model.lm_head.register_forward_hook(favour_eos)
    try:
        c = gen_all(forced, [(msgs("hi"), {"max_tokens": 8})])[0]
    finally:
        hook.remove()
    assert c.token_ids == [eos] and c.text == "" and c.finish_reason == "stop"


def test_bad_input_fails_clearly(model_dir, lm):
    with pytest.raises(ValueError, match="does not fit"):
        gen_all(lm, [(msgs("Quarnby " * 600), {})])
    with pytest.raises(ValueError, match="unknown dtype"):
        pick_device_dtype("cpu", "float13")


def test_prefix_cache_reuses_the_last_turn_and_changes_nothing(model_dir):
    """An episode's second turn extends its first: with the prefix cache only the new tokens are
    computed, and the replies, ids and logprobs are those of a full recomputation, also when a
    cached row and a fresh one share a batch."""
    cached = LocalModel(LocalConfig(str(model_dir), temperature=0.0, max_new_tokens=16, batch_window=0.05))
    plain = LocalModel(LocalConfig(str(model_dir), temperature=0.0, max_new_tokens=16, batch_window=0.05,
                                   prefix_cache=0))

    async def episode(model):
        first = msgs("Where is the Velor Conference 2024 held?")
        a = await model.generate(first)
        second = first + [{"role": "assistant", "content": a.text},
                          {"role": "user", "content": P.format_tool_response("Quarnby is a harbour town.")}]
        b, c = await asyncio.gather(model.generate(second), model.generate(msgs("Who is the general chair?")))
        return a, b, c

    with_cache, without = asyncio.run(episode(cached)), asyncio.run(episode(plain))
    assert cached.usage["cached_prompt_tokens"] >= len(with_cache[0].prompt_token_ids)  # the first turn was reused
    assert plain.usage["cached_prompt_tokens"] == 0
    for x, y in zip(with_cache, without, strict=True):
        assert x.token_ids == y.token_ids and x.text == y.text
        assert max(abs(p - q) for p, q in zip(x.logprobs, y.logprobs, strict=True)) < 1e-4


def test_generation_emits_no_future_warning(lm):
    """transformers' past_key_values deprecation (and any other FutureWarning) stays out of runs."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        two_turns = [(msgs("Where is Velor held?"), {}), (msgs("Where is Velor held?") + [
            {"role": "assistant", "content": "<answer>Quarnby</answer>"}, {"role": "user", "content": "Sure?"}], {})]
        gen_all(lm, two_turns[:1])
        gen_all(lm, two_turns[1:])  # the second turn reuses the first one's cache
    assert [str(w.message) for w in caught if issubclass(w.category, FutureWarning)] == []


def test_cancelled_batching_stops_decoding_at_once(model_dir, lm):
    """Ctrl-C cancels every task of the event loop; the decoding thread must then stop within a
    token, not finish its batch (the interpreter joins it at exit: a minute on a real model)."""
    import time

    model = LocalModel(LocalConfig(str(model_dir), temperature=0.0), model=lm.model, tokenizer=lm.tokenizer)
    eos, calls = lm.tokenizer.eos_token_id, []

    def slow_and_endless(module, inputs, logits):  # never ends on its own: 400 slow tokens
        calls.append(1)
        time.sleep(0.01)
        logits = logits.clone()
        logits[..., eos] = -1e4
        return logits

    async def interrupted():
        asyncio.get_running_loop().create_task(model.generate(msgs("hi"), max_tokens=400))
        while len(calls) < 3:  # noqa: ASYNC110 (the hook runs in the decoding thread)
            await asyncio.sleep(0.005)
        # returning leaves the request in flight: asyncio.run cancels it and the batching task

    hook = model.model.lm_head.register_forward_hook(slow_and_endless)
    try:
        asyncio.run(interrupted())
        model._executor.shutdown(wait=True)  # what interpreter exit waits for
    finally:
        hook.remove()
    assert 3 <= len(calls) < 50


def test_loading_draws_no_bar_into_a_log(model_dir):
    """Off a terminal (a log, CI) transformers' "Loading weights" bar is carriage-return noise."""
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    LocalModel(LocalConfig(str(model_dir)))  # pytest's captured stderr is no terminal
    assert not hf_logging.is_progress_bar_enabled()

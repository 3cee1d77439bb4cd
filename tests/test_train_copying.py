"""The copy drill: rows, determinism, the probe, the warm-up's resume and early stop, the SFT mix."""

from __future__ import annotations

import json
import math
import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from _train_helpers import TINY, params, torchrun_webagent  # noqa: E402
from webagent.train.copying import CopyConfig, train_copy  # noqa: E402
from webagent.train.data import IGNORE, page_chats  # noqa: E402
from webagent.train.drill import ordinary_ids, repeat_accuracy, repeat_batch, repeat_row  # noqa: E402
from webagent.train.sft import SFTConfig, train_sft  # noqa: E402


def test_repeat_row_targets_exactly_the_predictable_repeats():
    ids = list(range(100, 1100))
    seq, labels = repeat_row(ids, 512, random.Random(1))
    assert len(seq) == len(labels) == 512
    # Walk the blocks again: a block of p ids, then the same p ids.
    i, periods = 0, []
    while (p := next((q for q in range(8, 251) if i + 2 * q <= 512 and seq[i:i + q] == seq[i + q:i + 2 * q]), None)):
        periods.append(p)
        assert set(labels[i:i + p]) == {IGNORE}  # the block itself, and the repeat's first token
        assert labels[i + p:i + 2 * p - 1] == seq[i + p + 1:i + 2 * p]
        i += 2 * p
    assert i > 250
    trained = [j for j, t in enumerate(labels) if t != IGNORE]
    assert all(labels[j] == seq[j + 1] for j in trained)
    assert len(set(periods)) > 1, "the block length must vary within a row"
    assert set(seq) <= set(ids)


def test_repeat_batch_is_a_function_of_seed_step_and_rank():
    ids = list(range(50, 4000))
    a = repeat_batch(ids, 3, 256, seed=0, step=7)
    b = repeat_batch(ids, 3, 256, seed=0, step=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], repeat_batch(ids, 3, 256, seed=0, step=8)[0])
    assert not torch.equal(a[0], repeat_batch(ids, 3, 256, seed=0, step=7, rank=1)[0])
    assert a[0].shape == a[1].shape == a[2].shape == (3, 256)


def test_ordinary_ids_leave_out_the_protocol_tags(tok):
    ids = set(ordinary_ids(tok))
    for tag in ("<tool_call>", "<tool_response>", "<answer>", "<|im_end|>"):
        assert tok.convert_tokens_to_ids(tag) not in ids
    assert len(ids) > len(tok) - 40


def test_copy_warmup_resumes_without_duplicates_and_stops_once_formed(tok_dir, tmp_path):
    base = dict(out_dir=str(tmp_path / "w"), tokenizer=tok_dir, batch_size=2, seq_len=64, max_period=20,
                save_every=1, progress=False, device="cpu", model_overrides=TINY, stop_loss=0.0)
    half = train_copy(CopyConfig(**base, steps=2))
    assert half.steps == 2 and not half.stopped_early
    done = train_copy(CopyConfig(**base, steps=4))
    log = [json.loads(x) for x in (tmp_path / "w" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert done.steps == 4 and set(done.repeat_accuracy) == {16, 64, 128, 250, 512}
    assert all(0.0 <= v <= 1.0 for v in done.repeat_accuracy.values())
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(str(tmp_path / "w")).config.hidden_size == TINY["hidden_size"]
    early = train_copy(CopyConfig(**{**base, "out_dir": str(tmp_path / "e"), "stop_loss": 1e9, "window": 3}, steps=50))
    assert early.stopped_early and early.steps == 3


def test_repeat_accuracy_tells_a_copier_from_a_guesser(tok):
    """A hand-built 'model' that predicts the token one period back scores 1; one that guesses, ~0."""
    ids = ordinary_ids(tok)

    class Copier(torch.nn.Module):
        def __init__(self, copy: bool):
            super().__init__()
            self.copy = copy

        def forward(self, input_ids):
            n = input_ids.shape[1]
            gap = n // 2
            nxt = torch.roll(input_ids[0], gap - 1) if self.copy else torch.zeros(n, dtype=torch.long)
            logits = torch.nn.functional.one_hot(nxt, len(tok)).float()[None]
            return type("Out", (), {"logits": logits})

    assert set(repeat_accuracy(Copier(True), ids, gaps=(16, 64)).values()) == {1.0}
    assert max(repeat_accuracy(Copier(False), ids, gaps=(16, 64)).values()) < 0.05


def test_sft_mixes_the_drill_into_every_step(tok, tok_dir, world, tmp_path):
    chats = page_chats(world, 12, seed=3, max_obs_chars=300)
    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join(json.dumps({"messages": c}, ensure_ascii=False) for c in chats) + "\n")
    cfg = dict(data=[str(data)], model="nano", tokenizer=tok_dir, seq_len=512, batch_size=2, micro_batch_size=2,
               lr=3e-3, min_lr=3e-4, warmup_steps=1, max_steps=2, eval_fraction=0.0, save_every=2, progress=False,
               model_overrides=TINY, device="cpu")
    plain = train_sft(SFTConfig(out_dir=str(tmp_path / "plain"), **cfg))
    mixed = train_sft(SFTConfig(out_dir=str(tmp_path / "mixed"), copy_rows=2, **cfg))
    logs = [json.loads(x) for x in (tmp_path / "mixed" / "train_log.jsonl").read_text().splitlines()]
    plain_logs = [json.loads(x) for x in (tmp_path / "plain" / "train_log.jsonl").read_text().splitlines()]
    # A fresh model is at the uniform loss on random ids: about ln(vocabulary).
    uniform = math.log(len(ordinary_ids(tok)))
    assert all(abs(r["copy_loss"] - uniform) < 1.0 for r in logs) and "copy_loss" not in plain_logs[0]
    # Same init, same rows: the chats' first loss is equal; the drill's gradient then moves the weights.
    assert logs[0]["loss"] == plain_logs[0]["loss"] and mixed.steps == plain.steps == 2
    a, b = params(tmp_path / "plain"), params(tmp_path / "mixed")
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_sft_drill_under_ddp_two_processes(tok_dir, world, tmp_path):
    """Under torchrun every process adds its own drill rows outside DDP's sync, and the run completes."""
    chats = page_chats(world, 8, seed=3, max_obs_chars=200)
    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join(json.dumps({"messages": c}, ensure_ascii=False) for c in chats) + "\n")
    args = ["train", "sft", "--data", str(data), "--model", "nano", "--tokenizer", tok_dir, "--seq-len", "512",
            "--batch-size", "4", "--micro-batch-size", "1", "--max-steps", "2", "--eval-fraction", "0",
            "--copy-rows", "1", "--model-config", json.dumps(TINY), "--quiet", "--out", str(tmp_path / "ddp")]
    run = torchrun_webagent(args)
    assert run.returncode == 0, run.stderr[-3000:]
    logs = [json.loads(x) for x in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2] and all(r["copy_loss"] > 0 for r in logs)

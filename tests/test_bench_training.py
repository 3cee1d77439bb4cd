"""The training benchmarks' cores run: one step of each SFT side, and a LoRA/full budget race, on a
tiny model (bench/bench_sft.py, bench/bench_lora.py; the figures themselves are in docs/benchmarks.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from _train_helpers import TINY  # noqa: E402
from webagent.train.data import page_chats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_lora  # noqa: E402
import bench_sft  # noqa: E402


@pytest.fixture(scope="module")
def data_file(world, tmp_path_factory):
    chats = page_chats(world, 12, seed=5, max_obs_chars=120)
    path = tmp_path_factory.mktemp("bench-data") / "chats.jsonl"
    path.write_text("\n".join(json.dumps({"messages": c}, ensure_ascii=False) for c in chats) + "\n")
    return path


def _settings(data_file, tok_dir, out, **kw):
    return {"data": str(data_file), "model": "nano", "tokenizer": tok_dir, "seq_len": 256, "batch": 2, "micro": 1,
            "steps": 2, "warmup": 1, "lora_r": 4, "lora_top_layers": 1, "lr": 1e-3, "bf16": "off",
            "model_overrides": TINY, "out": str(out), **kw}


@pytest.mark.parametrize("lora_r", [4, 0])
def test_bench_sft_ours_counts_tokens(data_file, tok_dir, tmp_path, lora_r):
    res = bench_sft.compare(_settings(data_file, tok_dir, tmp_path, lora_r=lora_r), repeats=1, sides=("ours",),
                            in_process=True)
    run = res["runs"]["ours"][0]
    assert run["tokens_per_s"] > 0 and 0 < run["trained_tokens"] < run["tokens"]
    assert len(run["step_seconds"]) == 1  # two optimizer steps, one interval timed


def test_bench_sft_trl_trains_the_same_tokens(data_file, tok_dir, tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    res = bench_sft.compare(_settings(data_file, tok_dir, tmp_path), repeats=1, in_process=True)
    ours, trl = res["runs"]["ours"][0], res["runs"]["trl"][0]
    assert ours["tokens_per_s"] > 0 and trl["tokens_per_s"] > 0 and res["speedup"] > 0
    # Same rows in the same order, same mask: the same tokens and trained tokens were timed.
    assert (ours["tokens"], ours["trained_tokens"]) == (trl["tokens"], trl["trained_tokens"])


def test_bench_lora_races_both_arms_from_the_same_base(data_file, tok_dir, tmp_path):
    s = {"data": str(data_file), "heldout": str(data_file), "model": "nano", "tokenizer": tok_dir, "budget": 0.0,
         "eval_chats": 3, "seq_len": 256, "batch": 2, "micro": 1, "lora_lr": None, "full_lr": None, "bf16": "off",
         "model_overrides": TINY, "out": str(tmp_path)}
    base, lora, full = bench_lora.race(s, ("lora", "full"), in_process=True)
    assert base["arm"] == "base" and base["steps"] == 0 and base["heldout_tokens"] > 0
    for arm in (lora, full):
        assert arm["steps"] == 1 and arm["train_tokens"] > 0 and arm["cpu_s"] > 0  # a zero budget: one step
        assert arm["heldout_tokens"] == base["heldout_tokens"]  # the same held-out tokens for every arm
        assert arm["loss_drop"] == pytest.approx(base["heldout_loss"] - arm["heldout_loss"])
        assert 0 <= arm["heldout_accuracy"] <= 1

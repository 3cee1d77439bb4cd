"""SFT: packing boundaries, the masked loss, one step learns, exact resume, DDP on CPU (gloo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from _train_helpers import TINY, params, torchrun_webagent  # noqa: E402
from webagent.train.data import IGNORE, DataStats, encode_records, pack, page_chats, plan_rows  # noqa: E402
from webagent.train.masking import Encoded  # noqa: E402
from webagent.train.models import build_model  # noqa: E402
from webagent.train.sft import SFTConfig, latest_checkpoint, lr_at, step_rows, train_sft  # noqa: E402
from webagent.train.tokenizer import load_tokenizer  # noqa: E402

SEQ = 128



@pytest.fixture(scope="module")
def chats(world):
    return page_chats(world, 24, seed=3, max_obs_chars=120)


@pytest.fixture(scope="module")
def data_file(chats, tmp_path_factory):
    path = tmp_path_factory.mktemp("sft-data") / "chats.jsonl"
    path.write_text("\n".join(json.dumps({"messages": c}, ensure_ascii=False) for c in chats) + "\n")
    return path


def _cfg(out, data_file, tok_dir, **kw):
    base = dict(out_dir=str(out), data=[str(data_file)], model="nano", tokenizer=tok_dir, seq_len=SEQ, batch_size=4,
                micro_batch_size=2, lr=3e-3, min_lr=3e-4, warmup_steps=1, max_steps=4, eval_fraction=0.1,
                eval_every=2, save_every=2, progress=False, model_overrides=TINY)
    return SFTConfig(**{**base, **kw})


# --- packing ----------------------------------------------------------------------------------


def test_pack_layout_and_boundaries():
    a = Encoded([10, 11, 12, 13], [0, 0, 1, 1])
    b = Encoded([20, 21, 22], [0, 1, 1])
    c = Encoded([30, 31, 32, 33, 34, 35], [0, 0, 0, 1, 1, 1])
    assert sorted(sum(plan_rows([4, 3, 6], 8), [])) == [0, 1, 2]
    assert all(sum([4, 3, 6][i] for i in r) <= 8 for r in plan_rows([4, 3, 6], 8))
    stats = DataStats()
    rows = pack([a, b, c], 8, pad_id=0, stats=stats)
    assert len(rows) == 2 and stats.tokens == 13 and stats.trained_tokens == 2 + 2 + 3
    # Row 0 holds c (longest first), row 1 holds a then b.
    assert rows.input_ids[1].tolist() == [10, 11, 12, 13, 20, 21, 22, 0]
    assert rows.position_ids[1].tolist() == [0, 1, 2, 3, 0, 1, 2, 0]  # restart per chat and for padding
    # labels[i] is the target of position i: trained next tokens only, never across chats.
    assert rows.labels[1].tolist() == [IGNORE, 12, 13, IGNORE, 21, 22, IGNORE, IGNORE]
    assert rows.labels[0].tolist() == [IGNORE, IGNORE, 33, 34, 35, IGNORE, IGNORE, IGNORE]
    assert rows.lengths.tolist() == [6, 7]
    with pytest.raises(ValueError, match="truncate"):
        plan_rows([9], 8)


def test_packed_rows_do_not_attend_across_chats(tok):
    short = [[{"role": "user", "content": q}, {"role": "assistant", "content": f"<answer>{a}</answer>"}]
             for q, a in [("Who chairs Velor?", "Ilsa"), ("Where is Quarnby?", "Sallow coast"), ("When?", "1788")]]
    examples = encode_records(short, tok, 64)
    rows = pack(examples, 128, tok.pad_token_id)
    model = build_model("nano", tok, seed=0, **TINY).eval()
    row = 0
    ids, pos = rows.input_ids[row:row + 1], rows.position_ids[row:row + 1]
    n = int(rows.lengths[row])
    starts = [s for s in (pos[0] == 0).nonzero().flatten().tolist() if s < n]  # padding starts at n
    assert len(starts) >= 3  # several chats share the row
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]  # as in training
        for s, e in zip(starts, [*starts[1:], n], strict=True):
            alone = model(input_ids=ids[:, s:e]).logits[0]
            assert torch.allclose(packed[s:e], alone, atol=1e-5)


def test_truncation_and_dropping(tok, chats):
    stats = DataStats()
    only_prompt = [{"role": "system", "content": "x " * 200}, {"role": "user", "content": "q"},
                   {"role": "assistant", "content": "a"}]
    out = encode_records([chats[0], only_prompt], tok, SEQ, stats)
    assert stats.truncated == 2 and stats.dropped == 1 and len(out) == 1 and len(out[0]) == SEQ


def test_lr_schedule():
    cfg = SFTConfig(out_dir="x", lr=1.0, min_lr=0.1, warmup_steps=4)
    assert [lr_at(s, cfg, 20) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(4, cfg, 20) == pytest.approx(1.0)
    assert lr_at(12, cfg, 20) == pytest.approx(0.55)
    assert lr_at(20, cfg, 20) == pytest.approx(0.1)
    # WebSailor's RFT defaults for a model directory.
    hf = SFTConfig(out_dir="x", model="/some/Qwen2.5-7B").resolved()
    assert (hf.batch_size, hf.lr, hf.weight_decay, hf.min_lr) == (32, 5e-6, 0.1, 1e-10)


def test_data_order_is_a_function_of_step():
    seen = [r for s in range(5) for r in step_rows(s, 7, 3, seed=1)]
    assert sorted(seen[:7]) == list(range(7))  # the first epoch is a permutation
    assert step_rows(3, 7, 3, seed=1) == step_rows(3, 7, 3, seed=1)


# --- training ---------------------------------------------------------------------------------


def test_one_sft_step_reduces_loss_on_a_fixed_batch(tok, tok_dir, data_file, tmp_path):
    from webagent.train.sft import _loss_module, prepare_data

    cfg = _cfg(tmp_path / "one", data_file, tok_dir, max_steps=1, warmup_steps=0, lr=1e-2, eval_fraction=0.0)
    rows, _, _ = prepare_data(cfg.resolved(), tok)
    cfg.batch_size = cfg.micro_batch_size = len(rows)  # the step sees every row: a fixed batch

    def loss_of(model):
        with torch.no_grad():
            total = _loss_module()(model)(rows.input_ids, rows.labels, rows.position_ids)
        return float(total) / int((rows.labels != IGNORE).sum())

    before = loss_of(build_model("nano", tok, seed=cfg.seed, dtype=torch.float32, **TINY))
    result = train_sft(cfg)
    from transformers import AutoModelForCausalLM

    after = loss_of(AutoModelForCausalLM.from_pretrained(tmp_path / "one"))
    assert result.steps == 1 and result.train_loss == pytest.approx(before, rel=1e-4)
    assert after < before - 0.05
    assert (tmp_path / "one" / "tokenizer.json").is_file()  # a complete save_pretrained directory


def test_lm_objective_trains_every_token_and_sft_only_the_assistant(tok, tok_dir, data_file, tmp_path):
    from webagent.train.sft import prepare_data

    sft_rows, _, sft = prepare_data(_cfg(tmp_path, data_file, tok_dir, eval_fraction=0.0).resolved(), tok)
    lm_rows, _, lm = prepare_data(_cfg(tmp_path, data_file, tok_dir, eval_fraction=0.0, objective="lm").resolved(), tok)
    assert torch.equal(sft_rows.input_ids, lm_rows.input_ids)  # same rows, only the targets differ
    assert lm.trained_tokens == lm.tokens - lm.chats  # every token but each chat's first is a target
    assert sft.trained_tokens < lm.trained_tokens / 2
    with pytest.raises(ValueError, match="objective"):
        _cfg(tmp_path, data_file, tok_dir, objective="rl").resolved()


def test_resume_equals_uninterrupted_training(tok_dir, data_file, tmp_path):
    full = train_sft(_cfg(tmp_path / "full", data_file, tok_dir))
    half = train_sft(_cfg(tmp_path / "split", data_file, tok_dir, halt_after=2))
    assert half.steps == 2 and not (tmp_path / "split" / "model.safetensors").exists()
    assert latest_checkpoint(tmp_path / "split").name == "step-00000002"
    # A crash mid-save leaves a .tmp directory: resume must ignore it.
    (tmp_path / "split" / "checkpoints" / ".step-00000004.tmp").mkdir()
    # A kill after step 3 was logged but before its checkpoint: step 3 is trained and logged again,
    # once; a torn last line goes too.
    with (tmp_path / "split" / "train_log.jsonl").open("a") as f:
        f.write(json.dumps({"step": 3, "loss": -1.0}) + "\n" + '{"step": 4, "lo')
    rest = train_sft(_cfg(tmp_path / "split", data_file, tok_dir))
    assert rest.steps == full.steps == 4 and rest.eval_loss == full.eval_loss
    a, b = params(tmp_path / "full"), params(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    logs = [json.loads(line) for line in (tmp_path / "split" / "train_log.jsonl").read_text().splitlines()]
    full_logs = [json.loads(line) for line in (tmp_path / "full" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3, 4]
    assert [r["loss"] for r in logs] == [r["loss"] for r in full_logs]
    ckpts = sorted(p.name for p in (tmp_path / "split" / "checkpoints").glob("step-*"))
    assert ckpts == ["step-00000002", "step-00000004"]  # keep_checkpoints=2


def test_ctrl_c_checkpoints_the_finished_step_and_resume_completes(tok_dir, data_file, tmp_path, monkeypatch):
    """The first Ctrl-C lets the step in progress finish, checkpoints it and stops; a rerun goes on
    from there and logs every step once."""
    import os
    import signal

    from webagent.train import sft

    real_step = sft._Loop.step

    def step(self, n):  # Ctrl-C arrives in the middle of step 3
        if n == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self, n)

    monkeypatch.setattr(sft._Loop, "step", step)
    # The handler in place before (Python's default, or "ignore" when a shell started the suite in
    # the background) is the one that must come back.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train_sft(_cfg(tmp_path, data_file, tok_dir, max_steps=6, save_every=100))
    assert latest_checkpoint(tmp_path).name == "step-00000003"
    assert not (tmp_path / "model.safetensors").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    monkeypatch.setattr(sft._Loop, "step", real_step)
    rest = train_sft(_cfg(tmp_path, data_file, tok_dir, max_steps=6, save_every=100))
    assert rest.steps == 6 and (tmp_path / "model.safetensors").exists()
    steps = [json.loads(line)["step"] for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_time_budget_ends_the_run_with_a_saved_policy(tok_dir, data_file, tmp_path):
    res = train_sft(_cfg(tmp_path, data_file, tok_dir, max_seconds=0.0))
    assert res.steps == 1  # the first step already spends the budget
    assert (tmp_path / "model.safetensors").exists()  # saved as a finished run
    assert latest_checkpoint(tmp_path).name == "step-00000001"
    assert len((tmp_path / "train_log.jsonl").read_text().splitlines()) == 1


def test_bad_data_gets_a_clear_error(tok_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}]}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        train_sft(_cfg(tmp_path / "o", bad, tok_dir))
    with pytest.raises(ValueError, match="needs --tokenizer"):
        train_sft(_cfg(tmp_path / "o", bad, None))
    with pytest.raises(FileNotFoundError):
        train_sft(_cfg(tmp_path / "o", tmp_path / "missing.jsonl", tok_dir))


def test_ddp_two_processes_gloo_matches_single_process(tok_dir, data_file, tmp_path):
    """torchrun with two CPU processes (gloo) gives the parameters of one process accumulating."""
    args = ["train", "sft", "--data", str(data_file), "--model", "nano", "--tokenizer", tok_dir,
            "--seq-len", str(SEQ), "--batch-size", "4", "--micro-batch-size", "1", "--lr", "3e-3", "--min-lr", "3e-4",
            "--warmup-steps", "1", "--max-steps", "2", "--eval-fraction", "0.1", "--eval-every", "2",
            "--model-config", json.dumps(TINY), "--quiet"]
    ddp = torchrun_webagent([*args, "--out", str(tmp_path / "ddp"), "--json"])  # the summary as JSON
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    r_ddp = json.loads(ddp.stdout[ddp.stdout.index("{"):])
    # The reference: one process, accumulating 4 micro-batches of 1 row (in-process, same code).
    one = train_sft(_cfg(tmp_path / "one", data_file, tok_dir, micro_batch_size=1, max_steps=2))
    assert r_ddp["steps"] == one.steps == 2
    assert r_ddp["train_loss"] == pytest.approx(one.train_loss, abs=1e-4)
    assert r_ddp["eval_loss"] == pytest.approx(one.eval_loss, abs=1e-4)
    a, b = params(tmp_path / "ddp"), params(tmp_path / "one")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_cli_tokenizer_and_encode(world_dir, tok_dir, data_file, tmp_path, capsys):
    from webagent.cli import main

    assert main(["train", "tokenizer", "--world", str(world_dir), "--out", str(tmp_path / "tok"),
                 "--vocab-size", "512", "--max-chars", "200000"]) == 0
    assert len(load_tokenizer(tmp_path / "tok")) == 512
    assert main(["train", "encode", "--data", str(data_file), "--tokenizer", tok_dir]) == 0
    out = capsys.readouterr().out
    assert "[[<think>" in out and "<|im_end|>]]" in out
    assert "[[<tool_response>" not in out and Path(tok_dir).is_dir()

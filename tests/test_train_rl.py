"""One RL update with a tiny policy on the offline test world: real ReAct rollouts, real tools,
the rule judge; weights change, metrics are logged, rows follow the mask contract, resume is exact."""

from __future__ import annotations

import asyncio
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from _train_helpers import TINY, world_tokenizer  # noqa: E402
from webagent.train.rl import RLConfig, RLTrainer, prefilter_tasks, train_rl  # noqa: E402

SHORT_PROMPT = 'system = "Research assistant. Date {date}."\nuser = "{question}"\n'
WRONG = "May 3"
REPLIES = [f"<think>\nI recall it.\n</think>\n<answer>{a}</answer>" for a in ("1788", WRONG)]


@pytest.fixture(scope="module")
def setup(world, world_dir, tmp_path_factory):
    """A ~0.1M-parameter policy fine-tuned to answer directly, half right and half wrong, so
    that sampling at temperature 1 gives groups with reward spread."""
    from webagent.agents.react import ReactAgent, ReactConfig
    from webagent.train.sft import SFTConfig, train_sft

    root = tmp_path_factory.mktemp("rl")
    prompt = root / "short.toml"
    prompt.write_text(SHORT_PROMPT)
    tok_dir = world_tokenizer(str(world_dir))
    pages = [p for p in world.iter_pages(kind="site")][:2]
    tasks = [{"id": f"t{i}", "question": f"When was {p.title} founded?", "answer": "1788"} for i, p in enumerate(pages)]
    agent = ReactAgent(None, [], ReactConfig(prompt_file=str(prompt), date="2025-01-01"))
    chats = [{"messages": agent.initial_messages(t["question"]) + [
        {"role": "assistant", "content": f"<think>\nI recall it.\n</think>\n<answer>{ans}</answer>"}]}
        for t in tasks for ans in ("1788", WRONG)]
    train_sft(SFTConfig(out_dir=str(root / "sft"), model="nano", tokenizer=tok_dir, model_overrides=TINY, max_steps=60,
                        lr=1e-2, batch_size=4, micro_batch_size=4, seq_len=256, warmup_steps=2, eval_fraction=0.0,
                        progress=False), records=chats)
    return {"root": root, "policy": str(root / "sft"), "prompt": str(prompt), "tasks": tasks, "world": str(world_dir)}


def _cfg(setup, out, **kw):
    base = dict(out_dir=str(out), policy=setup["policy"], world=setup["world"], preset="nano", group_size=4, batch_size=2,
                mini_batch_size=1, max_tokens=40, max_llm_calls=3, concurrency=1, max_observation_chars=200,
                prompt_file=setup["prompt"], lr=1e-3, warmup_steps=0, progress=False, prefilter=False, steps=2)
    base.update(kw)
    return RLConfig(**base)


def _weights(path):
    from transformers import AutoModelForCausalLM

    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(path).state_dict().items()}


def _scripted_local(replies):
    """``rl._local`` whose policy decodes scripted replies instead of sampling: the n-th request
    with a given prompt gets ``replies[n % len(replies)]``. Everything else is the real sampler:
    the policy's own forward passes, its logprobs of those tokens, the real tools and judge. So a
    step sees well-formed replies with reward spread whatever a tiny random model would sample."""
    from collections import Counter

    from webagent.llm.local import LocalConfig, LocalModel

    class Scripted(LocalModel):
        seen: Counter = Counter()

        def _decode_batch(self, batch, stop=None):
            eos = min(self.eos_ids)
            self._script, self._pos = [], 0
            for req in batch:
                key = tuple(req.prompt_ids)
                reply = replies[self.seen[key] % len(replies)]
                self.seen[key] += 1
                self._script.append(self.tokenizer(reply, add_special_tokens=False)["input_ids"] + [eos])
            return super()._decode_batch(batch, stop)

        def _sample(self, logits, temps, top_ps):
            pos, self._pos = self._pos, self._pos + 1
            return torch.tensor([s[min(pos, len(s) - 1)] for s in self._script], device=logits.device)

    def local(model, tokenizer, cfg, device, step):
        lc = LocalConfig(path=cfg.policy, device=str(device), max_batch=max(1, cfg.concurrency),
                         max_new_tokens=cfg.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        return Scripted(lc, model=model, tokenizer=tokenizer)

    return local


@pytest.mark.parametrize("algorithm", ["dupo", "dapo"])
def test_rl_step_changes_weights_and_logs_metrics(setup, algorithm, tmp_path, monkeypatch):
    import webagent.train.rl as rl

    monkeypatch.setattr(rl, "_local", _scripted_local(REPLIES))
    before = _weights(setup["policy"])
    out = tmp_path / algorithm
    result = train_rl(_cfg(setup, out, algorithm=algorithm, steps=1), setup["tasks"])
    assert result.steps == 1
    after = _weights(str(out))  # the final policy, save_pretrained layout
    assert any(not torch.equal(before[k], after[k]) for k in before), "the update did not change the weights"
    log = [json.loads(line) for line in (out / "rl_log.jsonl").read_text().splitlines()]
    rec = log[-1]
    for key in ("clip_low", "clip_high", "ppo_kl", "entropy", "zero_spread", "duplicated", "tool_calls",
                "response_tokens", "turns", "truncated", "reward_format", "reward_answer", "seconds", "logprob_diff"):
        assert key in rec, key
    assert rec["skipped"] == 0 and rec["opt_steps"] == 2 and rec["trained_tokens"] > 0
    # Every reply is well formed and each group holds both answers, half of them right.
    assert rec["reward_format"] == 1 and rec["reward_answer"] == 0.5 and rec["zero_spread"] == 0
    assert rec["entropy"] > 0
    assert rec["logprob_diff"] < 1e-4  # sampler and trainer agree on the behaviour logprobs
    if algorithm == "dapo":
        assert rec["duplicated"] == 0 and rec["gen_rounds"] >= 1
    assert (out / "checkpoints" / "latest").is_file()
    # Every rollout of the update is kept, readable as a trajectory, with its reward and batch copies.
    rolls = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert len(rolls) == rec["rollouts"] and {r["step"] for r in rolls} == {1}
    assert sum(r["correct"] for r in rolls) / len(rolls) == rec["reward_answer"]
    assert all(r["steps"] and r["question"] and r["reward"]["format"] == 1 for r in rolls)
    assert not any("token_ids" in s or "logprobs" in s for r in rolls for s in r["steps"])
    assert sum({r["group"]: r["copies"] for r in rolls}.values()) == 2  # the batch: 2 groups


def test_grounded_rollouts_train_on_policy(setup, tmp_path):
    """With grounded decoding the sampler draws from a constrained distribution; the trainer scores
    each token among the same allowed tokens, so its logprobs match the sampler's."""
    out = tmp_path / "grounded"
    train_rl(_cfg(setup, out, algorithm="grpo", steps=1, grounding="all"), setup["tasks"])
    rec = [json.loads(line) for line in (out / "rl_log.jsonl").read_text().splitlines()][-1]
    assert rec["trained_tokens"] > 0 and rec["entropy"] > 0
    assert rec["logprob_diff"] < 1e-4
    with pytest.raises(ValueError, match="unknown grounded value"):
        _cfg(setup, out, grounding="urls").resolved()


def test_each_task_rolls_out_on_the_world_it_names(setup, world_dir, tmp_path):
    """A pool drawn from several worlds: every episode gets the tools of its own task's world,
    each world is opened once, and the trainer closes what it opened."""
    import shutil

    from webagent.tools.toolbox import Toolbox, WebConfig

    other = tmp_path / "other-world"
    shutil.copytree(world_dir, other)
    tasks = [{**setup["tasks"][0], "world": str(world_dir)}, {**setup["tasks"][1], "world": str(other)}]
    opened: dict[str, Toolbox] = {}

    def open_toolbox(world):
        assert world not in opened
        opened[world] = Toolbox(WebConfig(web="offline", world=world))
        return opened[world]

    cfg = _cfg(setup, tmp_path / "out", world=None, algorithm="grpo").resolved()

    async def go():
        trainer = RLTrainer(cfg, tasks, toolbox=open_toolbox)
        from webagent.train.rl import _local

        local = _local(trainer.model, trainer.tokenizer, cfg, trainer.device, 0)
        try:
            served = {t["world"]: trainer._tools(t) for t in tasks}
            groups = await trainer.rollout_groups(tasks, local)
        finally:
            await local.aclose()
            await trainer.aclose()
        return served, groups

    served, groups = asyncio.run(go())
    assert set(opened) == {str(world_dir), str(other)}
    for world, tools in served.items():  # the tools are the world's own toolbox's
        assert [t.name for t in tools] == ["search", "visit"]
        assert tools[0] is opened[world].search and tools[1] is opened[world].visit
    assert [len(g.rollouts) for g in groups] == [4, 4]
    with pytest.raises(Exception, match="closed"):  # closed with its toolbox
        opened[str(other)].world._con.execute("select 1")


def test_rollout_rows_follow_the_mask_contract(setup, world, tmp_path):
    from webagent.tools.toolbox import Toolbox, WebConfig
    from webagent.train.masking import encode_trajectory

    cfg = _cfg(setup, tmp_path).resolved()

    async def go():
        async with Toolbox(WebConfig(web="offline"), world=world) as tb:
            trainer = RLTrainer(cfg, setup["tasks"], toolbox=tb)
            local = _scripted_local(REPLIES)(trainer.model, trainer.tokenizer, cfg, trainer.device, 0)
            try:
                return await trainer.rollout_groups(setup["tasks"], local), trainer.tokenizer
            finally:
                await local.aclose()

    groups, tok = asyncio.run(go())
    rollouts = [r for g in groups for r in g.rollouts]
    assert len(rollouts) == 8
    single = 0
    for r in rollouts:
        steps = r.trajectory.steps
        # Every sampled id is trained exactly once, with the sampler's logprob.
        trained = [t for row in r.rows for t, m in zip(row.input_ids, row.loss_mask, strict=True) if m]
        assert trained == [t for s in steps for t in s.token_ids]
        olds = [lp for row in r.rows for lp, m in zip(row.old_logprobs, row.loss_mask, strict=True) if m]
        assert olds == [lp for s in steps for lp in s.logprobs]
        if len(r.rows) == 1 and r.trajectory.termination == "answer":
            enc = encode_trajectory(r.trajectory, tok)  # the mask contract on the same episode
            row = r.rows[0]
            assert enc.input_ids[:len(row)] == row.input_ids and enc.loss_mask[:len(row)] == row.loss_mask
            single += 1
    assert single == len(rollouts)  # every scripted reply answers at once


def test_prefilter_and_resume_equals_uninterrupted(setup, tmp_path, capsys):
    res = prefilter_tasks(_cfg(setup, tmp_path / "pf", group_size=4, progress=True), setup["tasks"])
    assert sorted(t["id"] for t in res.kept + res.all_correct) == ["t0", "t1"]
    assert all(t in res.kept for t in res.all_wrong)  # flagged, kept without drop_all_wrong
    bar = capsys.readouterr().err  # its progress: every episode counted, with the share solved
    assert "pre-filter" in bar and "8/8" in bar and "correct" in bar

    whole = train_rl(_cfg(setup, tmp_path / "whole"), setup["tasks"])
    part = _cfg(setup, tmp_path / "part", halt_after=1)
    first = train_rl(part, setup["tasks"])
    assert first.steps == 1 and not (tmp_path / "part" / "model.safetensors").exists()
    for log in ("rl_log.jsonl", "rollouts.jsonl"):  # logged, then killed before its save
        with (tmp_path / "part" / log).open("a") as f:
            f.write(json.dumps({"step": 2, "reward": -1.0}) + "\n")
    second = train_rl(_cfg(setup, tmp_path / "part"), setup["tasks"])
    assert whole.steps == second.steps == 2
    a, b = _weights(str(tmp_path / "whole")), _weights(str(tmp_path / "part"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_a = (tmp_path / "whole" / "rl_log.jsonl").read_text().splitlines()
    log_b = (tmp_path / "part" / "rl_log.jsonl").read_text().splitlines()
    strip = lambda r: {k: v for k, v in json.loads(r).items() if not k.endswith("seconds")}  # noqa: E731
    assert [strip(r) for r in log_a] == [strip(r) for r in log_b]
    assert [json.loads(r)["step"] for r in log_b] == [1, 2]  # no step twice after the resume
    key = lambda r: (r["step"], r["group"], r["task_id"], r["answer"], r["reward"]["total"])  # noqa: E731
    rolls_a, rolls_b = ([key(json.loads(r)) for r in (tmp_path / d / "rollouts.jsonl").read_text().splitlines()]
                        for d in ("whole", "part"))
    assert rolls_a == rolls_b and [r[0] for r in rolls_b] == [1] * 8 + [2] * 8


def test_resume_with_drop_all_wrong_drops_the_saved_never_solved(setup, tmp_path):
    """A run resumed with drop_all_wrong trains only on questions its pre-filter saw solved."""
    out = tmp_path / "resumed"
    out.mkdir()
    (out / "prefilter.json").write_text(json.dumps({"summary": {"kept": 2, "all_correct": 0, "all_wrong": 1},
                                                    "kept_ids": ["t0", "t1"], "all_correct_ids": [],
                                                    "all_wrong_ids": ["t1"]}))
    res = train_rl(_cfg(setup, out, prefilter=True, drop_all_wrong=True, steps=1, batch_size=2), setup["tasks"])
    rolled = {json.loads(r)["task_id"] for r in (out / "rollouts.jsonl").read_text().splitlines()}
    assert rolled == {"t0"} and res.prefilter["kept"] == 1
    with pytest.raises(ValueError, match="left no question"):
        (out / "prefilter.json").write_text(json.dumps({"summary": {}, "kept_ids": ["t1"], "all_wrong_ids": ["t1"]}))
        train_rl(_cfg(setup, out, prefilter=True, drop_all_wrong=True, steps=2), setup["tasks"])


def test_ctrl_c_during_rollouts_checkpoints_the_finished_updates(setup, tmp_path, monkeypatch):
    """Ctrl-C while update 2 rolls out (no checkpoint due yet): update 1 is saved, and the resumed
    run ends where an uninterrupted one does."""
    from webagent.train.rl import RLTrainer

    whole = train_rl(_cfg(setup, tmp_path / "whole", save_every=5), setup["tasks"])
    real_collect = RLTrainer.collect

    async def collect(self, local):
        if self.step_no == 1:
            raise KeyboardInterrupt
        return await real_collect(self, local)

    monkeypatch.setattr(RLTrainer, "collect", collect)
    with pytest.raises(KeyboardInterrupt):
        train_rl(_cfg(setup, tmp_path / "part", save_every=5), setup["tasks"])
    assert (tmp_path / "part" / "checkpoints" / "step-00000001").is_dir()
    monkeypatch.setattr(RLTrainer, "collect", real_collect)
    rest = train_rl(_cfg(setup, tmp_path / "part", save_every=5), setup["tasks"])
    assert whole.steps == rest.steps == 2
    a, b = _weights(str(tmp_path / "whole")), _weights(str(tmp_path / "part"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [json.loads(r)["step"] for r in (tmp_path / "part" / "rl_log.jsonl").read_text().splitlines()] == [1, 2]


def test_cli_rl_runs_grpo_and_rejects_bad_tasks(setup, tmp_path, capsys):
    from webagent.cli import main

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in setup["tasks"]))
    out = tmp_path / "cli"
    argv = ["train", "rl", "--policy", setup["policy"], "--tasks", str(tasks), "--out", str(out), "--preset", "nano",
            "--algorithm", "grpo", "--group-size", "2", "--batch-size", "2", "--mini-batch-size", "2", "--steps", "1",
            "--max-tokens", "24", "--max-llm-calls", "2", "--concurrency", "1", "--prompt-file", setup["prompt"],
            "--world", setup["world"], "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("out dir")  # a short table; the whole summary in a file
    printed = json.loads((out / "rl_summary.json").read_text())
    assert printed["steps"] == 1 and printed["prefilter"] is None and (out / "model.safetensors").is_file()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no gold"}\n')
    bad_argv = [str(bad) if a == str(tasks) else str(tmp_path / "bad-out") if a == str(out) else a for a in argv]
    assert main(bad_argv) != 0
    assert "needs a 'question' and an 'answer'" in capsys.readouterr().err


def test_cli_rl_rolls_out_in_the_policys_own_runtime(setup, tmp_path, capsys):
    """A policy directory with a runtime file (as the pipeline writes) is rolled out with its
    prompt, caps and grounding; options given on the command line still win."""
    import shutil

    from webagent.checkpoints import AgentRuntime
    from webagent.cli import main

    policy = tmp_path / "policy"
    shutil.copytree(setup["policy"], policy)
    AgentRuntime(prompt_file=setup["prompt"], search_k=2, max_llm_calls=2, max_tokens=20, max_observation_chars=300,
                 grounding="format").save(policy)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in setup["tasks"]))
    out = tmp_path / "cli"
    argv = ["train", "rl", "--policy", str(policy), "--tasks", str(tasks), "--out", str(out), "--preset", "nano",
            "--algorithm", "grpo", "--group-size", "2", "--batch-size", "2", "--mini-batch-size", "2", "--steps", "1",
            "--max-tokens", "24", "--concurrency", "1", "--world", setup["world"], "--quiet"]
    assert main(argv) == 0
    used = json.loads((out / "rl_config.json").read_text())
    assert used["prompt_file"] == setup["prompt"] and used["max_llm_calls"] == 2 and used["max_observation_chars"] == 300
    assert used["grounding"] == "format" and used["max_tokens"] == 24  # the option wins over the runtime's 20
    log = [json.loads(line) for line in (out / "rl_log.jsonl").read_text().splitlines()]
    assert log[-1]["logprob_diff"] < 1e-4


def test_dupo_copies_are_trained_once_with_the_same_update():
    """A group DUPO put in the batch twice is computed once at weight 2: the update equals the one
    on two separate copies of the group, and the batch costs one forward pass fewer."""
    import copy
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM

    from webagent.train.grpo import Group
    from webagent.train.models import preset_config
    from webagent.train.rl import RLConfig, Updater
    from webagent.train.rollout import Row

    gen = torch.Generator().manual_seed(0)

    def group(seed):
        rollouts = []
        for k in range(3):
            ids = torch.randint(5, 200, (12 + 3 * k,), generator=gen).tolist()
            mask = [0] * 5 + [1] * (len(ids) - 5)
            row = Row(ids, mask, [-2.0 - 0.1 * k if m else 0.0 for m in mask], [None] * len(ids))
            rollouts.append(SimpleNamespace(rows=[row]))
        return Group({"id": seed}, [1.0, 0.0, 0.0], [True, False, False], rollouts)

    g1, g2 = group(1), group(2)

    def fresh():
        torch.manual_seed(0)
        return AutoModelForCausalLM.from_config(preset_config("nano", 256, **TINY))

    def run(batch):
        model = fresh()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        cfg = RLConfig(out_dir="unused", policy="unused", batch_size=3, mini_batch_size=3, micro_batch_size=1)
        calls = []
        up = Updater(model, opt, cfg, torch.device("cpu"))
        real = up._micro
        up._micro = lambda samples, n, sums: calls.append(len(samples)) or real(samples, n, sums)
        stats = up.update(batch)
        return model.state_dict(), stats, len(calls)

    shared, s_stats, s_calls = run([g1, g1, g2])
    separate, c_stats, c_calls = run([g1, copy.deepcopy(g1), g2])
    assert s_calls == 6 and c_calls == 9  # one micro-batch per unique row
    for k in shared:
        assert torch.allclose(shared[k], separate[k], atol=1e-6), k
    assert s_stats["trained_tokens"] == c_stats["trained_tokens"]
    assert s_stats["ppo_kl"] == pytest.approx(c_stats["ppo_kl"], rel=1e-5)
    before = fresh().state_dict()
    assert any(not torch.equal(shared[k], before[k]) for k in shared)

"""The from-scratch pipeline end to end (tiny preset), its pieces, and the shipped checkpoint."""

from __future__ import annotations

import asyncio
import json

import pytest

from webagent import protocol as P
from webagent.checkpoints import RUNTIME_FILE, AgentRuntime, find_checkpoint, load_runtime
from webagent.train.pipeline import (
    ARMS,
    STAGES,
    _questions,
    _stratified,
    grounding_problem,
    make_config,
    planned_stages,
    run_pipeline,
    ship_checkpoint,
)
from webagent.trajectory import LLM_CALLS

pytest.importorskip("torch")
pytest.importorskip("transformers")


# --- pieces --------------------------------------------------------------------------------------

def _record(visit_url: str, answer: str, shown: str) -> dict:
    call = P.format_assistant("look", [P.ToolCall("visit", {"url": [visit_url], "goal": "g"})])
    return {"answer": answer, "qa": {"aliases": []}, "messages": [
        {"role": "system", "content": f"never counts: {visit_url} {answer}"},
        {"role": "user", "content": "Question?"},
        {"role": "assistant", "content": P.format_assistant("search", [P.ToolCall("search", {"query": ["q"]})])},
        {"role": "user", "content": f"<tool_response>\n{shown}\n</tool_response>"},
        {"role": "assistant", "content": call},
        {"role": "user", "content": "<tool_response>\nThe chair is Jia Song.\n</tool_response>"},
        {"role": "assistant", "content": P.format_assistant("done", None, answer)}]}


def test_grounding_keeps_copyable_trajectories_only():
    url = "http://www.x.test/a/"
    assert grounding_problem(_record(url, "Jia Song", f"1. [A]({url})")) is None
    assert grounding_problem(_record(url, "Jia Song", "1. [B](http://www.x.test/b/)")) == "visited URL not shown before"
    assert grounding_problem(_record(url, "Li Wei", f"1. [A]({url})")) == "answer not in any observation"


def test_stratified_spreads_over_cells():
    pool = [{"id": f"{t}{d}{i}", "info": {"type": t, "difficulty_level": d}}
            for t in ("single_source", "multi_source") for d in ("easy", "hard") for i in range(10)]
    picked = _stratified(pool, 8, "s")
    cells = {(p["info"]["type"], p["info"]["difficulty_level"]) for p in picked}
    assert len(picked) == 8 and len(cells) == 4
    assert _stratified(pool, 8, "s") == picked  # deterministic


def test_config_refuses_training_on_the_eval_seed():
    cfg = make_config("tiny", "/tmp/x", train_seeds=(5, 6), eval_seed=6)
    with pytest.raises(ValueError, match="held-out"):
        cfg.validate()
    with pytest.raises(ValueError, match="unknown pipeline preset"):
        make_config("huge", "/tmp/x")
    with pytest.raises(ValueError, match="unknown pipeline settings"):
        make_config("tiny", "/tmp/x", sft_stepz=3)


def test_sft_lr_follows_the_model_unless_given():
    assert make_config("nano-copy", "/tmp/x").sft_lr == 3e-3
    assert make_config("nano-copy", "/tmp/x", model="micro").sft_lr == 1e-3  # not nano's rate for a bigger model
    assert make_config("nano", "/tmp/x", model="/models/qwen").sft_lr == 5e-6  # WebSailor's RFT rate
    assert make_config("nano", "/tmp/x", model="micro", sft_lr=2e-3).sft_lr == 2e-3


@pytest.mark.timeout(120)
def test_rl_worlds_give_the_rl_pool(tmp_path):
    out = tmp_path / "rl-worlds"
    run_pipeline(make_config("tiny", str(out), progress=False, rl_seeds=(13,), rl_questions=3), stages=("worlds", "qa"))
    rl = [json.loads(line) for line in (out / "qa" / "rl_tasks.jsonl").read_text().splitlines()]
    sft = [json.loads(line) for line in (out / "qa" / "sft_tasks.jsonl").read_text().splitlines()]
    assert len(rl) == 3 and all(t["world"] == str(out / "worlds" / "rl-13") and t["id"].startswith("r13-") for t in rl)
    assert (out / "worlds" / "rl-13" / "manifest.json").is_file()
    # the train world keeps all its questions: none is held out for RL
    assert len(sft) == len(_questions(out / "worlds" / "train-11", 11, 40)) > 0
    with pytest.raises(ValueError, match="RL seeds \\[12\\]"):
        make_config("tiny", str(tmp_path / "x"), rl_seeds=(12,)).validate()


def test_runtime_round_trip_and_errors(tmp_path):
    rt = AgentRuntime(prompt_file="react_compact.toml", search_k=3, evidence_chars=400)
    rt.save(tmp_path)
    back = load_runtime(tmp_path)
    assert back == rt
    assert back.prompt_path().endswith("prompts/react_compact.toml")
    rc = back.react_config(max_llm_calls=4)
    assert rc.max_llm_calls == 4 and rc.prompt_file == back.prompt_path()
    assert load_runtime(tmp_path / "nothing") is None
    (tmp_path / RUNTIME_FILE).write_text(json.dumps({"search_k": 3, "bogus": 1}))
    with pytest.raises(ValueError, match="bogus"):
        load_runtime(tmp_path)


# --- end to end ----------------------------------------------------------------------------------

def test_results_title_names_a_model_directory_without_the_machines_path():
    from webagent.train.pipeline import render_results

    cfg = make_config("nano", "x", model="/tmp/pl/x4/sft")
    table = {"columns": [], "rows": {}, "rl_gain_harder_points": {}}
    title = render_results(table, cfg, {}).splitlines()[0]
    assert title == "# Pipeline results (nano: model sft (model directory))" and "/tmp" not in title
    assert render_results(table, make_config("nano", "x"), {}).startswith("# Pipeline results (nano: model nano)")


def test_presets_plan_their_stages():
    nano, copy = make_config("nano", "x"), make_config("nano-copy", "x", rl_algorithms=("dupo",))
    assert "copy" not in planned_stages(nano) and nano.sft_copy_rows == 0
    assert planned_stages(copy) == ("worlds", "qa", "trajectories", "tokenizer", "copy", "sft", "rl-dupo", "eval", "report")
    assert copy.copy_steps > 0 and copy.sft_copy_rows > 0
    with pytest.raises(ValueError, match="unknown pipeline preset"):
        make_config("huge", "x")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline") / "tiny"
    table = run_pipeline(make_config("tiny", str(out), progress=False, device="cpu"))
    return out, table


def test_drop_all_wrong_reaches_dupo_pre_filter(tiny_run, tmp_path):
    """--drop-all-wrong: the pre-filter also drops never-solved questions; the tiny model solves none."""
    import shutil
    from dataclasses import replace

    from webagent.train.pipeline.config import load_config
    from webagent.train.pipeline.run import Run
    from webagent.train.pipeline.training import stage_rl

    out, _ = tiny_run
    copy = tmp_path / "tiny"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("rl-*", "eval", "report"))
    cfg = replace(load_config(str(out)), out=str(copy), progress=False)
    assert json.loads((out / "rl-dupo" / "prefilter.json").read_text())["summary"]["all_wrong"] > 0
    with pytest.raises(ValueError, match="pre-filter left no question"):
        stage_rl(Run(replace(cfg, rl_drop_all_wrong=True)), "dupo")
    assert json.loads((copy / "rl-dupo" / "rl_config.json").read_text())["drop_all_wrong"] is True
    # the saved result is the pre-filter's own (flag-free): a resume without the flag can use it
    saved = json.loads((copy / "rl-dupo" / "prefilter.json").read_text())
    assert saved["all_wrong_ids"] and set(saved["all_wrong_ids"]) <= set(saved["kept_ids"])


@pytest.mark.timeout(300)
def test_tiny_pipeline_produces_every_stage_and_the_table(tiny_run):
    out, table = tiny_run
    for stage in STAGES:
        assert (out / stage / "done.json").is_file(), stage
    for f in ("worlds/train-11/manifest.json", "worlds/eval-12/manifest.json", "qa/sft_tasks.jsonl", "qa/eval.jsonl",
              "trajectories/sft.jsonl", "tokenizer/tokenizer.json", "copy/model.safetensors", "sft/model.safetensors", f"sft/{RUNTIME_FILE}",
              "rl-dapo/rl_log.jsonl", "rl-dupo/rl_log.jsonl", "report/results.md", "report/sft_loss.png"):
        assert (out / f).is_file(), f
    assert set(table["rows"]) == set(ARMS) - {"vanilla"}  # a model trained from scratch has no base to ask
    assert table["rows"]["sft"]["overall"]["n"] == 6
    assert "SFT + DUPO" in (out / "report" / "results.md").read_text()
    # The held-out questions come from the eval world only.
    eval_ids = {json.loads(line)["id"] for line in (out / "qa" / "eval.jsonl").read_text().splitlines()}
    train_ids = {json.loads(line)["id"] for line in (out / "qa" / "sft_tasks.jsonl").read_text().splitlines()}
    assert eval_ids and not eval_ids & train_ids
    # The agent arms decode as the runtime says (grounded); the direct answer samples freely.
    assert load_runtime(out / "sft").grounding == "all"
    assert json.loads((out / "eval" / "sft" / "config.json").read_text())["grounding"] == "all"
    assert json.loads((out / "eval" / "direct" / "config.json").read_text())["grounding"] is None


@pytest.mark.timeout(120)
def test_a_trained_model_decodes_as_its_runtime_says(tiny_run):
    from argparse import Namespace

    from webagent.agents.cli import _model
    from webagent.eval.runner import EvalConfig

    sft = str(tiny_run[0] / "sft")

    def grounder(agent, grounding):
        args = Namespace(llm="local", agent=agent, model=sft, grounding=grounding, base_url=None,
                         api_key_env="OPENAI_API_KEY", temperature=0.0, top_p=None)
        return _model(args).grounder

    assert grounder("react", None).fields == ("format", "url", "query", "answer", "thought")
    assert grounder("react", "none") is None and grounder("walker", None) is None
    assert grounder("react", "url").fields == ("url",)
    cfg = EvalConfig(benchmark="b.jsonl", llm="local", model=sft)
    assert cfg.resolved().grounding == "all" and cfg.resolved().policy_label().endswith("grounded decoding (all)")
    free = EvalConfig(benchmark="b.jsonl", llm="local", model=sft, grounding="none").resolved()
    assert free.grounding == "none" and "grounded" not in free.policy_label()
    assert EvalConfig(benchmark="b.jsonl", llm="local", model=sft, agent="direct").resolved().grounding is None


@pytest.mark.timeout(120)
def test_resume_skips_finished_stages(tiny_run):
    out, _ = tiny_run
    before = {s: (out / s / "done.json").read_text() for s in STAGES if s not in ("worlds", "report")}
    manifest = out / "worlds" / "train-11" / "manifest.json"
    built_at = manifest.stat().st_mtime_ns
    run_pipeline(make_config("tiny", str(out), progress=False, device="cpu"))
    log = (out / "pipeline.log").read_text()
    for stage, text in before.items():
        assert f"stage {stage}: done, skipped" in log
        assert (out / stage / "done.json").read_text() == text
    assert manifest.stat().st_mtime_ns == built_at  # the worlds stage re-checks, never rebuilds


@pytest.mark.timeout(120)
def test_ship_copies_a_loadable_checkpoint(tiny_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = tiny_run
    dest = ship_checkpoint(out, tmp_path / "ship", "sft")
    card = json.loads((dest / "webagent_card.json").read_text())
    assert card["arm"] == "sft" and "trained from scratch" in card["label"]
    assert load_runtime(dest).search_k == 3
    readme = (dest / "README.md").read_text()
    assert "| grounded decoding | all |" in readme
    assert "| temperature | one answer (`webagent run`, the demo, the UI): greedy; evaluation: 0.6, top-p 0.95 |" in readme
    model = AutoModelForCausalLM.from_pretrained(str(dest))
    tok = AutoTokenizer.from_pretrained(str(dest))
    assert model.get_input_embeddings().num_embeddings >= len(tok)
    # the preset's own settings: the card redoes it with the preset
    assert card["beyond_preset"] == [] and not (dest / "lineage").exists()
    assert "webagent pipeline --preset tiny --out runs/ship --ship checkpoints/ship\n" in (dest / "README.md").read_text()


def test_a_run_with_settings_beyond_its_preset_ships_them(tiny_run, tmp_path):
    """`--rl-steps 2 --drop-all-wrong` on top of a preset: the card's command must redo those too."""
    import shutil

    out, _ = tiny_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    cfg = json.loads((run / "pipeline_config.json").read_text())
    (run / "pipeline_config.json").write_text(json.dumps({**cfg, "out": str(run), "rl_steps": 2, "rl_drop_all_wrong": True,
                                                          "rl_algorithms": cfg["rl_algorithms"][::-1]}))
    dest = ship_checkpoint(run, tmp_path / "ship", "sft")
    card = json.loads((dest / "webagent_card.json").read_text())
    assert card["beyond_preset"] == ["rl_drop_all_wrong", "rl_steps"]
    shipped = json.loads((dest / "lineage" / "1-pipeline_config.json").read_text())
    assert shipped["rl_steps"] == 2 and shipped["rl_drop_all_wrong"] is True and shipped["out"] == "<run 1>"
    readme = (dest / "README.md").read_text()
    assert "webagent pipeline --config lineage/1-pipeline_config.json --out runs/ship --ship checkpoints/ship\n" in readme
    assert "--preset tiny --out" not in readme
    assert "`webagent pipeline --preset tiny` with its own `rl_drop_all_wrong`, `rl_steps`" in readme


@pytest.mark.timeout(180)
def test_a_run_continued_from_another_ships_its_lineage(tiny_run, tmp_path, capsys):
    """A run whose --model is an earlier run's policy ships both runs' settings, and its card's
    commands (``--config FILE``) start the same runs again."""
    import shutil

    from webagent.cli import main
    from webagent.train.pipeline import lineage, load_config

    first, _ = tiny_run
    second = tmp_path / "second"
    shutil.copytree(first, second)
    cfg = json.loads((second / "pipeline_config.json").read_text())
    (second / "pipeline_config.json").write_text(json.dumps({**cfg, "out": str(second), "model": str(first / "sft")}))
    assert [c.out for c in lineage(load_config(second))] == [str(first)]
    dest = ship_checkpoint(second, tmp_path / "ship", "sft")
    card = json.loads((dest / "webagent_card.json").read_text())
    assert card["lineage"][0]["sft"]["steps"] == 3
    # no path of this machine ships: each run directory is written as the run's place in the lineage
    assert [e["out"] for e in card["lineage"]] == ["<run 1>"] and str(tmp_path) not in json.dumps(card)
    assert card["pipeline"]["out"] == "<run 2>" and card["pipeline"]["model"] == "<run 1>/sft"
    assert json.loads((dest / "lineage" / "1-pipeline_config.json").read_text())["model"] == "nano"
    assert json.loads((dest / "lineage" / "2-pipeline_config.json").read_text())["model"] == "<run 1>/sft"
    readme = (dest / "README.md").read_text()
    # the commands name the runs after the checkpoint directory (here "ship")
    assert "webagent pipeline --config lineage/1-pipeline_config.json --out runs/ship-1\n" in readme
    assert ("webagent pipeline --config lineage/2-pipeline_config.json --model runs/ship-1/sft "
            "--out runs/ship --ship checkpoints/ship") in readme
    # --config takes a run's settings back (here only the report is redone); options override it.
    again = tmp_path / "again"
    shutil.copytree(second, again)
    assert main(["pipeline", "--config", str(dest / "lineage" / "2-pipeline_config.json"), "--model", str(first / "sft"),
                 "--out", str(again), "--stages", "report", "--eval-runs", "1", "--quiet"]) == 0
    redone = load_config(again)
    assert redone.preset == "tiny" and redone.model == str(first / "sft") and redone.out == str(again)
    assert redone.sft_max_steps == 3 and not redone.progress
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sft_steps": 3}))
    assert main(["pipeline", "--config", str(bad), "--out", str(tmp_path / "x"), "--stages", "report"]) != 0
    assert "unknown pipeline settings: ['sft_steps']" in capsys.readouterr().err


# --- the shipped checkpoint ----------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_shipped_checkpoint_runs_the_protocol_on_a_held_out_question(world):
    """The committed checkpoint loads with the Auto classes and runs one episode in the protocol on
    the test world (seed 7: never a training seed): a think, then well-formed search and visit
    calls that the tools carry out, until it answers or its LLM-call budget ends (greedy decoding,
    grounded as its runtime says; the model is below its quality targets, see its card)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webagent.agents.react import ReactAgent
    from webagent.eval.suites import build_suite
    from webagent.llm.local import LocalConfig, LocalModel

    path = find_checkpoint("nano")
    if path is None:
        pytest.skip("no shipped checkpoint in this installation")
    model = AutoModelForCausalLM.from_pretrained(str(path))
    tok = AutoTokenizer.from_pretrained(str(path))
    runtime = load_runtime(path)
    assert runtime is not None and runtime.prompt_file
    card = json.loads((path / "webagent_card.json").read_text())
    assert card["pipeline"]["eval_seed"] not in card["pipeline"]["train_seeds"]
    assert 7 not in card["pipeline"]["train_seeds"]
    task = next(t for t in build_suite(world, "webwalker", seed=7, split="test")
                if t["info"]["type"] == "single_source" and t["info"]["difficulty_level"] == "easy"
                and t["info"]["lang"] == "en")

    async def episode():
        policy = LocalModel(LocalConfig(str(path), device="cpu", temperature=0.0, grounding=runtime.grounding or ()),
                            model=model, tokenizer=tok)
        async with runtime.toolbox(world=world) as tb:
            try:
                return await ReactAgent(policy, tb.react_tools, runtime.react_config(temperature=0.0)).run(task["question"])
            finally:
                await policy.aclose()

    traj = asyncio.run(episode())
    first = traj.steps[0]
    assert first.thought, first.text  # <think> first
    calls = P.parse_reply(first.text).tool_calls
    assert calls and calls[0].ok and calls[0].name == "search", first.text
    names = [a.name for s in traj.steps for a in s.actions]
    assert "visit" in names and all(not P.parse_reply(s.text).errors for s in traj.steps), [s.text for s in traj.steps]
    assert traj.answer is not None or traj.termination == LLM_CALLS, traj.termination


@pytest.mark.timeout(120)
def test_best_policy_is_the_shipped_checkpoint_and_falls_back_saying_why(tiny_run, tmp_path, monkeypatch, capsys):
    import webagent.checkpoints as C
    from webagent.demo import best_policy

    out, _ = tiny_run
    dest = ship_checkpoint(out, tmp_path / "ship", "sft")
    monkeypatch.setattr(C, "find_checkpoint", lambda name=C.SHIPPED_POLICY: dest)
    monkeypatch.setenv("WEBAGENT_POLICY", "auto")
    policy, label = best_policy()
    assert "trained from scratch" in label and policy.config.path == str(dest)
    monkeypatch.setenv("WEBAGENT_POLICY", "baseline")
    assert best_policy()[1].startswith("rule-based baseline")
    assert "WEBAGENT_POLICY=baseline" in capsys.readouterr().out  # the fallback says why
    monkeypatch.setenv("WEBAGENT_POLICY", "auto")
    monkeypatch.setattr(C, "find_checkpoint", lambda name=C.SHIPPED_POLICY: None)
    assert best_policy()[1].startswith("rule-based baseline")
    assert "no shipped checkpoint" in capsys.readouterr().out

import json

from webagent import protocol as P
from webagent.cli import main
from webagent.eval.suites import build_suite
from webagent.llm.base import Completion
from webagent.llm.scripted import ScriptedModel
from webagent.trajectories.funnel import FunnelConfig, run_funnel
from webagent.trajectories.records import read_jsonl, thoughts
from webagent.trajectories.sample import SampleConfig, sample
from webagent.trajectories.teachers import LongCoTModel, Teacher, TeacherConfig


def _tasks(world, n=10):
    return build_suite(world, "crawlqa", split="all")[:n]


def test_funnel_end_to_end_on_a_small_world(world, tmp_path):
    tasks = _tasks(world)
    cfg = FunnelConfig(sample=SampleConfig(attempts=2, date="2025-01-01"))
    cfg.selection.min_tool_calls = 3
    report = run_funnel(tasks, tmp_path, cfg, world=world, progress=False)
    names = [s["stage"] for s in report["stages"]]
    assert names == ["sampled", "validity", "correctness", "quality", "dedup", "reconstruct", "rft"]
    counts = [s["trajectories"] for s in report["stages"]]
    assert counts == sorted(counts, reverse=True) and counts[0] >= len(tasks)
    assert report["teacher"]["label"] == "privileged oracle" and report["teacher"]["privileged"]
    sampled = read_jsonl(tmp_path / "sampled.jsonl")
    sft = read_jsonl(tmp_path / "sft.jsonl")
    assert sft and all(r["correct"] and r["rft"]["tool_calls"] >= 3 for r in sft)
    # WebSailor: no thought of the teacher reaches the SFT data.
    originals = {t for r in sampled for t in thoughts(r) if len(t) >= 12}
    blob = (tmp_path / "sft.jsonl").read_text() + (tmp_path / "export" / "sft_sharegpt.json").read_text()
    assert not [t for t in originals if json.dumps(t, ensure_ascii=False)[1:-1] in blob]
    rl = read_jsonl(tmp_path / "rl_pool.jsonl")
    assert {q["id"] for q in rl} == {t["id"] for t in tasks} - {r["qa_id"] for r in sft}
    for rel in report["exports"] + report["plots"]:
        assert (tmp_path / rel).stat().st_size > 0
    md = (tmp_path / "funnel.md").read_text()
    assert "| rft |" in md and "thought tokens / step" in md
    s = report["stats"]["sampled"]
    assert s["trajectories"] == len(sampled) and s["actions_mean"] == s["tool_calls_mean"] + 1  # every one answered


def test_sampling_resumes_and_stops_at_the_first_correct_attempt(world, tmp_path):
    tasks = _tasks(world, 4)
    out = tmp_path / "s.jsonl"

    def reply(messages):  # wrong on the first attempt of every task, right afterwards
        if len(messages) == 2:
            return '<think>look</think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'
        user = messages[1]["content"]
        task = next(t for t in tasks if t["question"] in user)
        tries = sum(1 for c in model.calls if c["messages"][1]["content"] == user and len(c["messages"]) > 2)
        return f"<think>so</think>\n<answer>{'nope' if tries == 1 else task['answer']}</answer>"

    model = ScriptedModel([], default=reply, name="teacher-x")
    teacher = Teacher(TeacherConfig(kind="openai", model="teacher-x"), model=model)
    first = sample(tasks, out, teacher, SampleConfig(attempts=3, concurrency=4), world=world, progress=False)
    assert first.solved == 4 and first.attempts_run == 8 and first.rounds == 2
    recs = read_jsonl(out)
    assert sorted(r["task_id"] for r in recs) == sorted(f"{t['id']}#{k}" for t in tasks for k in (1, 2))
    assert all(r["teacher"]["label"] == "teacher-x (short-CoT, openai)" for r in recs)
    assert "evidence chain" in recs[0]["messages"][1]["content"]  # the short-CoT prompt
    again = sample(tasks, out, teacher, SampleConfig(attempts=3), world=world, progress=False)
    assert again.attempts_run == 0 and again.attempts_total == 8 and len(read_jsonl(out)) == 8


def test_long_cot_teacher_hides_earlier_thoughts_and_records_reasoning(world, tmp_path):
    task = _tasks(world, 1)[0]
    replies = [Completion(text='<tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>',
                          reasoning="Private reasoning one that is long enough."),
               Completion(text=f"<answer>{task['answer']}</answer>", reasoning="Private reasoning two.")]
    inner = ScriptedModel(replies, name="qwq")
    teacher = Teacher(TeacherConfig(kind="openai", mode="long", model="qwq"), model=inner)
    assert isinstance(teacher.model_for(task, 1), LongCoTModel)
    sample([task], tmp_path / "l.jsonl", teacher, SampleConfig(attempts=1), world=world, progress=False)
    (rec,) = read_jsonl(tmp_path / "l.jsonl")
    assert thoughts(rec) == ["Private reasoning one that is long enough.", "Private reasoning two."]
    second_call = inner.calls[1]["messages"]
    assert "Private reasoning one" not in json.dumps(second_call)  # R-WD-21: no earlier thoughts
    assert '"name": "search"' in second_call[2]["content"] and second_call[2]["role"] == "assistant"
    assert rec["teacher"]["mode"] == "long" and rec["correct"]
    assert LongCoTModel.strip_thoughts([{"role": "assistant", "content": "reason</think>\n<answer>a</answer>"}]) == \
        [{"role": "assistant", "content": "<answer>a</answer>"}]
    assert P.parse_reply(rec["messages"][2]["content"]).think.startswith("Private reasoning one")


def test_cli_runs_each_stage_and_the_funnel(world_dir, tmp_path, capsys):
    qa = tmp_path / "qa.jsonl"
    from webagent.world.store import WorldStore

    store = WorldStore(world_dir)
    qa.write_text("".join(json.dumps({**t, "tag": "crawlqa"}) + "\n" for t in build_suite(store, "crawlqa", split="all")[:6]))
    store.close()
    w, d = ["--world", str(world_dir)], tmp_path
    assert main(["traj", "sample", "--qa", str(qa), "--out", str(d / "s.jsonl"), "--quiet", *w]) == 0
    assert main(["traj", "filter", str(d / "s.jsonl"), "--out", str(d / "f.jsonl"), "--rejected", str(d / "r.jsonl")]) == 0
    assert main(["traj", "reconstruct", str(d / "f.jsonl"), "--out", str(d / "c.jsonl")]) == 0
    assert main(["traj", "select", str(d / "c.jsonl"), "--out", str(d / "sft.jsonl"), "--min-tool-calls", "2",
                 "--qa", str(qa), "--rl-pool", str(d / "rl.jsonl")]) == 0
    assert main(["traj", "export", str(d / "sft.jsonl"), "--format", "trl", "--out", str(d / "trl.jsonl")]) == 0
    assert len(read_jsonl(d / "trl.jsonl")) == len(read_jsonl(d / "sft.jsonl")) > 0
    assert len(read_jsonl(d / "sft.jsonl")) + len(read_jsonl(d / "rl.jsonl")) == 6
    assert main(["traj", "funnel", "--qa", str(qa), "--out", str(d / "fun"), "--quiet", "--no-plots",
                 "--min-tool-calls", "2", *w]) == 0
    out = capsys.readouterr().out
    assert "# Trajectory funnel" in out and (d / "fun" / "funnel.json").exists()
    assert main(["traj", "sample", "--qa", str(d / "missing.jsonl"), "--out", str(d / "x.jsonl"), *w]) == 2


def test_an_empty_sft_set_says_why_and_what_to_change(world_dir, tmp_path, capsys):
    """crawlqa's oracle trajectories are short: RFT's default (> 5 tool calls) keeps none of them."""
    qa = tmp_path / "qa.jsonl"
    from webagent.world.store import WorldStore

    store = WorldStore(world_dir)
    tasks = build_suite(store, "crawlqa", split="all")[:6]
    qa.write_text("".join(json.dumps({**t, "tag": "crawlqa"}) + "\n" for t in tasks))
    store.close()
    w = ["--world", str(world_dir)]
    rc = main(["traj", "funnel", "--qa", str(qa), "--out", f"{tmp_path}/fun/", "--quiet", "--no-plots", *w])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "fewer than 6 tool calls" in err and "--min-tool-calls" in err and "--no-rft" in err
    assert "report: " in out and "//" not in out.split("report: ", 1)[1]
    assert "--min-tool-calls" in (tmp_path / "fun" / "funnel.md").read_text()
    # The same records pass with the option the advice names.
    rc = main(["traj", "funnel", "--qa", str(qa), "--out", str(tmp_path / "fun2"), "--quiet", "--no-plots",
               "--min-tool-calls", "1", *w])
    assert rc == 0 and "is empty" not in capsys.readouterr().err
    # Stage by stage: select says the same; an empty QA file is one clear line.
    rc = main(["traj", "select", str(tmp_path / "fun" / "filtered.jsonl"), "--out", str(tmp_path / "s.jsonl")])
    assert rc == 1 and "--min-tool-calls" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["traj", "funnel", "--qa", str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "f3"), *w]) == 2
    assert "no QA items" in capsys.readouterr().err

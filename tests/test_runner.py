import asyncio
import functools
import json
import subprocess
import sys
import textwrap

import pytest

from webagent.agents.react import ReactAgent
from webagent.agents.runner import completed_ids, read_results, run_tasks, task_id
from webagent.jsonl import read_jsonl
from webagent.llm.scripted import ScriptedModel

TASKS = [{"id": f"t{i}", "question": f"question {i}?"} for i in range(10)]


async def answer_episode(task):
    return await ReactAgent(ScriptedModel([f"<answer>{task['id']}</answer>"])).run(task["question"])


def test_runs_all_tasks_and_streams_in_finish_order(tmp_path):
    gate = asyncio.Event()
    seen = []

    async def episode(task):
        if task["id"] == "t0":
            await gate.wait()  # t0 finishes only after t1 has been written
        traj = await answer_episode(task)
        if task["id"] == "t1":
            gate.set()
        return traj

    out = tmp_path / "r.jsonl"
    s = asyncio.run(run_tasks(TASKS[:3], episode, out, concurrency=2, on_result=seen.append))
    assert s.done == 3 and not s.failed
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert ids[0] == "t1" and ids.index("t0") > 0 and sorted(ids) == ["t0", "t1", "t2"]
    assert [r["task_id"] for r in seen] == ids
    assert {t.answer for t in read_results(out)} == {"t0", "t1", "t2"}


def test_concurrency_is_bounded(tmp_path):
    live, peak = 0, 0

    async def episode(task):
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        for _ in range(3):
            await asyncio.sleep(0)
        live -= 1
        return {"answer": task["id"]}

    s = asyncio.run(run_tasks(TASKS, episode, tmp_path / "r.jsonl", concurrency=4))
    assert s.done == 10 and peak == 4


def test_failures_are_recorded_as_failed_episodes_not_retried_forever(tmp_path):
    """An episode that raises would raise again on resume: it is written as a failed episode
    (termination "episode error", judged wrong, the reason kept) and not run again."""
    async def flaky(task):
        if task["id"] == "t2":
            raise RuntimeError("boom")
        return {"answer": "x"}

    out = tmp_path / "r.jsonl"
    seen = []
    s = asyncio.run(run_tasks(TASKS[:4], flaky, out, on_result=seen.append))
    assert s.done == 3 and s.failed == {"t2": "RuntimeError: boom"}
    assert len(seen) == 4  # progress counts the failed episode too
    failed = next(r for r in read_jsonl(out) if r["task_id"] == "t2")
    assert failed["termination"] == "episode error" and failed["correct"] is False
    assert failed["meta"]["error"] == "RuntimeError: boom" and failed["question"] == TASKS[2]["question"]
    s2 = asyncio.run(run_tasks(TASKS[:4] + TASKS[:1], answer_episode, out))
    assert s2.done == 0 and s2.skipped == 5
    assert sorted(completed_ids(out)) == ["t0", "t1", "t2", "t3"]


def test_resume_after_killed_run(tmp_path):
    out = tmp_path / "r.jsonl"
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    script = textwrap.dedent(f"""
        import asyncio, json, os, signal
        from webagent.agents.react import ReactAgent
        from webagent.agents.runner import read_tasks, run_tasks
        from webagent.llm.scripted import ScriptedModel

        async def episode(task):
            if task["id"] == "t4":
                os.kill(os.getpid(), signal.SIGKILL)  # die mid-run, as a crash would
            return await ReactAgent(ScriptedModel(["<answer>" + task["id"] + "</answer>"])).run(task["question"])

        asyncio.run(run_tasks(read_tasks({str(tasks)!r}), episode, {str(out)!r}, concurrency=1))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9
    assert sorted(completed_ids(out)) == ["t0", "t1", "t2", "t3"]
    with open(out, "a") as f:
        f.write('{"task_id": "t4", "answ')  # and a torn write, as a kill during write leaves
    s = asyncio.run(run_tasks(TASKS, answer_episode, out, concurrency=3))
    assert s.done == 6 and s.skipped == 4
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(t["id"] for t in TASKS) and len(ids) == len(set(ids))


def test_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="needs an 'id' or a 'question'"):
        task_id({"answer": 1})
    assert task_id({"question": "q"}) == task_id({"question": "q"}).strip()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\n')
    with pytest.raises(ValueError, match="not a result record"):
        asyncio.run(run_tasks(TASKS, answer_episode, bad))
    assert bad.read_text() == '{"x": 1}\n'  # nothing lost
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(run_tasks(TASKS, answer_episode, tmp_path / "x.jsonl", concurrency=0))


def make_baseline_episode(world_dir):
    """An episode function on the offline world (built inside the Ray worker: tools are per-process)."""
    from webagent.agents.baseline import BaselinePolicy
    from webagent.agents.react import ReactConfig
    from webagent.tools.toolbox import Toolbox, WebConfig

    async def episode(task):
        async with Toolbox(WebConfig(world=world_dir)) as tb:
            agent = ReactAgent(BaselinePolicy(), tb.react_tools, ReactConfig(date="2025-01-01"))
            return await agent.run(task["question"], gold=task.get("answer"))
    return episode


def test_ray_executor_matches_the_asyncio_runner(tmp_path, world, world_dir):
    ray = pytest.importorskip("ray")
    from webagent.agents.runner import RayExecutor

    sites = [p for p in world.iter_pages("site")][:6]
    tasks = [{"id": f"r{i}", "question": f"What is on the page {p.title}?"} for i, p in enumerate(sites)]
    make = functools.partial(make_baseline_episode, str(world_dir))
    asyncio.run(run_tasks(tasks, make(), tmp_path / "local.jsonl", concurrency=3))
    local = {t.task_id: t for t in read_results(tmp_path / "local.jsonl")}
    # The test module is not importable inside Ray workers: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        paths = RayExecutor(make, shards=2, concurrency=3, num_cpus=1).run(tasks, tmp_path / "ray")
    finally:
        ray.shutdown()
    remote = {t.task_id: t for p in paths for t in read_results(p)}
    assert sorted(remote) == sorted(local) == sorted(t["id"] for t in tasks)
    assert all(p.stat().st_size > 0 for p in paths)  # both shards did work
    for tid, t in local.items():
        r = remote[tid]
        assert (r.answer, r.termination, r.messages) == (t.answer, t.termination, t.messages)


def test_trajectory_record_is_what_asdict_gives_and_shares_nothing():
    import dataclasses

    from webagent.trajectory import Action, Step, Trajectory

    traj = Trajectory("q?", messages=[{"role": "user", "content": "hi"}], meta={"a": {"b": [1, (2, 3)]}},
                      gold=["x", {"y": 1}], steps=[Step(0, text="t", token_ids=[5, 6], logprobs=[-0.5],
                                                        actions=[Action("search", {"query": ["a"]}, "obs")])])
    record = traj.to_dict()
    expected = dataclasses.asdict(traj)
    expected["stats"] = record["stats"]
    assert record == expected
    record["meta"]["a"]["b"].append(4)
    record["messages"][0]["content"] = "changed"
    record["steps"][0]["actions"][0]["arguments"]["query"].append("b")
    assert traj.meta == {"a": {"b": [1, (2, 3)]}} and traj.messages[0]["content"] == "hi"
    assert traj.steps[0].actions[0].arguments == {"query": ["a"]}
    assert Trajectory.from_dict(json.loads(json.dumps(record))).steps[0].token_ids == [5, 6]

"""Rejection sampling (R-WD-22): up to N attempts per QA item, many episodes at once, resumable.

Sampling runs in rounds. Round *k* runs attempt *k* of every QA item that has no correct
trajectory yet (``until_correct``, the default), so a solved item costs no further attempts while
the whole round still fills the concurrency. With ``until_correct=False`` all N attempts of every
item run in one round (useful to measure a teacher's pass rate or to keep several trajectories
per item).

Every attempt is one line of the output JSONL (see :mod:`webagent.trajectories.records`), written
by :func:`webagent.agents.runner.run_tasks` as it finishes under the id ``<qa id>#<attempt>``.
Killing the process at any moment and running the same call again resumes: finished attempts are
skipped and nothing is written twice. Each attempt is judged when it finishes (the configured
judge, cached next to the output), which is what decides whether another round is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webagent import aio
from webagent.agents.runner import completed_ids, run_tasks, task_id
from webagent.jsonl import dumps_line, read_jsonl
from webagent.trajectories.records import qa_id
from webagent.trajectories.teachers import Teacher

_QA_KEYS = ("id", "question", "answer", "aliases", "tag", "root_url", "info", "evidence_urls", "hints", "qtype",
            "lang", "difficulty", "hops", "depth", "generator", "oracle_tool_calls", "formalization")


@dataclass
class SampleConfig:
    """How many attempts, how many at once, on which web, judged how."""

    attempts: int = 5
    """Attempts per QA item (N, R-WD-22)."""
    until_correct: bool = True
    """Stop sampling an item once one attempt is judged correct."""
    concurrency: int = 64
    judge: str = "rule"
    """``rule`` or ``llm:<preset>`` (see :mod:`webagent.eval.judges`)."""
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    web: str = "offline"
    world: str | None = None
    web_url: str | None = None
    """Read the offline web through a running ``webagent web serve``."""
    date: str | None = None
    """``Current date`` of the system prompt (default: today)."""
    tool_workers: int = 0
    """Processes that do the tools' CPU work (``WebConfig.tool_workers``); 0 = in the event loop."""

    def validate(self) -> None:
        if self.attempts < 1 or self.concurrency < 1:
            raise ValueError("attempts and concurrency must be at least 1")
        if self.tool_workers < 0:
            raise ValueError(f"tool_workers must be 0 or more, got {self.tool_workers}")
        if self.judge != "rule" and not self.judge.startswith("llm:"):
            raise ValueError(f"unknown judge {self.judge!r}: use 'rule' or 'llm:<preset>'")


@dataclass
class SampleSummary:
    """What a call to :func:`sample` did (also written to ``<out>.summary.json``)."""

    qas: int = 0
    solved: int = 0
    """QA items with at least one correct attempt (in the whole file, resumed ones included)."""
    attempts_run: int = 0
    """Episodes run by this call."""
    attempts_total: int = 0
    """Records in the output file."""
    resumed: int = 0
    rounds: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    teacher: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.attempts_run / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "trajectories_per_second": round(self.per_second, 2),
                "solve_rate": round(self.solved / self.qas, 4) if self.qas else 0.0}


def qa_tasks(records: list[Any]) -> list[dict[str, Any]]:
    """Tasks from QA records (``QARecord`` objects or dicts of the synth / benchmark shape)."""
    tasks = []
    for r in records:
        d = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        if not d.get("question"):
            raise ValueError(f"a QA item has no question: {str(d)[:160]}")
        if d.get("answer") in (None, ""):
            raise ValueError(f"QA item {d.get('id') or d['question'][:60]!r} has no gold answer: rejection "
                             "sampling needs one")
        d["id"] = task_id(d)
        tasks.append(d)
    ids = [t["id"] for t in tasks]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"QA ids are not unique (e.g. {dup!r})")
    return tasks


def make_judge(cfg: SampleConfig) -> Any:
    from webagent.eval.runner import EvalConfig
    from webagent.eval.runner import make_judge as eval_judge

    return eval_judge(EvalConfig(benchmark="-", judge=cfg.judge, judge_model=cfg.judge_model,
                                 judge_base_url=cfg.judge_base_url, judge_api_key_env=cfg.judge_api_key_env))


def _solved(path: Path) -> set[str]:
    """QA ids with a correct attempt in the output file."""
    if not path.exists():
        return set()
    return {qa_id(rec) for rec in read_jsonl(path) if rec.get("correct")}


class _Episode:
    """One attempt: the teacher through the ReAct agent, then the judge."""

    def __init__(self, teacher: Teacher, toolbox: Any, judge: Any, cfg: SampleConfig):
        self.teacher, self.toolbox, self.judge, self.cfg = teacher, toolbox, judge, cfg
        self.react_cfg = teacher.react_config()
        self.react_cfg.date = cfg.date or self.react_cfg.date

    async def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        from webagent.agents.react import ReactAgent

        qa, attempt = task["_qa"], task["_attempt"]
        model = self.teacher.model_for(qa, attempt)
        agent = ReactAgent(model, self.toolbox.react_tools, self.react_cfg, policy=self.teacher.label)
        traj = await agent.run(qa["question"], task_id=task["id"], gold=qa.get("answer"))
        verdict = await self.judge.judge(qa["question"], qa.get("answer"), traj.answer, qa.get("aliases"))
        record = traj.to_dict()
        record.update(qa_id=qa["id"], attempt=attempt, qa={k: qa[k] for k in _QA_KEYS if k in qa},
                      teacher=self.teacher.describe(), correct=verdict.correct, judge=verdict.to_dict())
        return record


def sample(tasks: list[dict[str, Any]], out: str | Path, teacher: Teacher | None = None,
           config: SampleConfig | None = None, **kw: Any) -> SampleSummary:
    """Run (or resume) rejection sampling of ``tasks`` into the JSONL file ``out``; see
    :func:`asample` for the keyword arguments."""
    return aio.run(asample(tasks, out, teacher, config, **kw))


async def asample(tasks: list[dict[str, Any]], out: str | Path, teacher: Teacher | None = None,
                  config: SampleConfig | None = None, *, world: Any = None, judge: Any = None,
                  toolbox: Any = None, progress: bool = True,
                  on_record: Callable[[dict[str, Any]], None] | None = None) -> SampleSummary:
    """The async form of :func:`sample`. ``world`` is the offline world (opened from the config if
    not given); ``judge`` replaces the configured judge; ``toolbox`` an existing
    :class:`~webagent.tools.toolbox.Toolbox` (left open)."""
    from webagent.eval.judges import CachedJudge, VerdictCache
    from webagent.progress import progress as progress_bar
    from webagent.tools.toolbox import Toolbox, WebConfig

    cfg = config or SampleConfig()
    cfg.validate()
    tasks = qa_tasks(tasks)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if world is None and toolbox is None and cfg.web == "offline" and not cfg.web_url:
        from webagent.world import open_world

        world = open_world(cfg.world)
    teacher = teacher or Teacher(world=world)
    if teacher.world is None:
        teacher.world = world
    judge = CachedJudge(judge or make_judge(cfg), VerdictCache(out.with_name(out.name + ".judge_cache.jsonl")))
    summary = SampleSummary(qas=len(tasks), teacher=teacher.describe())
    summary.resumed = len(completed_ids(out))
    solved = _solved(out)
    start = time.perf_counter()
    bar = progress_bar(len(tasks), initial=len(solved), desc="sample", unit="qa", disable=not progress)

    def seen(record: dict[str, Any]) -> None:
        summary.attempts_run += 1
        if record.get("correct") and qa_id(record) not in solved:
            solved.add(qa_id(record))
            bar.update()
        bar.set_postfix_str(f"attempts {summary.attempts_run} · solved {len(solved)} · "
                            f"{summary.attempts_run / max(time.perf_counter() - start, 1e-9):.1f} traj/s")
        if on_record is not None:
            on_record(record)

    own = toolbox is None
    web = WebConfig(web=cfg.web, world=cfg.world, web_url=cfg.web_url, tool_workers=cfg.tool_workers)
    toolbox = toolbox or Toolbox(web, world=world)
    try:
        episode = _Episode(teacher, toolbox, judge, cfg)
        rounds = [[k] for k in range(1, cfg.attempts + 1)] if cfg.until_correct else [list(range(1, cfg.attempts + 1))]
        for attempts in rounds:
            todo = [{"id": f"{t['id']}#{k}", "question": t["question"], "_qa": t, "_attempt": k}
                    for t in tasks if not (cfg.until_correct and t["id"] in solved) for k in attempts]
            if not todo:
                break
            summary.rounds += 1
            result = await run_tasks(todo, episode, out, concurrency=cfg.concurrency, on_result=seen)
            summary.failed.update(result.failed)
    finally:
        if own:
            await toolbox.aclose()
        bar.close()
    summary.seconds = time.perf_counter() - start
    summary.solved = len(_solved(out))
    summary.attempts_total = len(completed_ids(out))
    out.with_name(out.name + ".summary.json").write_text(dumps_line(summary.as_dict(), indent=2))
    return summary

"""The evaluation runner: a benchmark × k runs of one agent and policy, judged as they finish.

``run_eval(EvalConfig(benchmark="synth:webwalker", runs=3), "runs/ww")`` writes::

    DIR/config.json          the configuration (a resume must use the same one)
    DIR/benchmark.json       where the questions came from, how many, which setting (no plaintext)
    DIR/run-1.jsonl …        one record per question per run: trajectory + verdict (append-only)
    DIR/judge_cache.jsonl    verdict cache
    DIR/report.md, report.json, plots/*.png

Each run file is written by :func:`webagent.agents.runner.run_tasks`: one flushed line per finished
episode, so a run killed at any moment (even ``kill -9``) resumes with nothing lost and nothing
duplicated. Episodes are judged as they finish; records of encrypted benchmarks have the
question and gold answer redacted unless ``keep_plaintext`` is set.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from webagent import aio
from webagent import protocol as P
from webagent.agents.runner import completed_ids, failed_record, run_tasks, task_id
from webagent.eval.benchmarks import ROOT_CLICK, SEARCH_VISIT, Benchmark, load_benchmark
from webagent.eval.judges import CachedJudge, LLMJudge, RuleJudge, VerdictCache, judge_label
from webagent.jsonl import read_jsonl
from webagent.llm.base import ChatModel
from webagent.llm.factory import make_model
from webagent.llm.grounding import parse_grounding
from webagent.prompts import load_prompts
from webagent.trajectory import ANSWER, LLM_ERROR, NOT_FOUND, Step, Trajectory

AGENTS = ("react", "walker", "direct")
LLMS = ("baseline", "oracle", "openai", "local")
# Changing these between a run and its resume would mix incomparable records in one directory.
_RESUME_FREE = {"runs", "concurrency", "limit", "keep_plaintext", "tool_workers"}


@dataclass
class EvalConfig:
    """One evaluation: what to run, with which policy, judged how."""

    benchmark: str
    """A benchmark file, or ``synth:<suite>`` (webwalker, crawlqa, e2hqa, sailorfog)."""
    format: str = "auto"
    split: str = "test"
    """Split of a synthetic suite (train, dev, test, all)."""
    limit: int | None = None
    runs: int = 3
    concurrency: int = 64
    agent: str = "react"
    """``react`` (search + visit), ``walker`` (root URL + click) or ``direct`` (no tools)."""
    llm: str = "baseline"
    """``baseline`` (rule-based), ``oracle`` (privileged upper bound) or ``openai`` (a model server)."""
    model: str = "default"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    max_tokens: int | None = None
    """Most tokens per model reply (``None``: the backend's default, 2048 for a server)."""
    grounding: str | None = None
    """Grounded decoding of a local model: any of ``format,url,query,answer``, ``all`` or ``none``
    (:mod:`webagent.llm.grounding`); None: the model's own setting (ReAct; :meth:`resolved`)."""
    judge: str = "rule"
    """``rule`` or ``llm:<preset>`` (gaia, browsecomp, xbench, webwalker)."""
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    web: str = "offline"
    world: str | None = None
    max_llm_calls: int = 40
    max_actions: int = 15
    seed: int = 0
    oracle_p_wrong_page: float = 0.3
    oracle_p_reformulate: float = 0.3
    keep_plaintext: bool = False
    """Write decrypted questions/answers of encrypted benchmarks into the result files."""
    protocol: str | None = None
    """ReAct interface: ``None``/``webagent`` (ours) or ``released`` (the released agents' exact
    interface, :mod:`webagent.agents.released`), for released checkpoints."""
    prompt_file: str | None = None
    """A TOML file overriding the agent's shipped prompts (``react``, or ``released``)."""
    tokenizer: str | None = None
    """Count context tokens with this Hugging Face tokenizer (the served model's) instead of ~3
    characters per token."""
    tool_workers: int = 0
    """Processes that do the tools' CPU work (``WebConfig.tool_workers``); 0 = in the event loop."""

    def validate(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r} (have: {', '.join(AGENTS)})")
        if self.llm not in LLMS:
            raise ValueError(f"unknown llm {self.llm!r} (have: {', '.join(LLMS)})")
        if self.runs < 1 or self.concurrency < 1:
            raise ValueError("runs and concurrency must be at least 1")
        if self.tool_workers < 0:
            raise ValueError(f"tool_workers must be 0 or more, got {self.tool_workers}")
        if self.llm == "baseline" and self.agent == "direct":
            raise ValueError("the no-tool baseline needs a language model: use --llm openai or --llm local")
        if parse_grounding(self.grounding) and self.llm != "local":
            raise ValueError("grounded decoding needs a local model (--llm local)")
        if self.judge != "rule" and not self.judge.startswith("llm:"):
            raise ValueError(f"unknown judge {self.judge!r}: use 'rule' or 'llm:<preset>'")
        if self.protocol not in (None, "webagent", "released"):
            raise ValueError(f"unknown protocol {self.protocol!r} (have: webagent, released)")

    def policy_label(self) -> str:
        label = {"baseline": "rule-based baseline", "oracle": "privileged oracle (upper bound)",
                 "openai": f"{self.model} (OpenAI-compatible API)", "local": f"local model {self.model}"}[self.llm]
        return f"{label}, grounded decoding ({self.grounding})" if parse_grounding(self.grounding) else label

    def resolved(self) -> EvalConfig:
        """This config with a trained ReAct model's own grounded decoding filled in (the
        ``grounding`` of its ``webagent_agent.json``) when none was asked for."""
        if self.llm != "local" or self.grounding is not None:
            return self
        from webagent.checkpoints import runtime_grounding

        grounding = runtime_grounding(self.model, self.agent)
        return replace(self, grounding=grounding) if grounding else self

    def setting(self) -> str:
        return {"react": SEARCH_VISIT, "walker": ROOT_CLICK, "direct": "no tools"}[self.agent]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the no-tool baseline ---------------------------------------------------------------------------

async def answer_directly(model: ChatModel, question: str, *, policy: str = "", task_id: str | None = None,
                          temperature: float | None = None) -> Trajectory:
    """The "answer directly" baseline: one model call, no tools."""
    prompts = load_prompts("direct")
    traj = Trajectory(question=question, agent="direct", policy=policy or getattr(model, "name", ""),
                      model=getattr(model, "name", type(model).__name__))
    if task_id is not None:
        traj.task_id = task_id
    traj.messages = [{"role": "system", "content": prompts["system"]},
                     {"role": "user", "content": prompts["user"].format(question=question)}]
    try:
        c = await model.generate(traj.messages, temperature=temperature)
    except Exception as e:
        traj.termination, traj.meta["error"] = LLM_ERROR, f"{type(e).__name__}: {e}"
        return traj
    reply = P.parse_reply(c.text)
    traj.steps.append(Step(index=0, text=c.text, thought=reply.think, answer=reply.answer,
                           prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens))
    traj.messages.append({"role": "assistant", "content": c.text})
    traj.answer = reply.answer if reply.answer is not None else (c.text.split("</think>")[-1].strip() or None)
    traj.termination = ANSWER if traj.answer else NOT_FOUND
    return traj


# --- building the parts -----------------------------------------------------------------------------

def make_judge(cfg: EvalConfig) -> Any:
    """The judge named by ``cfg.judge``."""
    if cfg.judge == "rule":
        return RuleJudge()
    if not cfg.judge_model:
        raise ValueError("an LLM judge needs --judge-model (pin a dated version, e.g. gpt-4o-2024-08-06)")
    model = make_model("openai", cfg.judge_model, base_url=cfg.judge_base_url,
                       api_key_env=cfg.judge_api_key_env, temperature=0.0)
    return LLMJudge(model, cfg.judge.split(":", 1)[1], model_name=cfg.judge_model)


def _model_factory(cfg: EvalConfig, world: Any) -> Callable[[dict[str, Any], int], ChatModel]:
    if cfg.llm == "oracle":
        from webagent.agents.oracle import OracleConfig, OracleModel

        ocfg = OracleConfig(seed=cfg.seed, p_wrong_page=cfg.oracle_p_wrong_page, p_reformulate=cfg.oracle_p_reformulate)
        return lambda task, run: OracleModel.for_task(task, ocfg, world=world, run=run)
    if cfg.llm == "baseline":
        from webagent.agents.baseline import BaselinePolicy
        from webagent.agents.walker_baseline import WalkerBaselinePolicy

        shared = WalkerBaselinePolicy() if cfg.agent == "walker" else BaselinePolicy()
        return lambda task, run: shared
    model = make_model(cfg.llm, cfg.model, base_url=cfg.base_url, api_key_env=cfg.api_key_env,
                       temperature=cfg.temperature, top_p=cfg.top_p, grounding=cfg.grounding or "none",
                       max_tokens=cfg.max_tokens)
    return lambda task, run: model


def _check_config(out: Path, cfg: EvalConfig) -> None:
    path = out / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        new = cfg.to_dict()
        diff = sorted(k for k in set(old) | set(new) if k not in _RESUME_FREE and old.get(k) != new.get(k))
        if diff:
            raise ValueError(f"{out} holds a run with a different configuration ({', '.join(diff)} differ); "
                             "use another --out directory")
    path.write_text(json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False) + "\n")


def _redact(record: dict[str, Any], task: dict[str, Any]) -> None:
    """Replace an encrypted benchmark's plaintext question and gold answer everywhere in a record."""
    marker = f"[encrypted benchmark item {record.get('task_id') or task.get('id')}]"
    secrets = [s for s in (str(task.get("question") or ""), str(task.get("answer") or "")) if len(s) >= 4]

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for s in secrets:
                value = value.replace(s, marker)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    record.update(clean(record))
    record["gold"] = None
    record["redacted"] = True


# --- running ----------------------------------------------------------------------------------------

class _Episodes:
    """Builds the episode function of one run: agent + policy + judge → one result record."""

    def __init__(self, cfg: EvalConfig, bench: Benchmark, toolbox: Any, judge: Any,
                 models: Callable[[dict[str, Any], int], ChatModel], policy: str, runtime: Any = None):
        self.cfg, self.bench, self.toolbox, self.judge, self.models, self.policy = cfg, bench, toolbox, judge, models, policy
        from webagent.agents.react import ReactConfig

        self.react_config = ReactConfig(max_llm_calls=cfg.max_llm_calls, temperature=cfg.temperature, top_p=cfg.top_p,
                                        prompt_file=cfg.prompt_file)
        if runtime is not None:  # a trained model runs in the runtime it was trained with
            self.react_config = runtime.react_config(max_llm_calls=min(cfg.max_llm_calls, runtime.max_llm_calls),
                                                     temperature=cfg.temperature, top_p=cfg.top_p)
        self.token_counter = None
        if cfg.tokenizer:  # the served model's own count, as the released loop makes it
            from webagent.trajectories.select import hf_token_counter

            self.token_counter = hf_token_counter(cfg.tokenizer)

    def for_run(self, run: int):
        async def episode(task: dict[str, Any]) -> dict[str, Any]:
            traj = await self._agent_run(task, run)
            traj.policy = self.policy
            verdict = await self.judge.judge(task["question"], task.get("answer"), traj.answer, task.get("aliases"))
            record = traj.to_dict()
            record.update(task_id=task_id(task), run=run, benchmark=self.bench.name, info=task.get("info") or {},
                          correct=verdict.correct, judge=verdict.to_dict())
            if task.get("sensitive") and not self.cfg.keep_plaintext:
                _redact(record, task)
            return record

        return episode

    def failure_for_run(self, run: int):
        """The record of an episode of ``run`` that raised: judged wrong, the reason kept."""

        def failed(task: dict[str, Any], reason: str) -> dict[str, Any]:
            record = failed_record(task, reason)
            record.update(run=run, benchmark=self.bench.name, info=task.get("info") or {}, policy=self.policy,
                          judge={"correct": False, "reason": f"the episode failed: {reason}"})
            if task.get("sensitive") and not self.cfg.keep_plaintext:
                _redact(record, task)
            return record

        return failed

    async def _agent_run(self, task: dict[str, Any], run: int) -> Trajectory:
        cfg, model, tid = self.cfg, self.models(task, run), task_id(task)
        if cfg.agent == "direct":
            return await answer_directly(model, task["question"], policy=self.policy, task_id=tid,
                                         temperature=cfg.temperature)
        if cfg.agent == "walker":
            from webagent.agents.walker import WalkerAgent, WalkerConfig

            agent = WalkerAgent(model, self.toolbox.click_tool, config=WalkerConfig(max_actions=cfg.max_actions),
                                policy=self.policy)
            return await agent.run(task["question"], task["root_url"], task_id=tid, gold=task.get("answer"))
        from webagent.agents.released import make_react_agent

        agent = make_react_agent(cfg.protocol or "webagent", model, self.toolbox.react_tools, self.react_config,
                                 policy=self.policy, token_counter=self.token_counter)
        return await agent.run(task["question"], task_id=tid, gold=task.get("answer"))


def _runtime(cfg: EvalConfig) -> Any:
    """The agent runtime a local model directory ships (``webagent_agent.json``), if any."""
    if cfg.llm != "local":
        return None
    from webagent.checkpoints import load_runtime

    return load_runtime(cfg.model)


def _progress_state(paths: list[Path]) -> tuple[int, int]:
    done = correct = 0
    for p in paths:
        completed_ids(p)  # repairs a torn last line before counting
        for rec in read_jsonl(p, missing_ok=True):
            done += 1
            correct += bool(rec.get("correct"))
    return done, correct


def run_eval(cfg: EvalConfig, out_dir: str | Path, *, model_factory: Callable[[dict[str, Any], int], ChatModel] | None = None,
             policy: str | None = None, judge: Any = None, world: Any = None, progress: bool = True,
             on_record: Callable[[dict[str, Any]], None] | None = None, runtime: Any = None) -> dict[str, Any]:
    """Run (or resume) an evaluation into ``out_dir`` and write its report; returns the report.

    ``model_factory(task, run)`` and ``policy`` replace the configured policy (tests and
    benchmarks use a scripted model); ``judge`` replaces the configured judge; ``runtime`` (an
    ``AgentRuntime``) replaces the one a local model directory ships, e.g. to run a base model
    zero-shot in the runtime its fine-tuned version learnt.
    """
    return aio.run(arun_eval(cfg, out_dir, model_factory=model_factory, policy=policy, judge=judge,
                             world=world, progress=progress, on_record=on_record, runtime=runtime))


async def arun_eval(cfg: EvalConfig, out_dir: str | Path, *, model_factory=None, policy=None, judge=None, world=None,
                    progress: bool = True, on_record=None, runtime: Any = None) -> dict[str, Any]:
    """The async form of :func:`run_eval`."""
    from webagent.eval.report import write_report
    from webagent.progress import progress as progress_bar
    from webagent.tools.toolbox import Toolbox, WebConfig

    cfg = cfg.resolved()
    out, world, bench, judge, label, paths = _prepare(cfg, out_dir, world, judge, policy)
    done, correct = _progress_state(paths)
    bar = progress_bar(len(bench.tasks) * cfg.runs, initial=done, desc=f"eval {bench.name}", unit="ep",
                       disable=not progress)
    if done:
        bar.set_postfix_str(f"acc {correct / done:.1%} (resumed {done})")

    def seen(record: dict[str, Any]) -> None:
        nonlocal done, correct
        done, correct = done + 1, correct + bool(record.get("correct"))
        bar.update()
        bar.set_postfix_str(f"acc {correct / done:.1%}")
        if on_record is not None:
            on_record(record)

    runtime = runtime or _runtime(cfg)
    web = WebConfig(web=cfg.web, world=cfg.world, tool_workers=cfg.tool_workers)
    async with (runtime.toolbox(web, world=world) if runtime else Toolbox(web, world=world)) as toolbox:
        episodes = _Episodes(cfg, bench, toolbox, judge, model_factory or _model_factory(cfg, world), label, runtime)
        # All runs go at once, sharing the concurrency, so the pool stays full to the end.
        per_run = max(1, cfg.concurrency // cfg.runs)
        summaries = await asyncio.gather(*(run_tasks(bench.tasks, episodes.for_run(r), p, concurrency=per_run, on_result=seen,
                                                     on_failure=episodes.failure_for_run(r))
                                           for r, p in zip(range(1, cfg.runs + 1), paths, strict=True)))
    bar.close()
    report = write_report(out)
    report["failed_this_call"] = {k: v for s in summaries for k, v in s.failed.items()}
    return report


def _prepare(cfg: EvalConfig, out_dir: str | Path, world: Any, judge: Any, policy: str | None):
    """Validate, load the benchmark, check the directory and write its metadata."""
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if world is None and cfg.web == "offline":
        from webagent.world import open_world

        world = open_world(cfg.world)
    bench = load_benchmark(cfg.benchmark, fmt=cfg.format, world=world, split=cfg.split, seed=cfg.seed, limit=cfg.limit)
    if not bench.tasks:
        raise ValueError(f"{bench.name}: no questions to run")
    if cfg.agent == "walker" and (missing := [t["id"] for t in bench.tasks if not t.get("root_url")]):
        raise ValueError(f"the walker agent needs a root_url per question; {len(missing)} have none (e.g. {missing[0]})")
    _check_config(out, cfg)
    # Verdicts quote the gold answer: an encrypted benchmark's cache stays in memory.
    cache_path = None if bench.encrypted and not cfg.keep_plaintext else out / "judge_cache.jsonl"
    judge = CachedJudge(judge or make_judge(cfg), VerdictCache(cache_path))
    label = policy or cfg.policy_label()
    meta = {**bench.describe(), "run_setting": cfg.setting(), "policy": label, "judge": judge_label(judge),
            "agent": cfg.agent, "runs": cfg.runs}
    (out / "benchmark.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    paths = [out / f"run-{r}.jsonl" for r in range(1, cfg.runs + 1)]
    return out, world, bench, judge, label, paths


def config_from_dict(d: dict[str, Any]) -> EvalConfig:
    names = {f.name for f in fields(EvalConfig)}
    return EvalConfig(**{k: v for k, v in d.items() if k in names})

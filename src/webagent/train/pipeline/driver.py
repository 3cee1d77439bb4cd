"""The driver: which stages a run goes through, and running (or resuming) them in order."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from typing import Any

from webagent.train.pipeline.config import PipelineConfig, own_tokenizer
from webagent.train.pipeline.data import stage_qa, stage_trajectories, stage_worlds
from webagent.train.pipeline.evaluate import stage_eval
from webagent.train.pipeline.report import stage_report
from webagent.train.pipeline.run import STAGES, Run
from webagent.train.pipeline.training import stage_copy, stage_rl, stage_sft, stage_tokenizer


def _stage_fn(name: str) -> Callable[[Run], dict[str, Any]]:
    if name.startswith("rl-"):
        return lambda run: stage_rl(run, name[3:])
    return {"worlds": stage_worlds, "qa": stage_qa, "trajectories": stage_trajectories, "tokenizer": stage_tokenizer,
            "copy": stage_copy, "sft": stage_sft, "eval": stage_eval, "report": stage_report}[name]


def planned_stages(cfg: PipelineConfig) -> tuple[str, ...]:
    """The stages a full run of ``cfg`` goes through: the copy warm-up only with ``copy_steps``,
    the RL arms of ``rl_algorithms``."""
    return tuple(s for s in STAGES if (not s.startswith("rl-") or s[3:] in cfg.rl_algorithms)
                 and (s != "copy" or cfg.copy_steps) and (s != "tokenizer" or own_tokenizer(cfg)))


def run_pipeline(cfg: PipelineConfig, *, stages: tuple[str, ...] | None = None, force: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run (or resume) the pipeline into ``cfg.out``; returns the results table.

    Finished stages are skipped (``force`` re-runs some). An RL arm that fails is logged and left
    out of the table, so the other arms still get evaluated; the next run retries it.
    """
    cfg.validate()
    run = Run(cfg)
    (run.out / "pipeline_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    wanted = stages or planned_stages(cfg)
    for name in wanted:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r} (have: {', '.join(STAGES)})")
        # worlds (each built one is skipped inside) and report are cheap: always checked / rebuilt.
        if run.done(name) and name not in force and name not in ("worlds", "report"):
            run.log(f"stage {name}: done, skipped")
            continue
        run.log(f"stage {name}: start")
        t0 = time.perf_counter()
        try:
            info = _stage_fn(name)(run)
        except Exception as e:
            if not name.startswith("rl-"):
                run.log(f"stage {name}: failed: {type(e).__name__}: {e}")
                raise
            run.log(f"stage {name}: failed, arm left out: {type(e).__name__}: {e}")
            (run.path(name)).mkdir(parents=True, exist_ok=True)
            run.path(name, "error.txt").write_text(traceback.format_exc())
            continue
        info["seconds"] = round(time.perf_counter() - t0, 1)
        run.mark(name, info)
        run.log(f"stage {name}: done in {info['seconds']:.0f} s · {json.dumps(info, default=str)[:300]}")
    path = run.path("report", "results.json")
    return json.loads(path.read_text()) if path.is_file() else {}

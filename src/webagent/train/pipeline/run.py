"""One pipeline directory: its stages, paths, log and done-markers, and its JSONL files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from webagent.jsonl import dumps_line, read_jsonl
from webagent.train.pipeline.config import PipelineConfig

STAGES = ("worlds", "qa", "trajectories", "tokenizer", "copy", "sft", "rl-dapo", "rl-dupo", "eval", "report")


class Run:
    """Paths, logging and the done-markers of one pipeline directory."""

    def __init__(self, cfg: PipelineConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def log(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        with self.path("pipeline.log").open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def done(self, stage: str) -> dict[str, Any] | None:
        p = self.path(stage, "done.json")
        return json.loads(p.read_text()) if p.is_file() else None

    def mark(self, stage: str, info: dict[str, Any]) -> None:
        d = self.path(stage)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "done.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, d / "done.json")

    def train_world(self, seed: int) -> Path:
        return self.path("worlds", f"train-{seed}")

    def rl_world(self, seed: int) -> Path:
        return self.path("worlds", f"rl-{seed}")

    def eval_world(self) -> Path:
        return self.path("worlds", f"eval-{self.cfg.eval_seed}")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(dumps_line(r))
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path)

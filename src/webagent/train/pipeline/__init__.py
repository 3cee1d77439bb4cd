"""The from-scratch pipeline: from an empty directory to a trained, evaluated web agent.

``webagent pipeline --preset nano --out DIR`` runs, stage after stage::

    worlds        train worlds (train seeds) + one evaluation world (a seed never used in training)
    qa            WebWalkerQA-style questions on the train worlds (SFT share + RL share) and the
                  held-out questions of the evaluation world
    trajectories  oracle rejection sampling in the model's own runtime (compact prompt, few search
                  hits, small evidence budget) → validity/correctness/quality/dedup filters →
                  a grounding filter (every visited URL and the answer were on screen before)
    tokenizer     byte-level BPE on the train worlds' pages, protocol tags as special tokens
    copy          the preset from scratch on the copy drill (random blocks of ids, each repeated)
                  until it copies by content (``copying.py``); only when ``copy_steps`` > 0
                  (preset ``nano-copy``)
    sft           observation-masked SFT of the copy stage's model or of the fresh preset, with
                  ``sft_copy_rows`` drill rows in every step
    rl-dapo       RL from the SFT policy with DAPO dynamic sampling (re-sample to refill)
    rl-dupo       RL from the SFT policy with DUPO (pre-filter + in-batch duplication)
    eval          direct answer / SFT / SFT+DAPO / SFT+DUPO on the held-out questions, k runs each
    report        results table (markdown + JSON, the papers' shape) and training curves (PNG)

Every stage writes ``DIR/<stage>/done.json`` when its output is complete; a re-run skips finished
stages, and the long ones (sampling, SFT, RL, evaluation) resume inside themselves too. Everything
is logged to ``DIR/pipeline.log``. :func:`ship_checkpoint` copies the chosen policy with its
tokenizer, runtime settings and a model card into a small directory (``checkpoints/nano``).

The modules, each one concept (importing from them in this order never comes back to an earlier one):

    config     PipelineConfig, its presets, load_config / lineage (the settings of earlier runs)
    run        one run directory: stage names, paths, log, done-markers, JSONL files
    data       stages worlds, qa, trajectories
    training   stages tokenizer, copy, sft, rl-*
    evaluate   stage eval and the arms it evaluates
    report     stage report: results table and curves
    card       the model card of a shipped checkpoint
    ship       ship_checkpoint
    driver     planned_stages and run_pipeline

Everything below is re-exported here, so ``from webagent.train.pipeline import X`` names the
function the stages use.
"""

from __future__ import annotations

from webagent.train.pipeline.card import render_card
from webagent.train.pipeline.config import (
    PRESETS,
    PipelineConfig,
    compact_runtime,
    lineage,
    load_config,
    make_config,
    own_tokenizer,
)
from webagent.train.pipeline.data import (
    _questions,
    _stratified,
    grounding_problem,
    mark_detours,
    oracle_sample,
    stage_qa,
    stage_trajectories,
    stage_worlds,
)
from webagent.train.pipeline.driver import planned_stages, run_pipeline
from webagent.train.pipeline.evaluate import ARM_LABELS, ARMS, TRAINED_ARMS, arm_model, stage_eval
from webagent.train.pipeline.report import (
    HARD,
    _scores,
    arm_records,
    render_results,
    results_table,
    stage_report,
    write_curves,
)
from webagent.train.pipeline.run import STAGES, Run, _read_jsonl
from webagent.train.pipeline.ship import ship_checkpoint
from webagent.train.pipeline.training import stage_copy, stage_rl, stage_sft, stage_tokenizer

__all__ = [
    "ARMS", "ARM_LABELS", "HARD", "PRESETS", "STAGES", "TRAINED_ARMS", "PipelineConfig", "Run", "arm_model",
    "arm_records", "compact_runtime", "grounding_problem", "lineage", "mark_detours", "load_config", "make_config",
    "oracle_sample", "own_tokenizer", "planned_stages", "render_card", "render_results", "results_table",
    "run_pipeline", "ship_checkpoint", "stage_copy", "stage_eval", "stage_qa", "stage_report", "stage_rl",
    "stage_sft", "stage_tokenizer", "stage_trajectories", "stage_worlds", "write_curves",
    # helpers that benches and tests use
    "_questions", "_read_jsonl", "_scores", "_stratified",
]

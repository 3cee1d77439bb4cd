"""The RL math: group-relative advantages, the clipped token-level policy loss, and the batch
transforms of DAPO (drop zero-spread groups, re-sample to refill) and DUPO (pre-filter easy
questions; refill by duplicating other groups of the same batch).

Everything here is pure: plain Python lists for the batch transforms and torch tensors for the
loss, so each piece is tested on crafted inputs against hand-computed values.

The loss is DAPO's (arXiv 2503.14476, Eq. 8), as WebSailor trains it:

    r_t   = exp(logp_t - old_logp_t)                       per generated token t
    l_t   = max(-A r_t, -A clip(r_t, 1 - eps_low, 1 + eps_high))     clip-higher: eps_high > eps_low
    l_t   = min(l_t, -A c)  for A < 0, when a dual-clip c is set
    loss  = sum_t mask_t (l_t + beta kl_t) / N                N = trained tokens of the whole batch

``N`` counts the trained tokens of the whole optimizer batch (every micro-batch), not of one
sequence: DAPO's token-level aggregation, so long trajectories are not down-weighted per token.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# --- advantages ---------------------------------------------------------------------------------


def spread(rewards: Sequence[float]) -> float:
    """Population standard deviation of a group's rewards (0 for a group of one)."""
    if len(rewards) < 2:
        return 0.0
    mean = sum(rewards) / len(rewards)
    return math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))


def group_advantages(rewards: Sequence[float], *, norm_std: bool = True, eps: float = 1e-6) -> list[float]:
    """GRPO's advantage of each rollout of one group: ``(R_i - mean) / (std + eps)``.

    ``norm_std=False`` gives Dr.GRPO's mean-centred rewards. A zero-spread group gets all zeros.
    """
    if not rewards:
        return []
    std = spread(rewards)
    if std <= 1e-9:  # equal rewards: exactly zero, not float noise from the mean
        return [0.0] * len(rewards)
    mean = sum(rewards) / len(rewards)
    scale = (std + eps) if norm_std else 1.0
    return [(r - mean) / scale for r in rewards]


# --- the policy loss ----------------------------------------------------------------------------


@dataclass
class LossConfig:
    """Knobs of the policy loss (DAPO / WebSailor defaults)."""

    eps_low: float = 0.2
    eps_high: float = 0.28
    """Clip-higher: the upper clip bound is looser than the lower one."""
    clip_c: float | None = None
    """Dual-clip bound for negative advantages (verl's ``clip_ratio_c``, e.g. 3 or 10); None: off."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference model (DAPO and WebSailor: none)."""


def low_var_kl(logp, ref_logp):
    """Schulman's k3 estimator of KL(pi || ref) per token, clamped as in verl's ``low_var_kl``."""
    import torch

    d = (ref_logp - logp).clamp(-20, 20)
    return torch.clamp(torch.exp(d) - d - 1, -10, 10)


def policy_loss(logp, old_logp, advantages, mask, cfg: LossConfig | None = None, *,
                n_tokens: float | None = None, ref_logp=None) -> tuple[Any, dict[str, float]]:
    """Clipped policy-gradient loss over tokens (see the module docstring).

    All tensors have the same shape (e.g. ``[rows, tokens]`` or a flat ``[tokens]``); ``advantages``
    is the sequence advantage broadcast to its tokens and ``mask`` is 1 on generated tokens.
    ``n_tokens`` is the normaliser: the trained tokens of the *whole* optimizer batch, so that
    micro-batches can be summed (default: this call's own trained tokens).

    Returns the loss and sums over trained tokens, for logging: ``tokens``, ``clip_low`` (A < 0,
    ratio below ``1 - eps_low``), ``clip_high`` (A > 0, ratio above ``1 + eps_high``), ``dual_clip``,
    ``ppo_kl`` (``old_logp - logp``) and ``ref_kl``.
    """
    import torch

    cfg = cfg or LossConfig()
    mask = mask.to(logp.dtype)
    n = float(mask.sum()) if n_tokens is None else float(n_tokens)
    log_ratio = (logp - old_logp).clamp(-20, 20)  # as verl: keeps exp() finite on wild samples
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - cfg.eps_low, 1 + cfg.eps_high)
    per_token = torch.maximum(unclipped, clipped)
    dual = torch.zeros_like(per_token, dtype=torch.bool)
    if cfg.clip_c is not None:
        bound = -advantages * cfg.clip_c
        dual = (advantages < 0) & (per_token > bound)
        per_token = torch.where(advantages < 0, torch.minimum(per_token, bound), per_token)
    ref_kl = torch.zeros_like(per_token)
    if ref_logp is not None:
        ref_kl = low_var_kl(logp, ref_logp)
        per_token = per_token + cfg.kl_coef * ref_kl
    loss = (per_token * mask).sum() / max(n, 1.0)
    with torch.no_grad():  # token counts are mask-weighted: a token of weight k counts k times
        stats = {
            "tokens": float(mask.sum()),
            "clip_low": float((((advantages < 0) & (ratio < 1 - cfg.eps_low)) * mask).sum()),
            "clip_high": float((((advantages > 0) & (ratio > 1 + cfg.eps_high)) * mask).sum()),
            "dual_clip": float((dual * mask).sum()),
            "ppo_kl": float((-log_ratio * mask).sum()),
            "ref_kl": float((ref_kl * mask).sum()),
        }
    return loss, stats


# --- groups and the batch transforms --------------------------------------------------------------


@dataclass
class Group:
    """The G rollouts of one question, reduced to what the batch transforms need."""

    task: dict[str, Any]
    rewards: list[float]
    correct: list[bool] = field(default_factory=list)
    rollouts: list[Any] = field(default_factory=list)
    """The rollouts themselves (opaque here)."""

    @property
    def spread(self) -> float:
        return spread(self.rewards)

    @property
    def zero_spread(self) -> bool:
        """All rewards equal: GRPO advantages are all zero, so the group teaches nothing."""
        return self.spread <= 1e-9

    def advantages(self, norm_std: bool = True) -> list[float]:
        return group_advantages(self.rewards, norm_std=norm_std)


def split_zero_spread(groups: Sequence[Group]) -> tuple[list[Group], list[Group]]:
    """``(informative, zero_spread)``: DAPO's dynamic-sampling filter (keep ``std > 0``)."""
    keep = [g for g in groups if not g.zero_spread]
    drop = [g for g in groups if g.zero_spread]
    return keep, drop


def dapo_fill(kept: list[Group], fresh: Sequence[Group], batch_size: int) -> list[Group]:
    """DAPO's refill: append the informative groups of a fresh rollout round, up to ``batch_size``."""
    more, _ = split_zero_spread(fresh)
    return (list(kept) + more)[:batch_size]


def dupo_fill(groups: Sequence[Group], batch_size: int, rng: random.Random) -> tuple[list[Group], int]:
    """DUPO's in-batch refill: drop zero-spread groups, fill the freed slots with random copies of
    the batch's informative groups. No new rollouts. Returns ``(batch, duplicated_slots)``.

    A batch with no informative group returns ``([], 0)``: the step has nothing to learn from.
    """
    keep, _ = split_zero_spread(groups)
    if not keep:
        return [], 0
    batch = list(keep)
    while len(batch) < batch_size:
        batch.append(rng.choice(keep))
    return batch[:batch_size], max(0, batch_size - len(keep))


@dataclass
class PrefilterResult:
    """DUPO's pre-RL filter: which questions stay in the RL pool."""

    kept: list[dict[str, Any]]
    all_correct: list[dict[str, Any]]
    """Too easy for the current policy: dropped (WebSailor)."""
    all_wrong: list[dict[str, Any]]
    """Flagged; dropped only with ``drop_all_wrong``."""

    def summary(self) -> dict[str, int]:
        return {"kept": len(self.kept), "all_correct": len(self.all_correct), "all_wrong": len(self.all_wrong)}


def prefilter(groups: Sequence[Group], *, drop_all_wrong: bool = False) -> PrefilterResult:
    """Drop questions whose G rollouts are all correct; flag (optionally drop) all-wrong ones."""
    out = PrefilterResult([], [], [])
    for g in groups:
        if g.correct and all(g.correct):
            out.all_correct.append(g.task)
            continue
        if g.correct and not any(g.correct):
            out.all_wrong.append(g.task)
            if drop_all_wrong:
                continue
        out.kept.append(g.task)
    return out

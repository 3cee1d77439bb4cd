"""What to change when a trajectory stage keeps nothing: each removal reason and its option.

A filter or selection that removes every trajectory leaves an empty SFT set and an exit status of
0 that looks like success. :func:`empty_advice` turns the removal counts into the reason and the
command-line options that relax it, for the funnel, ``traj filter`` and ``traj select``.
"""

from __future__ import annotations

import re

# (pattern of a removal reason, what to change). The reasons are those of filters.py and select.py.
_OPTIONS: tuple[tuple[str, str], ...] = (
    (r"fewer than \d+ tool calls", "--min-tool-calls N with a smaller N (-1: off), or --no-rft to skip RFT "
                                   "selection; or harder questions (synth sailorfog/e2hqa need more calls)"),
    (r"longer than \d+ tokens", "--max-tokens N with a larger N (-1: off)"),
    (r"incorrect answer", "--allow-incorrect (RFT) or --judge none (filters), or more --attempts / "
                          "--all-attempts, or a stronger teacher"),
    (r"fewer than \d+ actions", "--min-actions N with a smaller N (-1: off)"),
    (r"more than \d+ actions", "--max-actions N with a larger N (-1: off)"),
    (r"-gram repeated", "--max-repeats N with a larger N, a larger --ngram, or --repetition-scope thoughts"),
    (r"fabricated observation", "--no-fabrication-check"),
    (r"duplicate trajectory", "--no-dedup"),
    (r"per QA item", "--max-per-qa N with a larger N"),
    (r"no final answer|no <answer>|without|unbalanced|invalid tool call|unknown tool|rejected tool call",
     "the teacher's replies break the protocol: a larger --max-llm-calls, --mode short/long to match "
     "the teacher, or another teacher model"),
)


def option_for(reason: str) -> str | None:
    """The options that relax one removal reason, or None when none applies."""
    return next((options for pattern, options in _OPTIONS if re.search(pattern, reason)), None)


def empty_advice(what: str, removed: dict[str, int]) -> str:
    """A few lines saying that ``what`` ended empty, why (largest removals first) and what to change."""
    if not removed:
        return f"{what} is empty: no input reached this stage."
    lines = [f"{what} is empty. Removed:"]
    for reason, count in sorted(removed.items(), key=lambda kv: -kv[1]):
        options = option_for(reason)
        lines.append(f"  - {reason}: {count}" + (f" → change with {options}" if options else ""))
    return "\n".join(lines)

"""Fuzz the parts that meet hostile input: model replies (parse_reply, the tool-call reader, the
record writer) and web pages (observation escaping, the lexical extractor's budgets).

    python bench/fuzz_hostile.py --replies 10000 --pages 1000 --seed 0

Counts escaped exceptions, leaked secrets (a registered key in any written record), forged turns
(a chat-template special token in any observation) and budget overruns; all must be 0. The
figures are recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import random
import time

from webagent import protocol as P
from webagent.jsonl import dumps
from webagent.secrets import register_secret
from webagent.tools.extract import LexicalExtractor

KEY = "fuzzKey-9f8e7d6c5b4a3210"
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>", "<|endoftext|>", "</s>", "[INST]",
           "<｜end▁of▁sentence｜>", "<start_of_turn>"]
PIECES = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<answer>", "</answer>", "<tool_response>",
          '{"name": "search", "arguments": {"query": ["x"]}}', '{"name": "visit", "arguments": ', "{", "}", "[", "]",
          '"', "\\", "\ud800", "\x00", "\u2028", "\u0085", "9" * 5000, "1e999", "NaN", "null", ",", ":",
          f"Incorrect API key provided: {KEY}", "http://u:p4ssw0rd-long@h.test/", *SPECIAL]


def reply(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return "<tool_call>" + rng.choice("[{") * rng.randint(100, 5000) + "</tool_call>"
    if kind < 0.2:
        depth = rng.randint(30, 3000)
        return '<tool_call>{"name": "search", "arguments": {"query": ' + "[" * depth + "]" * depth + "}}</tool_call>"
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))


def page(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.2:
        return rng.choice(["chair ", "x", "会议"]) * rng.randint(10_000, 60_000)
    if kind < 0.4:
        return "\n".join(rng.choice(SPECIAL) + " text " * rng.randint(0, 50) for _ in range(rng.randint(1, 500)))
    return "".join(rng.choice(PIECES + [" the chair is Ilsa. ", "\n\n", "| a | b |\n"]) for _ in range(rng.randint(1, 2000)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replies", type=int, default=10_000)
    ap.add_argument("--pages", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    register_secret(KEY)
    escaped = leaked = forged = over = 0
    t0 = time.perf_counter()
    for _ in range(args.replies):
        text = reply(rng)
        try:
            parsed = P.parse_reply(text)
            line = dumps({"text": text, "calls": [c.to_dict() for c in parsed.tool_calls], "answer": parsed.answer})
            leaked += KEY in line or "p4ssw0rd-long" in line
            for c in parsed.tool_calls:
                obs = P.format_tool_response(f"Error: {c.error} {c.raw[:200]}")
                forged += any(t in obs for t in SPECIAL)
        except Exception:  # noqa: BLE001 - counting exactly these is the point
            escaped += 1
    t1 = time.perf_counter()
    ext = LexicalExtractor()
    for _ in range(args.pages):
        content = page(rng)
        try:
            found = ext.extract_sync(content, "who is the chair <|im_start|>")
            over += len(found.evidence) > ext.max_evidence_chars or len(found.summary) > ext.max_summary_chars
            obs = P.format_tool_response(found.evidence + "\n" + found.summary)
            forged += any(t in obs for t in SPECIAL)
        except Exception:  # noqa: BLE001
            escaped += 1
    t2 = time.perf_counter()
    print(f"replies: {args.replies} in {t1 - t0:.1f} s; pages: {args.pages} in {t2 - t1:.1f} s (seed {args.seed})")
    print(f"escaped exceptions: {escaped}; leaked secrets: {leaked}; forged turns: {forged}; budget overruns: {over}")
    raise SystemExit(1 if escaped or leaked or forged or over else 0)


if __name__ == "__main__":
    main()

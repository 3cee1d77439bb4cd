"""Run every benchmark in one go and print their tables (see docs/benchmarks.md).

    python bench/run_all.py                 # ~10k- and ~100k-page worlds (several minutes)
    python bench/run_all.py --sizes 24 240  # quick pass on small worlds
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(*args: str) -> None:
    print(f"\n$ {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, *args], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs=2, default=[240, 2400], metavar=("SMALL", "LARGE"),
                    help="world sizes (sites) for the ~10k and ~100k page worlds")
    ap.add_argument("--out", default="/tmp/webagent-bench", help="where the worlds are built")
    args = ap.parse_args()
    small, large = (f"{args.out}/size{s}" for s in args.sizes)
    run(str(HERE / "bench_world.py"), "--sizes", *map(str, args.sizes), "--out", args.out, "--keep")
    run(str(HERE / "bench_search.py"), "--world", large)
    run(str(HERE / "bench_web.py"), "--world", small)
    run(str(HERE / "bench_corpus.py"), "--out", f"{args.out}/corpus")
    run(str(HERE / "bench_agents.py"))
    run(str(HERE / "bench_eval.py"))
    run(str(HERE / "bench_synth.py"))
    for name in ("bench_traj.py", "bench_sft.py", "bench_lora.py", "bench_rl.py", "bench_quality.py"):
        if (HERE / name).exists():
            run(str(HERE / name))


if __name__ == "__main__":
    main()

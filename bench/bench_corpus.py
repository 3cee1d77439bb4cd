"""Importing a user corpus (``webagent world import``): time and memory per size, and search latency.

Synthetic documents in the BrowseComp-Plus shape (``docid, url, title, text``; --words words of
text drawn from a Zipf-distributed vocabulary of invented words) are written to JSONL first (not
timed). Each import then runs in a fresh child process, so its peak RSS is its own. Side by side
at every size, the baseline: the obvious way with the existing pieces, every page read into memory,
then ``write_pages`` (sorted) and ``SearchIndex.build``. Search latency is measured on the largest
corpus: single queries, sequential, after a warm-up; each query is a document's title plus two of
its words.

    python bench/bench_corpus.py --sizes 25000 50000 100000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary, save, table  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from webagent.world.corpus import import_corpus, read_documents
mode, src, out = sys.argv[1:4]
t = time.perf_counter()
if mode == "stream":
    n = import_corpus(src, out).documents
else:  # the baseline: everything in memory, then the world's own writers
    import pathlib
    from webagent.web.index import SearchIndex
    from webagent.world.store import write_pages
    pages = list(read_documents(src))
    pathlib.Path(out).mkdir(parents=True)
    write_pages(pathlib.Path(out) / "pages.db", pages)
    SearchIndex.build(pages, pathlib.Path(out) / "index")
    n = len(pages)
secs = time.perf_counter() - t
print(json.dumps({"docs": n, "seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_corpus(path: Path, n: int, words: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "or", "in", "da", "pe", "shi", "ra", "no", "ul", "ex"]
    vocab = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(30_000)})
    weights = [1 / (i + 1) for i in range(len(vocab))]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            body = rng.choices(vocab, weights, k=words)
            title = " ".join(rng.choices(vocab, k=3)).title()
            text = "\n".join(" ".join(body[j:j + 60]) + "." for j in range(0, words, 60))
            f.write(json.dumps({"docid": str(i), "url": f"https://site{i % 500}.example.com/p/{i}", "title": title,
                                "text": text}) + "\n")


def run_child(mode: str, src: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(src), str(out)], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def search_latency(world_dir: Path, queries: int, seed: int = 0) -> dict:
    from webagent.world.store import WorldStore

    store = WorldStore(world_dir)
    rng = random.Random(seed)
    n = len(store)
    qs = []
    for i in rng.sample(range(n), min(queries, n)):
        page = store.get(f"http://site{i % 500}.example.com.test/p/{i}")
        words = page.text.split()
        qs.append(f"{page.title} {rng.choice(words)} {rng.choice(words)}".replace(".", ""))
    index = store.index
    for q in qs[:20]:
        index.search(q, 10)
    lat, found = [], 0
    for q in qs:
        t = time.perf_counter()
        hits = index.search(q, 10)
        lat.append(time.perf_counter() - t)
        found += any(h.title.lower() in q.lower() for h in hits[:1])
    store.close()
    return {**latency_summary(lat), "title_at_1": round(found / len(qs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    ap.add_argument("--words", type=int, default=300, help="words per document (default 300, ~2 KB)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/webagent-bench-corpus")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, first = [], None
    for size in args.sizes:
        src = out / f"docs{size}.jsonl"
        if not src.exists():
            make_corpus(src, size, args.words)
        mb = src.stat().st_size / 1e6
        for mode in ("stream",) + (() if args.no_baseline else ("in-memory baseline",)):
            r = run_child("stream" if mode == "stream" else "baseline", src, out / f"world{size}-{mode[:6]}")
            per_1k = r["seconds"] / r["docs"] * 1000
            if mode == "stream":
                first = first or per_1k
            rows.append({"import": mode, "docs": f"{r['docs']:,}", "JSONL (MB)": round(mb),
                         "seconds": round(r["seconds"], 1), "docs/s": round(r["docs"] / r["seconds"]),
                         "s per 1k docs": round(per_1k, 3),
                         "growth vs first": round(per_1k / first, 2) if mode == "stream" else "",
                         "peak RSS (MB)": round(r["peak_mb"])})
            print(rows[-1], flush=True)
    largest = out / f"world{args.sizes[-1]}-stream"
    lat = search_latency(largest, args.queries)
    cols = ["import", "docs", "JSONL (MB)", "seconds", "docs/s", "s per 1k docs", "growth vs first", "peak RSS (MB)"]
    print(table(rows, cols))
    print(table([{"docs": f"{args.sizes[-1]:,}", **lat}], ["docs", "n", "mean_ms", "p50_ms", "p99_ms", "title_at_1"]))
    print("saved", save("corpus", {"imports": rows, "search": lat, "words": args.words}))


if __name__ == "__main__":
    main()

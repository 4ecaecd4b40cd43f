"""Hostile inputs, measured: a scan of the generated hostile corpus (tests/hostile_corpus.py) with the shipped model.

Prints: files with a status and a message (goal 100%), crashes (goal 0: an exception escaping
``Scanner.scan_file``, or the scanning process dying), files ending as ``error``, the slowest
file's time, and the peak RSS of the scanning process (a child process, measured with
``resource.getrusage(RUSAGE_CHILDREN)``; goal under 2 GB). It makes no timed assertions.

Run: .venv/bin/python bench/hostile_bench.py [--n-small 10000] [--depth 300] [--bomb-side 10000]
     [--big-side 10000] [--weights-dir DIR] [--model NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time, traceback
from dfd_lib.media import iter_evidence_files
from dfd_lib.scan import Scanner
corpus, out, model, weights = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4] or None
t0 = time.perf_counter()
scanner = Scanner(model, weights_dir=weights)
load_s = time.perf_counter() - t0
with open(out, "w", encoding="utf-8") as fh:
    fh.write(json.dumps({"load_s": load_s, "model": scanner.model.card.name}) + "\n")
    for path in iter_evidence_files([corpus]):
        t = time.perf_counter()
        try:
            r = scanner.scan_file(path)
            rec = {"status": r.status, "message": r.message}
        except BaseException as exc:  # a crash: scan_file promises never to raise for bad evidence
            rec = {"crash": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        rec.update(path=os.fsencode(path).decode("utf-8", "backslashreplace"), seconds=time.perf_counter() - t)
        fh.write(json.dumps(rec) + "\n")
        fh.flush()
scanner.close()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-small", type=int, default=10_000, help="files in the many-small-files folder")
    ap.add_argument("--depth", type=int, default=300, help="levels of the deep tree")
    ap.add_argument("--bomb-side", type=int, default=10_000, help="side of the zlib bomb PNG (10,000: 100 MP)")
    ap.add_argument("--big-side", type=int, default=10_000, help="side of the big float/16-bit TIFFs (0: none)")
    ap.add_argument("--model", default="", help="model name (default: the shipped default)")
    ap.add_argument("--weights-dir", default="", help="weights folder (default: the installation's)")
    ap.add_argument("--keep", default=None, metavar="DIR", help="generate the corpus here and keep it")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from hostile_corpus import make_corpus, remove_corpus

    from dfd_lib.results import STATUSES

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dfd-hostile-"))
    corpus_dir = work / "corpus"
    t0 = time.perf_counter()
    corpus = make_corpus(
        corpus_dir, n_small=args.n_small, depth=args.depth, bomb_side=args.bomb_side, big_side=args.big_side
    )
    print(f"corpus: {len(corpus.expected)} paths in {corpus_dir} (generated in {time.perf_counter() - t0:.1f} s)")
    for what, why in corpus.skipped.items():
        print(f"  not made here: {what}: {why}")
    out = work / "results.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus_dir), str(out), args.model, args.weights_dir],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    head = json.loads(lines[0]) if lines else {}
    recs = [json.loads(line) for line in lines[1:]]
    crashes = [r for r in recs if "crash" in r]
    good = [r for r in recs if r.get("status") in STATUSES and r.get("message")]
    statuses = Counter(r.get("status", "CRASH") for r in recs)
    slowest = max(recs, key=lambda r: r["seconds"]) if recs else None

    print(f"model: {head.get('model', '?')} (loaded in {head.get('load_s', float('nan')):.1f} s)")
    print(
        f"files scanned: {len(recs)}; scanning process exit status {proc.returncode}"
        + ("" if proc.returncode == 0 else f" (died: {proc.stderr.strip()[-500:]})")
    )
    pct = 100.0 * len(good) / len(recs) if recs else 0.0
    print(f"files with a status and a message: {len(good)}/{len(recs)} = {pct:.1f}% (goal 100%)")
    print(f"crashes: {len(crashes) + (proc.returncode != 0)} (goal 0)")
    for r in crashes[:10]:
        print(f"  crash: {r['path']}: {r['crash']}")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    errors = [r for r in recs if r.get("status") == "error"]
    if errors:
        why = Counter(r["message"][:90] for r in errors)
        print(f"'error' results: {len(errors)}: " + "; ".join(f"{n} x {m}" for m, n in why.most_common(3)))
    if slowest:
        print(
            f"slowest file: {slowest['seconds']:.2f} s: {Path(slowest['path']).name} "
            f"({slowest.get('status', 'CRASH')}: {slowest.get('message', slowest.get('crash', ''))[:100]})"
        )
        top = sorted(recs, key=lambda r: -r["seconds"])[1:4]
        print("next slowest: " + "; ".join(f"{Path(r['path']).name} {r['seconds']:.2f} s" for r in top))
    print(f"peak RSS of the scanning process: {peak_kib / 1024:.0f} MiB (goal under 2048 MiB); wall {wall:.1f} s")
    if not args.keep:
        remove_corpus(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

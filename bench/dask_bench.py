"""Scale-out triage throughput: single-process against Dask LocalClusters of 1 and 2 workers, same run.

Part 1 (real model): the same photos (bench/scan_bench.py's astronaut scenes) are triaged into
three fresh cases: single-process ``Case.triage`` with a ``Scanner``, then ``Case.triage(dask=...)``
on a LocalCluster of 1 and of 2 worker processes (one thread each). Cluster start and model load
are timed apart from the triage itself. Prints items/s, the ratios, and the per-task overhead of
going through Dask (1-worker wall time per item minus the worker's own compute time per item).

Part 2 (simulated large run): many small items scored by a mocked scanner (a fixed latency, one
face crop and one Grad-CAM overlay per item, so the client writes as much as for a real photo)
on many worker threads (``--sim-threads`` over at most 2 processes stands in for a large
cluster's worth of workers). The workers could deliver far more than the client can record, so
this measures the client: findings written per second by the one process that keeps the case.

Run (niced; at most 2 worker processes):
  OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python bench/dask_bench.py [--n 48] [--sim-items 2000]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


class MockScanner:
    """Scores without a network: sleeps ``latency_s`` per file (a fast worker's inference time) and
    returns one face with its crop, like the real scanner; a deterministic score from the content."""

    def __init__(self, latency_s: float = 0.05) -> None:
        import hashlib

        self.latency_s = latency_s
        sha = hashlib.sha256(b"mock-scorer").hexdigest()
        self.model = SimpleNamespace(card=SimpleNamespace(name="mock-scorer", sha256=sha, threshold=0.5))
        self.fps = 1.0

    def scan_file(self, path):
        from dfd_lib.media import load_image, sha256_file
        from dfd_lib.results import FaceResult, FileResult

        time.sleep(self.latency_s)
        sha, size = sha256_file(path), os.path.getsize(path)
        img = load_image(path)
        h, w = img.shape[:2]
        p = int(sha[:8], 16) / 0xFFFFFFFF
        card = self.model.card
        face = FaceResult(0, None, None, (0.0, 0.0, float(w), float(h)), (), 0.99, p, crop=img)
        return FileResult(
            str(path),
            "scored",
            "1 face(s) scored",
            sha,
            size,
            "image",
            "image/png",
            w,
            h,
            faces=(face,),
            score=p,
            verdict="fake" if p >= 0.5 else "real",
            aggregate="max",
            model_name=card.name,
            model_sha256=card.sha256,
            threshold=card.threshold,
        )

    def explain(self, face):
        return SimpleNamespace(overlay=(255 - face.crop).astype(np.uint8))


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its children (the cluster's workers and nannies)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _triage_runs(label: str, reps: int, evidence: Path, cases: Path, triage) -> tuple:
    """``reps`` triages of the same evidence into fresh cases; the median run's (dataframe, wall seconds,
    findings, cores busy) and all walls."""
    from dfd_lib.case import open_case

    runs = []
    for r in range(reps):
        with open_case(f"{label}-{r}", cases) as case:
            case.ingest([evidence])
            c0, t1 = _cpu_s(), time.perf_counter()
            df = triage(case)
            wall = time.perf_counter() - t1
            runs.append((df, wall, len(case.findings()), (_cpu_s() - c0) / wall))
    walls = [r[1] for r in runs]
    return sorted(runs, key=lambda r: r[1])[len(runs) // 2], walls


def _row(label: str, df, wall: float, findings: int, cores: float, walls: list, started: float, **extra) -> dict:
    n = int(df.attrs["analysed"])
    return {
        "label": label,
        "items": n,
        "failed": int(df.attrs["failed"]),
        "wall_s": wall,
        "walls": walls,
        "start_s": started,
        "per_item_s": wall / max(1, n),
        "findings": findings,
        "findings_per_s": findings / wall,
        "items_per_s": n / wall,
        "cores": cores,
        **extra,
    }


def _timed_dask(
    label: str, workers: int, evidence: Path, cases: Path, spec, forensics: bool, threads: int = 1, reps: int = 1
) -> dict:
    from dfd_lib.case.distributed import DaskTriage, dask_client

    t0 = time.perf_counter()
    with dask_client(workers=workers) if threads == 1 else _threaded_cluster(workers, threads) as client:
        dask = DaskTriage(client, spec)
        dask.prepare()  # cluster start and model load on every worker, timed apart from the triage
        started = time.perf_counter() - t0
        stats = []

        def triage(case):
            df = case.triage([], dask=dask, forensics=forensics)
            stats.append(dict(dask.stats))
            return df

        (df, wall, findings, cores), walls = _triage_runs(label, reps, evidence, cases, triage)
    st = stats[walls.index(wall)]
    return _row(
        label,
        df,
        wall,
        findings,
        cores,
        walls,
        started,
        task_s_mean=float(np.mean(st["task_s"])) if st["task_s"] else 0.0,
        workers=st.get("workers"),
        threads=st.get("threads"),
        write_s=st.get("write_s", 0.0),
    )


def _threaded_cluster(workers: int, threads: int):
    """A LocalCluster of ``workers`` processes with ``threads`` threads each (for the simulated run only)."""
    from contextlib import contextmanager

    @contextmanager
    def cm():
        import dask
        from distributed import Client, LocalCluster

        from dfd_lib.case.distributed import worker_env

        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=threads,
                processes=True,
                env=worker_env(),
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster, set_as_default=False)
            try:
                yield client
            finally:
                client.close()
                cluster.close()

    return cm()


def real_model(n: int, forensics: bool, tmp: Path, reps: int) -> list[dict]:
    from dfd_lib.case.distributed import ScannerSpec
    from dfd_lib.scan import Scanner

    sys.path.insert(0, str(BENCH))
    from scan_bench import make_images

    evidence = tmp / "photos"
    evidence.mkdir()
    make_images(evidence, n)
    cases = tmp / "cases"
    t0 = time.perf_counter()
    scanner = Scanner()
    scanner.warm_up()  # as a Dask worker does when it loads the model
    load_s = time.perf_counter() - t0
    (df, wall, findings, cores), walls = _triage_runs(
        "single", reps, evidence, cases, lambda case: case.triage([], scanner=scanner, forensics=forensics)
    )
    scanner.close()
    rows = [
        _row("single-process", df, wall, findings, cores, walls, load_s, task_s_mean=wall / n, workers=0, threads=1)
    ]
    for w in (1, 2):
        rows.append(_timed_dask(f"dask-{w}-worker", w, evidence, cases, ScannerSpec(), forensics, reps=reps))
    return rows


def simulated(items: int, procs: int, threads: int, latency: float, tmp: Path) -> dict:
    from PIL import Image

    from dfd_lib.case.distributed import ScannerSpec

    evidence = tmp / "sim"
    evidence.mkdir()
    rng = np.random.default_rng(1)
    for i in range(items):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(evidence / f"s{i:06d}.png")
    spec = ScannerSpec(factory="dask_bench:MockScanner", factory_kwargs={"latency_s": latency})
    return _timed_dask("simulated", procs, evidence, tmp / "cases", spec, False, threads=threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=48, help="photos for the real-model comparison (default 48)")
    ap.add_argument("--reps", type=int, default=3, help="triages per setting; the median is reported (default 3)")
    ap.add_argument("--forensics", action="store_true", help="run the forensic analyses too")
    ap.add_argument("--sim-items", type=int, default=2000, help="items in the simulated run (default 2000)")
    ap.add_argument("--sim-procs", type=int, default=2, help="worker processes in the simulated run (max 2 here)")
    ap.add_argument("--sim-threads", type=int, default=25, help="threads per worker process in the simulated run")
    ap.add_argument("--sim-latency", type=float, default=0.05, help="mocked scoring time per item in seconds")
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(BENCH)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    )
    sys.path.insert(0, str(BENCH))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    print(
        f"machine: {os.cpu_count()} CPU(s); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="dfd-dask-bench-") as tmp:
        tmp = Path(tmp)
        if not args.skip_real:
            rows = real_model(args.n, args.forensics, tmp, args.reps)
            print(
                f"\nreal model, {args.n} photos, forensics {'on' if args.forensics else 'off'}; median of "
                f"{args.reps} triages per setting (all triage times in brackets); cores = CPU seconds of the "
                "client and workers per wall second"
            )
            print(
                f"{'run':16} {'items':>5} {'failed':>6} {'start s':>8} {'triage s':>9} {'items/s':>8} {'task s':>7} "
                f"{'cores':>5}  runs"
            )
            for r in rows:
                print(
                    f"{r['label']:16} {r['items']:5d} {r['failed']:6d} {r['start_s']:8.2f} {r['wall_s']:9.2f} "
                    f"{r['items_per_s']:8.2f} {r['task_s_mean']:7.3f} {r['cores']:5.2f}  "
                    f"[{', '.join(f'{w:.2f}' for w in r['walls'])}]"
                )
            single, one, two = rows
            print(f"ratio 1 worker / single-process: {one['items_per_s'] / single['items_per_s']:.2f}x")
            print(f"ratio 2 workers / 1 worker:      {two['items_per_s'] / one['items_per_s']:.2f}x")
            print(f"ratio 2 workers / single-process: {two['items_per_s'] / single['items_per_s']:.2f}x")
            print(
                f"per-task overhead (1 worker: wall per item - worker compute per item): "
                f"{(one['per_item_s'] - one['task_s_mean']) * 1000:.1f} ms; "
                f"vs single-process per item: {(one['per_item_s'] - single['per_item_s']) * 1000:.1f} ms"
            )
        sim = simulated(args.sim_items, args.sim_procs, args.sim_threads, args.sim_latency, tmp)
        capacity = sim["threads"] / args.sim_latency
        print(
            f"\nsimulated run: {sim['items']} items, {sim['threads']} worker threads in {args.sim_procs} "
            f"process(es), mocked scoring {args.sim_latency * 1000:.0f} ms/item (workers could deliver "
            f"{capacity:.0f} items/s)"
        )
        print(
            f"client wrote {sim['findings']} findings ({sim['items']} items with crop + Grad-CAM artifacts and "
            f"custody entries) in {sim['wall_s']:.1f} s: {sim['findings_per_s']:.0f} findings/s, "
            f"{sim['items_per_s']:.0f} items/s; failed {sim['failed']}"
        )
        print(
            f"of which recording (artifacts, findings, custody, one transaction per item): {sim['write_s']:.1f} s "
            f"= {sim['write_s'] / max(1, sim['items']) * 1000:.1f} ms/item, i.e. the client alone could record "
            f"{sim['items'] / max(1e-9, sim['write_s']):.0f} items/s"
        )


if __name__ == "__main__":
    main()

"""Scale-out triage on a Dask cluster (``dfd triage --workers N`` / ``--scheduler tcp://HOST:PORT``).

Workers compute; the client records. Each Dask worker loads the model once, through a
:class:`ModelPlugin` that builds the same :class:`~dfd_lib.scan.Scanner` as single-process triage
(``load_model`` checks the weights against the card's SHA-256) and notes the worker's identity:
package version, weights SHA-256 and card SHA-256. The client compares every worker's identity
with its own before the run and again on every result: a worker that differs is refused and
nothing it computed is recorded.

A worker reads an item's write-once evidence copy from the case folder on a shared path (the
same path as on the client, or ``worker_case_dir``), or receives its bytes (``upload=True``);
either way it hashes what it read and refuses to score anything whose SHA-256 is not the one
recorded at intake. It returns the scan, Grad-CAM overlay and forensic results; the client, the
only process that opens the case database, writes each item's findings, artifacts and custody
entry in one transaction as the results arrive (``as_completed``), exactly as
:func:`dfd_lib.case.triage.triage_items` does. Findings are therefore the same as a
single-process run's (the params add which worker computed them), and a killed client resumes
like a killed single-process triage.

Faults: a worker that dies mid-task loses nothing: the scheduler runs its tasks again elsewhere
and the client writes each item once. A task that keeps killing workers (a poison file) is
given up after ``distributed.scheduler.allowed-failures`` deaths (``KilledWorker``); the item
then gets a detector finding with status ``error`` (retried by the next run, like any error).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import os
import socket
import sqlite3
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, cast

from ..env import WEIGHTS_DIR_ENV
from ..progress import Progress, ensure_progress
from .errors import CaseError
from .files import EVIDENCE_DIR, check_stored_name
from .triage import (
    Computed,
    HasModelCard,
    ItemOutcome,
    ScannerLike,
    _card_sha256,
    compute_detector,
    compute_forensics,
    forensics_for,
    load_forensics,
    model_identity,
    pending_work,
    record_analysis,
    scanner_params,
)

try:  # WorkerPlugin is the base class of ModelPlugin; the rest is imported where it is used
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - dask/distributed are dependencies; single-process triage never needs them
    WorkerPlugin = object  # type: ignore[assignment,misc]

__all__ = [
    "DEFAULT_ALLOWED_FAILURES",
    "ScannerSpec",
    "DaskTriage",
    "ModelPlugin",
    "tune_malloc",
    "local_identity",
    "identity_mismatch",
    "check_workers",
    "dask_client",
    "worker_env",
    "analyse_on_worker",
    "triage_items_dask",
]

log = logging.getLogger(__name__)

DEFAULT_ALLOWED_FAILURES = 2  # worker deaths a task may cause before it is given up (KilledWorker)
_IDENTITY_KEYS = ("tool_version", "model_sha256", "card_sha256")


@dataclass(frozen=True)
class ScannerSpec:
    """How to build the scanner, on the client (for identity and params) and on every worker.

    ``settings`` are :class:`~dfd_lib.scan.ScanSettings` keywords. ``factory`` (``"module:callable"``,
    called with ``factory_kwargs``) builds another :class:`~dfd_lib.case.triage.ScannerLike` instead of
    ``dfd_lib.scan.Scanner``; the module must be importable on the workers.
    """

    model: str | None = None
    weights_dir: str | None = None
    device: str = "cpu"
    settings: dict[str, Any] = field(default_factory=dict)
    factory: str | None = None
    factory_kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> ScannerLike:
        if self.factory:
            module, _, name = self.factory.partition(":")
            return getattr(importlib.import_module(module), name)(**self.factory_kwargs)
        from ..scan import Scanner

        return Scanner(self.model, weights_dir=self.weights_dir, device=self.device, **self.settings)

    def client_scanner(self) -> HasModelCard:
        """What the client needs of a scanner (``model.card``, ``settings``, ``device``) without loading
        the network: the card found as ``load_model`` finds it, its weights file checked against the
        card's SHA-256. Findings' params are then exactly those of a single-process run."""
        if self.factory:
            return self.build()
        from ..media import sha256_file
        from ..models.checkpoint import find_verified_card
        from ..scan import ScanSettings

        card_path, card, _weights = find_verified_card(self.model, self.weights_dir)
        model = SimpleNamespace(card=card, card_path=card_path, card_sha256=sha256_file(card_path))
        return SimpleNamespace(model=model, settings=ScanSettings(**self.settings), device=self.device)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


def local_identity(scanner: HasModelCard) -> dict[str, Any]:
    """Package version and model hashes of a (client or worker) scanner; compared across the cluster."""
    from .. import __version__

    card = scanner.model.card
    return {
        "tool_version": __version__,
        "model": str(card.name),
        "model_sha256": str(card.sha256),
        "card_sha256": _card_sha256(scanner.model),
    }


def identity_mismatch(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """Why a worker's identity is refused (None when it runs the client's version and model)."""
    if got.get("error"):
        return f"its model did not load: {got['error']}"
    diffs = [
        f"{k} {got.get(k)!s:.16} (this client: {expected.get(k)!s:.16})"
        for k in _IDENTITY_KEYS
        if got.get(k) != expected.get(k)
    ]
    return "; ".join(diffs) or None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def tune_malloc() -> bool:
    """Undo the effect of Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` (set by the nanny for every worker
    process) on torch: with that variable set, glibc stops raising its mmap threshold, so every large
    tensor is mmap'd and unmapped again, and CPU inference ran 1.65x slower in a worker (measured:
    12 photos 3.1 s against 1.9 s). Sets glibc's defaults' ceilings (mmap 32 MiB, trim 64 MiB);
    True when applied (Linux with glibc only)."""
    if os.environ.get("MALLOC_TRIM_THRESHOLD_") is None:
        return False  # glibc's dynamic thresholds are in force: nothing to undo
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20))
    except (OSError, AttributeError):  # not glibc
        return False


class ModelPlugin(WorkerPlugin):
    """Loads the model once per worker (verified by ``load_model``) with one torch thread per Dask thread."""

    def __init__(self, spec: ScannerSpec, expected: dict[str, Any], name: str) -> None:
        self.spec, self.expected, self.name = spec, expected, name
        self.scanner: ScannerLike | None = None
        self.identity: dict[str, Any] = {}
        self.mismatch: str | None = None

    async def setup(self, worker: Any) -> None:  # off the event loop: loading takes seconds
        await asyncio.get_running_loop().run_in_executor(None, self._load, worker)

    def _load(self, worker: Any) -> None:
        where = {"worker": str(worker.address), "host": socket.gethostname(), "pid": os.getpid()}
        try:
            import torch

            torch.set_num_threads(max(1, int(getattr(worker.state, "nthreads", 1) or 1)))
            if tune_malloc():
                log.info("dfd worker %s: glibc malloc thresholds restored for torch", worker.address)
            self.scanner = self.spec.build()
            warm_up = getattr(self.scanner, "warm_up", None)
            if callable(warm_up):  # lazy set-up (Grad-CAM hooks, first runs) here, not in the first item's time
                warm_up()
            self.identity = {**where, **local_identity(self.scanner)}
        except Exception as exc:  # reported to the client, which refuses this worker
            log.exception("dfd worker %s: the model did not load", worker.address)
            self.identity = {**where, "error": f"{type(exc).__name__}: {exc}"}
        self.mismatch = identity_mismatch(self.expected, self.identity)
        if self.mismatch:
            log.error("dfd worker %s refuses to analyse: %s", worker.address, self.mismatch)

    def teardown(self, worker: Any) -> None:
        close = getattr(self.scanner, "close", None)
        if callable(close):
            close()


def _plugin(name: str) -> ModelPlugin:
    from distributed import get_worker

    plugin = get_worker().plugins.get(name)
    if plugin is None:
        raise RuntimeError(f"this worker has no {name} plugin: the model was never loaded here")
    return cast(ModelPlugin, plugin)  # DaskTriage registers a ModelPlugin under this name


_NO_PLUGIN = "the model plugin is not installed on this worker"


def _worker_identity(dask_worker: Any = None, name: str = "") -> dict[str, Any]:
    plugin = dask_worker.plugins.get(name) if dask_worker is not None else None
    if plugin is None:
        return {"error": _NO_PLUGIN}
    return dict(plugin.identity)


@dataclass
class Remote:
    """A worker's answer for one item."""

    worker: dict[str, Any]
    computed: Computed | None = None
    refused: str | None = None  # the worker runs another version or model
    hash_mismatch: str | None = None  # what the worker read is not the recorded evidence
    elapsed_s: float = 0.0


def analyse_on_worker(
    plugin_name: str,
    item_id: int,
    sha256: str,
    stored_name: str,
    need_det: bool,
    need_for: bool,
    path: str | None,
    data: bytes | None,
) -> Remote:
    """Runs on a Dask worker: verify the evidence's SHA-256, then scan, explain and run the forensics."""
    t0 = time.perf_counter()
    plugin = _plugin(plugin_name)
    if plugin.mismatch:
        return Remote(dict(plugin.identity), refused=plugin.mismatch)
    check_stored_name(stored_name, sha256)  # the name becomes a path here: only a case's own names
    from ..media import sha256_file

    with tempfile.TemporaryDirectory(prefix="dfd-upload-") if data is not None else _no_dir() as tmp:
        if data is not None and tmp is not None:  # tmp is the upload folder exactly when data came
            target = Path(tmp) / stored_name
            target.write_bytes(data)
            del data
        elif path is not None:
            target = Path(path)
        else:
            raise TypeError("the task has neither a path nor the uploaded bytes")
        try:
            got = sha256_file(target)
        except OSError as exc:
            return Remote(dict(plugin.identity), hash_mismatch=f"the worker could not read {target}: {exc}")
        if got != sha256:
            return Remote(
                dict(plugin.identity),
                hash_mismatch=(
                    f"the worker read SHA-256 {got[:16]}... from {'the uploaded bytes' if path is None else target}, "
                    f"not the {sha256[:16]}... recorded at intake"
                ),
            )
        c = Computed(worker=dict(plugin.identity))
        if need_det:
            if plugin.scanner is None:  # a model that did not load is reported as plugin.mismatch above
                raise RuntimeError("the model is not loaded on this worker")
            compute_detector(target, item_id, sha256, plugin.scanner, c)
        if need_for:
            run_all = forensics_for(plugin.scanner, load_forensics())
            if run_all is not None:
                compute_forensics(target, item_id, run_all, c)
        c.encode_images()  # PNG here, not on the client that records every worker's results
    return Remote(dict(plugin.identity), computed=c, elapsed_s=time.perf_counter() - t0)


@contextmanager
def _no_dir() -> Iterator[None]:
    yield None


def worker_env() -> dict[str, str]:
    """Environment of local worker processes: one BLAS/OpenMP thread, and this process's import path,
    weights folder and allowed-failures."""
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for k in ("PYTHONPATH", WEIGHTS_DIR_ENV):
        if os.environ.get(k):
            env[k] = os.environ[k]
    return env


@contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
    dashboard: bool = False,
) -> Iterator[Any]:
    """A Dask client: connected to ``scheduler``, or to a new LocalCluster of ``workers`` processes
    with one thread each (torch threads follow: see ModelPlugin)."""
    import dask
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # dask logs every worker start and stop at INFO
        for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if (workers is None) == (scheduler is None):
        raise ValueError("give exactly one of workers and scheduler")
    if scheduler is not None:
        client = Client(scheduler, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
        return
    if workers is None:  # exactly one of workers and scheduler is given (checked above)
        raise ValueError("give exactly one of workers and scheduler")
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    # worker-saturation 1.0: a worker holds only the task it runs, so a worker killed by a poison file
    # counts against that file alone, never against innocent tasks queued behind it.
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": int(allowed_failures),
            "distributed.scheduler.worker-saturation": 1.0,
        }
    ):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            env=worker_env(),
            dashboard_address=":0" if dashboard else None,
            silence_logs=logging.ERROR,
        )
        try:
            client = Client(cluster, set_as_default=False)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()


def check_workers(client: Any, plugin_name: str, expected: dict[str, Any]) -> dict[str, dict]:
    """Every connected worker's identity; CaseError naming any worker whose version or model differs."""
    info = client.run(_worker_identity, name=plugin_name)
    if not info:
        raise CaseError("the Dask cluster has no workers")
    bad = {addr: why for addr, ident in info.items() if (why := identity_mismatch(expected, ident))}
    if bad:
        raise CaseError(
            "refusing Dask worker(s) that differ from this client (same package version and model "
            "needed): " + "; ".join(f"{a}: {w}" for a, w in sorted(bad.items()))
        )
    return info


@dataclass
class DaskTriage:
    """How :meth:`dfd_lib.case.Case.triage` distributes its analyses (``dask=`` argument)."""

    client: Any  # distributed.Client
    spec: ScannerSpec = field(default_factory=ScannerSpec)
    upload: bool = False  # send the evidence bytes instead of letting workers read the shared case folder
    worker_case_dir: str | None = None  # where workers see the case folder (default: the client's path)
    window: int | None = None  # tasks in flight (default: 2 per worker thread, at least 4)
    wait_workers_s: float = 120.0
    stats: dict[str, Any] = field(default_factory=dict)  # filled by the run: workers, per-task times

    def client_scanner(self) -> HasModelCard:
        if not hasattr(self, "_scanner"):
            self._scanner = self.spec.client_scanner()
        return self._scanner

    @property
    def plugin_name(self) -> str:
        """One name per scanner spec and model identity: a run with the same model reuses the model the
        workers already loaded; another model (or changed files) gets its own plugin."""
        ident = local_identity(self.client_scanner())
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
        return f"dfd-model-{self.spec.key()}-{digest}"

    def prepare(self) -> dict[str, dict]:
        """Load the model on every worker that lacks it (once per worker; the scheduler also installs it
        on workers that join later) and check that every worker runs this client's package version and
        model; returns each worker's identity."""
        expected = local_identity(self.client_scanner())
        name = self.plugin_name
        self.client.wait_for_workers(1, timeout=self.wait_workers_s)
        present = self.client.run(_worker_identity, name=name)
        if not present or any(i.get("error") == _NO_PLUGIN for i in present.values()):
            self.client.register_plugin(ModelPlugin(self.spec, expected, name), name=name)
        return check_workers(self.client, name, expected)

    def dashboard_link(self) -> str | None:
        try:
            return self.client.dashboard_link
        except Exception:  # no dashboard (bokeh missing, or disabled)
            return None


def _error_result(item: sqlite3.Row, path: Path, ident: Any, message: str) -> Any:
    from ..results import FileResult

    return FileResult(
        str(path),
        "error",
        message,
        item["sha256"],
        item["size"],
        model_name=ident.name,
        model_sha256=ident.sha256,
        threshold=ident.threshold,
    )


def triage_items_dask(
    conn: sqlite3.Connection,
    case_dir: Path,
    dask: DaskTriage,
    actor: str,
    progress: Progress | None = None,
    forensics: bool = True,
) -> tuple[list[ItemOutcome], bool]:
    """:func:`dfd_lib.case.triage.triage_items` with the analyses computed on Dask workers."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    progress = ensure_progress(progress)
    client = dask.client
    scanner = dask.client_scanner()
    ident = model_identity(scanner)
    params = scanner_params(scanner)
    expected = local_identity(scanner)
    work, run_all, refused = pending_work(conn, ident.name, ident.sha256, forensics)
    outcomes: list[ItemOutcome] = list(refused)
    if not work:
        return outcomes, False
    plugin_name = dask.plugin_name
    workers = dask.prepare()
    nthreads = sum(client.nthreads().values()) or 1
    window = dask.window or max(4, 2 * nthreads)
    evidence = case_dir / EVIDENCE_DIR
    remote_evidence = Path(dask.worker_case_dir) / EVIDENCE_DIR if dask.worker_case_dir else evidence
    dask.stats.update(
        workers=len(workers), threads=nthreads, task_s=[], written=0, write_s=0.0, started=time.perf_counter()
    )
    pending = iter(work)
    inflight: dict[str, tuple[sqlite3.Row, bool, bool]] = {}
    futures: dict[str, Any] = {}
    ac = as_completed(loop=client.loop)

    def submit_next() -> bool:
        nxt = next(pending, None)
        if nxt is None:
            return False
        item, need_det, need_for = nxt
        need_for = need_for and run_all is not None
        name = item["stored_name"]
        data = (evidence / name).read_bytes() if dask.upload else None
        fut = client.submit(
            analyse_on_worker,
            plugin_name,
            item["id"],
            item["sha256"],
            name,
            need_det,
            need_for,
            None if dask.upload else str(remote_evidence / name),
            data,
            key=f"dfd-item-{item['id']}-{uuid.uuid4().hex[:12]}",
            pure=False,
            retries=0,
        )
        inflight[fut.key] = nxt
        futures[fut.key] = fut
        ac.add(fut)
        return True

    cancelled = False
    progress.start(len(work), f"triage ({ident.name}) on {len(workers)} Dask worker(s)")
    try:
        for _ in range(window):
            if not submit_next():
                break
        for fut in ac:
            item, need_det, need_for = inflight.pop(fut.key)
            futures.pop(fut.key, None)
            path = evidence / item["stored_name"]
            worker = "-"
            try:
                try:
                    remote: Remote = fut.result()
                except KilledWorker as exc:
                    log.error(
                        "item %s (%s): Dask gave up after its analysis killed workers: %s",
                        item["id"],
                        item["original_name"],
                        exc,
                    )
                    c = Computed(
                        result=_error_result(
                            item,
                            path,
                            ident,
                            (
                                "the analysis killed the Dask worker running it on every attempt (KilledWorker after "
                                "the scheduler's allowed-failures); not analysed. Run triage again to retry, or "
                                "examine the file on its own"
                            ),
                        )
                    )
                    out = record_analysis(conn, case_dir, item, c, ident, params, actor)
                else:
                    worker = f"{remote.worker.get('host', '?')}:{remote.worker.get('pid', '?')}"
                    why = remote.refused or identity_mismatch(expected, remote.worker)
                    if why:
                        out = ItemOutcome(
                            item["id"],
                            item["sha256"],
                            "failed",
                            f"refused the result of Dask worker {remote.worker.get('worker')}: {why}",
                        )
                    elif remote.hash_mismatch:
                        out = ItemOutcome(
                            item["id"],
                            item["sha256"],
                            "failed",
                            f"not scored: {remote.hash_mismatch} (worker {remote.worker.get('worker')}"
                            "; check the shared case folder or use --upload)",
                        )
                    else:
                        computed = remote.computed
                        if computed is None:  # a worker that neither refused nor mismatched sends its analysis
                            raise CaseError(f"Dask worker {remote.worker.get('worker')} sent no analysis")
                        c = computed
                        if c.result is not None:  # the worker's path may be a temp file or another mount
                            c.result = replace(c.result, path=str(path))
                        dask.stats["task_s"].append(remote.elapsed_s)
                        t_write = time.perf_counter()
                        out = record_analysis(conn, case_dir, item, c, ident, params, actor)
                        dask.stats["write_s"] += time.perf_counter() - t_write
                        dask.stats["written"] += out.outcome == "analysed"
                    if out.outcome == "failed":
                        log.error("item %s (%s): %s", item["id"], item["original_name"], out.message)
            except Exception as exc:  # one bad item must not stop the batch; it stays pending for the next run
                log.error(
                    "item %s (%s): analysis failed: %s",
                    item["id"],
                    item["original_name"],
                    exc,
                    exc_info=not isinstance(exc, CaseError),
                )
                out = ItemOutcome(item["id"], item["sha256"], "failed", f"{type(exc).__name__}: {exc}")
            finally:
                fut.release()
            outcomes.append(out)
            progress.advance(1, item=item["id"], result=out.message or out.outcome, worker=worker)
            if progress.cancelled():
                cancelled = True
                log.info("triage cancelled after %d of %d items", len(outcomes), len(work))
                break
            submit_next()
    finally:
        if futures:  # cancelled or failed: what is still running is dropped (its items stay pending)
            client.cancel(list(futures.values()), force=True)
        ac.clear()
        progress.close()
        dask.stats["elapsed_s"] = time.perf_counter() - dask.stats["started"]
    return outcomes, cancelled

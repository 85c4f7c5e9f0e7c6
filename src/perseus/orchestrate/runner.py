"""`perseus run`: an experiment's kind runs its plan on real servers through a ServerLab (the Lab of
experiments.lab: one embedded Triton per placement), every trial stored as it finishes, so a re-run of the
same experiment skips what is done."""

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from perseus.config import ServerConfig, TenantConfig
from perseus.config.experiment import ExperimentBase
from perseus.core.errors import NodeLostError, PerseusError
from perseus.core.paths import runs_dir
from perseus.core.progress import Reporter
from perseus.core.reasons import JUDGING, judging, tail_samples_of
from perseus.experiments.lab import R, T
from perseus.experiments.references import Source, check_experiment, check_served
from perseus.experiments.registry import kind_of
from perseus.experiments.results import RUN_KIND
from perseus.models import resolve_model
from perseus.orchestrate.cluster import ray_cluster
from perseus.orchestrate.probe import ProbingServer
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.quiet import look_at_host
from perseus.orchestrate.ray_session import LiveSessions, ray_sessions
from perseus.orchestrate.session import ServerSession, Session
from perseus.store import Placement, Store, TrialRow

REQUEUES = 3  # runs of a placement, when nodes keep getting lost under it


@dataclass
class ServerLab:
    store: Store
    run_id: int
    experiment: ExperimentBase
    reporter: Reporter
    run_dir: Path
    plan: list[str]
    done: list[str] = field(default_factory=list)
    # How a placement's server is run: the embedded Triton, on a Ray node, or (unit tests) a model of one.
    session: Callable[[ServerConfig, Path, Reporter], AbstractContextManager[Session]] = ServerSession
    parallel: int = 1  # placements measured side by side (on Ray: one per measuring node)
    live: LiveSessions = field(default_factory=LiveSessions)  # Ray placements under way

    def phase(self, label: str) -> None:
        self.reporter.trial(label, len(self.done), len(self.plan))
        self.done.append(label)

    def status(self, text: str) -> None:
        self.reporter.status(text)

    def trials(self) -> list[TrialRow]:
        return self.store.trials(self.run_id)

    def each(self, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
        if self.parallel <= 1 or len(items) <= 1:  # in this thread: Ctrl-C stops the trial under way
            results: list[R] = []
            first: PerseusError | None = None
            for item in items:
                try:
                    results.append(requeued(partial(work, item), self.status))
                except PerseusError as exc:
                    first = first or exc
            if first is not None:
                raise first
            return results
        pool = ThreadPoolExecutor(min(self.parallel, len(items)), thread_name_prefix="perseus-placement")
        futures = [pool.submit(requeued, partial(work, item), self.status) for item in items]
        try:
            wait(futures)
        except BaseException:  # Ctrl-C: stop every node's server now instead of waiting for them
            self.live.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return [future.result() for future in futures]

    @contextmanager
    def serve(self, placement: Placement, tenants: tuple[TenantConfig, ...]) -> Iterator[ProbingServer]:
        folder = self.run_dir / _folder(placement)
        tail = tail_samples_of(self.store.run(self.run_id).provenance)  # a resumed run keeps its rule
        with self.session(ServerConfig(tenants=tenants), folder, self.reporter) as session:
            yield ProbingServer(
                self.store, self.run_id, session, self.experiment, self.reporter, placement, tail
            )


def requeued(work: Callable[[], R], status: Callable[[str], None]) -> R:
    """work(), run again when a node was lost under it: what it stored is kept, so only what was
    under way is measured again."""
    for attempt in range(1, REQUEUES + 1):
        try:
            return work()
        except NodeLostError as exc:
            if attempt == REQUEUES:
                raise
            status(f"{exc}: running the placement again ({attempt} of {REQUEUES - 1} re-runs)")
    raise AssertionError("unreachable")


def _folder(placement: Placement) -> str:
    """A folder name per placement (server logs, model repository): readable and filesystem-safe."""
    text = placement.label()
    return "".join(c if c.isalnum() or c in "-_.+=" else "_" for c in text)[:120]


def run_experiment(
    experiment: ExperimentBase,
    store: Store,
    reporter: Reporter,
    fresh: bool = False,
    source: Source = Source("experiment"),
    require_quiet_host: bool = False,
    ray: str | None = None,
) -> int:
    """Run (or resume) the experiment; returns its run id. A finished run with the same spec is not
    measured again unless `fresh`. Every reference it makes is resolved first (`source` says where the
    experiment came from, for the error line): a typo stores nothing and starts no server."""
    check_experiment(experiment, source)
    kind = kind_of(experiment.kind)
    spec = experiment.model_dump(mode="json")
    previous = None if fresh else store.find_run(RUN_KIND, spec)
    if previous is not None and previous.status == "done":
        reporter.status(f"already measured as run {previous.id} (use --fresh to measure again)")
        return previous.id
    # CNNs export up front (every spec was checked above, so a typo cannot follow a long export).
    infos = [resolve_model(tenant.model, on_status=reporter.status) for tenant in experiment.models]
    check_served(experiment, infos, source)
    if previous is not None:
        kept = len(store.trials(previous.id))
        reporter.status(f"resuming run {previous.id}: {kept} finished trials are kept and not re-run")
    with ExitStack() as stack:
        cluster = stack.enter_context(ray_cluster(ray, reporter.status)) if ray else None
        # A profile's placements go to nodes of the machine type it measures (checked before storing).
        measured = experiment.machine_refs().get("profile.machine")
        resources, slots = cluster.for_machine(measured) if cluster else ({}, 1)
        host = look_at_host(reporter, require_quiet_host)
        facts = (
            provenance(host, experiment.inputs)
            | {JUDGING: judging()}
            | ({"cluster": cluster.provenance()} if cluster else {})
        )
        with store.recording(RUN_KIND, spec, facts, resume=previous.id if previous else None) as run_id:
            lab = ServerLab(
                store, run_id, experiment, reporter, runs_dir() / f"run-{run_id}", kind.plan(experiment)
            )
            if cluster is not None:
                lab.session, lab.parallel = ray_sessions(lab.live, resources), slots
            requeued(lambda: kind.run(experiment, lab), reporter.status)
    return run_id

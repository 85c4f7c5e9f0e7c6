"""What a real run leaves behind, from one small experiment run by the CLI with its report: `--repeats`
searches again on fresh servers, the report is written, `report --export csv` holds exactly the requests
Triton itself counted, and `runs import` of its store keeps every request record and telemetry sample."""

import csv
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from perseus.experiments.results import experiment_results
from perseus.store import Store
from tests.integration.helpers import cli

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class RealRun:
    db: Path
    run_id: int
    stdout: str
    started: float  # wall clock before the run: whose server logs are this run's


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory, perseus_home: Path) -> RealRun:
    """λ of one sleeping model searched twice (`--repeats 2`), each search a bracket of two probes, and the
    run's report (terminal, HTML) as `perseus run` writes it: the path every user takes."""
    folder = tmp_path_factory.mktemp("real-run")
    started = time.time()
    spec = {
        "name": "twice",
        "kind": "peak",
        "models": ["synthetic-sleep:service_ms=5"],
        "sla": "p80=100ms",  # 25 latencies judge a p80: 1.5 s trials suffice
        "trial": {"warmup_s": 0.2, "min_duration_s": 1, "max_duration_s": 1.5, "tolerance": 0.5},
        "search": {"tolerance": 0.3, "max_probes": 2},  # a bracket is all these tests need
        "telemetry_interval_s": 0.5,
    }
    file = folder / "peak.yaml"
    file.write_text(yaml.safe_dump(spec))
    db = folder / "results.db"
    result = cli(["run", str(file), "--repeats", "2", "--db", str(db)])
    assert result.returncode == 0, result.stderr
    with Store(db) as store:
        (run,) = store.runs()
    return RealRun(db, run.id, result.stdout, started)


def test_repeats_search_again_on_fresh_servers(real_run: RealRun, perseus_home: Path) -> None:
    """`--repeats 2`: λ is searched twice, each time on a server of its own, and carries the interval of
    both searches, in the stored findings and in what `run` prints; the run's report is written."""
    assert "90% t-interval" in " ".join(real_run.stdout.split())  # the λ table says where it comes from
    with Store(real_run.db) as store:
        run = store.run(real_run.run_id)
        assert run.spec["repeats"] == 2 and run.status == "done"
        (lam,) = experiment_results(store, run.id).findings.peaks.values()
        repeats = {t.key.placement.setting.get("repeat") for t in store.trials(run.id) if t.key is not None}
    assert repeats == {None, 2}
    assert lam.total.searches == 2 and lam.total.low <= lam.total.value <= lam.total.high
    # Two servers, each with its own log: the second search did not reuse the first one's server. (Other
    # tests' runs share PERSEUS_HOME and may be run 1 of their own store too: only logs of this run count.)
    logs = (perseus_home / "runs" / f"run-{run.id}").glob("dedicated_synthetic-sleep*/tritonserver.log")
    ours = sorted(log.parent.name for log in logs if log.stat().st_mtime >= real_run.started)
    assert len(ours) == 2 and "repeat=2" in ours[1]
    # The report of a real run (not a fake's): the HTML page names the model and carries λ's figure.
    page = perseus_home / "reports" / f"run-{run.id}" / "report.html"
    assert page.stat().st_mtime >= real_run.started
    html = page.read_text()
    assert "synthetic-sleep" in html and f"{lam.total.value:.1f}" in html


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_exported_requests_are_the_ones_triton_counted(real_run: RealRun, tmp_path: Path) -> None:
    """`report --export csv`: per trial, the requests the CSV holds as served are exactly the requests
    Triton counted as served (its own nv_inference_request_success counter, scraped before the trial's
    first send and after its last reply), for every trial of the run: estimates and probes alike."""
    out = tmp_path / "export"
    result = cli(
        ["report", str(real_run.run_id), "--export", "csv", "--out", str(out), "--db", str(real_run.db)]
    )
    assert result.returncode == 0, result.stderr
    run = real_run.run_id
    served = Counter(
        (int(r["trial_id"]), r["tenant"]) for r in _rows(out / f"run-{run}-requests.csv") if r["ok"] == "True"
    )
    counter: dict[tuple[int, str], list[float]] = defaultdict(list)
    for row in _rows(out / f"run-{run}-telemetry.csv"):
        if row["source"] == "triton" and row["metric"] == "request_success":
            counter[(int(row["trial_id"]), row["tenant"])].append(float(row["value"]))
    # Samples are in time order: the counter's rise over the trial is what Triton served during it.
    counted = {key: round(values[-1] - values[0]) for key, values in counter.items()}
    trials = {int(r["trial_id"]) for r in _rows(out / f"run-{run}-trials.csv")}
    assert len(trials) >= 6  # 2 searches × (an estimate + 2 probes), and any attempt measured again
    assert {trial for trial, _ in counted} == trials
    assert set(served) <= set(counted)
    assert counted == {key: served[key] for key in counted}  # a Counter says 0 for a key it never saw
    assert sum(counted.values()) > 100  # the comparison counted something


def test_runs_import_keeps_every_record_and_sample(real_run: RealRun, tmp_path: Path) -> None:
    """`runs import` of the real run's store into one that holds a run already: the run comes over under
    a new id, each trial (by name) with as many request records, served ones and telemetry samples."""
    here = tmp_path / "here.db"
    with Store(here) as store:
        store.create_run("bench", {"name": "local"}, {})
    result = cli(["runs", "import", str(real_run.db), "--db", str(here)])
    assert result.returncode == 0, result.stderr
    assert f"there → here: {real_run.run_id} → 2" in " ".join(result.stdout.split())

    def counts(db: Path, run_id: int) -> dict[str, tuple[int, int, int]]:
        with Store(db) as store:
            found = {}
            for trial in store.trials(run_id):
                records = store.trial_records(trial.id).records
                found[trial.name] = (len(records), sum(r.ok for r in records), len(store.telemetry(trial.id)))
            return found

    theirs, mine = counts(real_run.db, real_run.run_id), counts(here, 2)
    assert mine == theirs
    assert len(theirs) >= 6 and all(n > 0 and samples > 0 for n, _, samples in theirs.values())

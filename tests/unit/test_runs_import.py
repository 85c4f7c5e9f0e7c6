"""`perseus runs import`: a store measured elsewhere merged into this one: runs, trials, request records
and telemetry under new ids, read back to the same findings; importing again copies nothing."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from perseus.cli.app import app
from perseus.core.errors import ConfigError
from perseus.core.records import RequestRecord, Sample
from perseus.experiments.results import experiment_results
from perseus.store import Store, TrialRow
from perseus.store.merge import import_store


def test_import_copies_runs_under_new_ids_and_reads_back_the_same(tmp_path: Path, profiled: Path) -> None:
    here = tmp_path / "here.db"
    with Store(here) as store:
        store.create_run("bench", {"name": "local"}, {})
        found = import_store(store, profiled)
        assert found.copied == {1: 2} and found.already == []
        again = import_store(store, profiled)
        assert again.copied == {} and again.already == [1]
        mine = experiment_results(store, 2)
        with Store(profiled) as other:
            theirs = experiment_results(other, 1)
            copies, originals = store.trials(2), other.trials(1)
            assert [t.name for t in copies] == [t.name for t in originals]
            for copy, original in zip(copies, originals, strict=True):  # every trial's rows, each to its own
                assert store.trial_records(copy.id) == other.trial_records(original.id)
                assert store.telemetry(copy.id) == other.telemetry(original.id)
            probe = next(
                t for t in copies if t.key is not None and t.key.offered == {"synthetic-sleep": 80.0}
            )
            _check_rows(store, probe)
    assert mine.findings.profile == theirs.findings.profile
    result = CliRunner().invoke(app, ["runs", "import", str(profiled), "--db", str(here)])
    assert result.exit_code == 0 and "1 run(s) already here" in result.output


def _check_rows(store: Store, probe: TrialRow) -> None:
    """The first probe of the sleeper alone, as fake_server stores it: 80 req/s on one instance of 10 ms,
    ρ = 0.8, p95 = 10 × (1 + 3 × 0.8/0.2) = 130 ms; its 2 requests 1/80 s = 12.5 ms apart, each taking
    130 ms, sent s µs late for its seed s; the tenant's CPU (ρ over the 1 s window) and memory, twice."""
    late = probe.spec["load"]["seed"] * 1000
    copied = store.trial_records(probe.id)
    assert (copied.start_ns, copied.window_start_ns, copied.window_end_ns) == (0, 0, 1_000_000_000)
    assert copied.records == [
        RequestRecord("synthetic-sleep", late, late, late + 130_000_000, True),
        RequestRecord("synthetic-sleep", 12_500_000 + late, 12_500_000 + late, 142_500_000 + late, True),
    ]
    mib_100 = 100 * 2**20
    assert store.telemetry(probe.id) == [
        Sample(0, "process", "synthetic-sleep", "cpu_s", 0.0),
        Sample(0, "process", "synthetic-sleep", "rss_bytes", mib_100),
        Sample(1_000_000_000, "process", "synthetic-sleep", "cpu_s", pytest.approx(0.8)),
        Sample(1_000_000_000, "process", "synthetic-sleep", "rss_bytes", mib_100),
    ]


def test_bad_imports_are_one_line(tmp_path: Path) -> None:
    with Store(tmp_path / "here.db") as store:
        with pytest.raises(ConfigError, match="no such file"):
            import_store(store, tmp_path / "missing.db")
        with pytest.raises(ConfigError, match="into itself"):
            import_store(store, tmp_path / "here.db")
        (tmp_path / "junk.db").write_text("not a database")
        with pytest.raises(ConfigError, match="cannot"):
            import_store(store, tmp_path / "junk.db")

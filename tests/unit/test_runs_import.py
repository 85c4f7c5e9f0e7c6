"""`perseus runs import`: a store measured elsewhere merged into this one: runs, trials, request records
and telemetry under new ids, read back to the same findings; importing again copies nothing."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from perseus.cli.app import app
from perseus.core.errors import ConfigError
from perseus.experiments.results import experiment_results
from perseus.store import Store
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
            assert len(store.trials(2)) == len(other.trials(1))
            first = other.trials(1)[0]
            assert store.trial_records(store.trials(2)[0].id) == other.trial_records(first.id)
    assert mine.findings.profile == theirs.findings.profile
    result = CliRunner().invoke(app, ["runs", "import", str(profiled), "--db", str(here)])
    assert result.exit_code == 0 and "1 run(s) already here" in result.output


def test_bad_imports_are_one_line(tmp_path: Path) -> None:
    with Store(tmp_path / "here.db") as store:
        with pytest.raises(ConfigError, match="no such file"):
            import_store(store, tmp_path / "missing.db")
        with pytest.raises(ConfigError, match="into itself"):
            import_store(store, tmp_path / "here.db")
        (tmp_path / "junk.db").write_text("not a database")
        with pytest.raises(ConfigError, match="cannot"):
            import_store(store, tmp_path / "junk.db")

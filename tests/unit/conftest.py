"""Fixtures several unit test modules share."""

from pathlib import Path

import pytest

from perseus.experiments.registry import parse_experiment
from perseus.store import Store
from tests.unit.fake_server import run_on
from tests.unit.test_kinds import CPU, CPU2, FAST, QUICK


@pytest.fixture(scope="session")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one profile run (3 synthetic models, a triple) measured on a model of a server."""
    db = tmp_path_factory.mktemp("plan") / "results.db"
    exp = parse_experiment(
        {
            "name": "fake profile",
            "kind": "profile",
            "models": [FAST, CPU, CPU2],
            **QUICK,
            "profile": {
                "machine": "gcp-n2-standard-2",
                "sets": [["synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2"]],
            },
        },
        "test",
    )
    with Store(db) as store:
        run_on(store, exp)
    return db

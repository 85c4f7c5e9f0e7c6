"""The input values are recorded with every measurement: in the run's provenance (a file with its path
and SHA-256) and in the load of every trial an experiment stores."""

import hashlib
from pathlib import Path

import numpy as np

from perseus.experiments.registry import parse_experiment
from perseus.models.inputs import input_provenance
from perseus.orchestrate.provenance import provenance
from perseus.store import Store
from tests.unit.fake_server import run_on
from tests.unit.test_kinds import QUICK


def _npz(tmp_path: Path, **arrays: np.ndarray) -> str:
    path = tmp_path / "inputs.npz"
    np.savez(path, **arrays)
    return f"file:{path}"


def test_a_run_records_its_inputs(tmp_path: Path) -> None:
    assert input_provenance("zeros") == {"data": "zeros", "values": "zeros (all zeros)"}
    assert provenance(None, "random")["inputs"]["data"] == "random"
    assert provenance()["inputs"]["data"] == "normal"
    data = _npz(tmp_path, x=np.zeros((2, 4), np.float32))
    facts = input_provenance(data)
    path = tmp_path / "inputs.npz"
    assert facts["path"] == str(path) and facts["tensors"] == {"x": "float32[2, 4]"}
    assert facts["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_trial_of_an_experiment_sends_its_inputs(tmp_path: Path) -> None:
    """The closed-loop look before a search and every probe of it: each load carries the setting."""
    experiment = parse_experiment(
        {
            "name": "t",
            "kind": "peak",
            "models": ["synthetic-sleep:service_ms=10"],
            "inputs": "zeros",
            **QUICK,
        },
        "test",
    )
    with Store(tmp_path / "results.db") as store:
        run_id, _ = run_on(store, experiment)
        trials = store.trials(run_id)
        assert store.run(run_id).spec["inputs"] == "zeros"
    assert len(trials) > 3 and {t.spec["load"]["inputs"] for t in trials} == {"zeros"}

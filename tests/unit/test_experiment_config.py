"""Experiment files: valid ones load; a bad one gives one line naming the file, the field and the problem."""

from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.experiments.registry import load_experiment

GOOD = """
name: fig1
kind: dedicated-vs-multitenant
models:
  - resnet50
  - {model: mobilenet_v2, instances: 2, cpus: "1"}
sla: {resnet50: p95=750ms, mobilenet_v2: p99=100ms}
share: {resnet50: 1, mobilenet_v2: 3}
search: {method: ramp, patience: 4}
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_good_file(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path, GOOD))
    assert exp.models[0].model == "resnet50" and exp.models[1].cpus == (1,)
    assert exp.sla_of("mobilenet_v2").percentile == 99 and exp.sla_of("resnet50").threshold_ns == 750_000_000
    assert exp.search.method == "ramp" and exp.trial.max_duration_s == 15.0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            ("search: {method: ramp, patience: 4}", "search: {method: ramp, patence: 4}"),
            "search.patence: Extra inputs",
        ),
        (("p95=750ms", "p95=750 parsecs"), "sla: cannot read duration"),
        (("kind: dedicated-vs-multitenant", "kind: fastest"), "kind: must be one of peak, dedicated-vs-"),
        (
            ("search: {method", "frontier: {fractions: [0.5]}\nsearch: {method"),
            "frontier: not a section of kind",
        ),
        (("search: {method", "knobs: {instances: [1]}\nsearch: {method"), "knobs: not a section of kind"),
        (
            ("share: {resnet50: 1, mobilenet_v2: 3}", "share: {resnet50: 1, vgg: 3}"),
            "share: unknown model 'vgg'; the experiment has: resnet50, mobilenet_v2",
        ),
        (
            ("mobilenet_v2: p99=100ms", "mobilenet_v3: p99=100ms"),
            "sla: unknown model 'mobilenet_v3' (did you mean 'mobilenet_v2'?); the experiment has: resnet50,",
        ),
        (
            ("mobilenet_v2: p99=100ms}", "}"),
            "sla: per model, it must name every model; mobilenet_v2 has none",
        ),
        (
            ("search: {method: ramp, patience: 4}", "serch: {method: ramp}"),
            "serch: Extra inputs are not permitted (did you mean 'search'?)",
        ),
        (
            ("instances: 2,", "instancs: 2,"),
            "models.1.instancs: Extra inputs are not permitted (did you mean 'instances'?)",
        ),
        (("kind: dedicated-vs-multitenant", "kind: fronteir"), "got 'fronteir' (did you mean 'frontier'?)"),
        (("  - resnet50\n", ""), "compares exactly two models"),
        (('cpus: "1"', 'cpus: "x"'), "models.1.cpus"),
        (("name: fig1\n", ""), "name: Field required"),
        (("name: fig1\n", "name: fig1\ninputs: zero\n"), "inputs: unknown input data 'zero' (did you mean"),
        (
            ("name: fig1\n", "name: fig1\ninputs: file:x.json\n"),
            "inputs: 'file:x.json': the file must be .npz",
        ),
    ],
)
def test_bad_files(tmp_path: Path, change: tuple[str, str], needle: str) -> None:
    assert change[0] in GOOD
    path = _file(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and needle in message and "\n" not in message


def test_unreadable_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_experiment(_file(tmp_path, "- a\n- b\n"))


def test_shipped_experiments_load() -> None:
    shipped = sorted(Path(__file__).resolve().parents[2].joinpath("experiments").glob("*.yaml"))
    assert {p.name for p in shipped} >= {
        "paper-fig1.yaml",
        "paper-fig2.yaml",
        "veltair-qos.yaml",
        "interference.yaml",
        "knobs.yaml",
    }
    for path in shipped:
        load_experiment(path)


def test_a_section_of_another_kind_is_named(tmp_path: Path) -> None:
    """A `frontier:` section in a knobs file used to be ignored silently; now it is one line."""
    text = "name: k\nkind: knobs\nmodels: [a, b]\nknobs: {instances: [1, 2]}\nfrontier: {fractions: [0.5]}\n"
    with pytest.raises(ConfigError) as caught:
        load_experiment(_file(tmp_path, text))
    assert (
        str(caught.value)
        == f"{tmp_path / 'exp.yaml'}: frontier: not a section of kind knobs (it belongs to frontier)"
    )
    with pytest.raises(ConfigError, match="share: not a section of kind peak"):
        load_experiment(_file(tmp_path, "name: p\nkind: peak\nmodels: [a]\nshare: {a: 1}\n"))
    with pytest.raises(ConfigError, match=r"frontir: Extra inputs are not permitted$"):  # a typo stays a typo
        load_experiment(_file(tmp_path, "name: p\nkind: peak\nmodels: [a]\nfrontir: {}\n"))


def test_the_default_inputs_leave_a_stored_spec_as_it_was(tmp_path: Path) -> None:
    """`inputs: normal` (the default, what perseus always sent) is left out of the stored spec, as
    `repeats: 1` is: a run stored before the setting existed has the same spec, so it resumes. Another
    value is part of the spec: a different measurement, a different run."""
    plain = load_experiment(_file(tmp_path, GOOD)).model_dump(mode="json")
    assert "inputs" not in plain and "repeats" not in plain
    said = load_experiment(_file(tmp_path, GOOD + "inputs: normal\n"))
    assert said.inputs == "normal" and said.model_dump(mode="json") == plain
    zeros = load_experiment(_file(tmp_path, GOOD + "inputs: zeros\n")).model_dump(mode="json")
    assert zeros == {**plain, "inputs": "zeros"}
    for path in Path(__file__).resolve().parents[2].joinpath("experiments").glob("*.yaml"):
        assert "inputs" not in load_experiment(path).model_dump(mode="json")

"""Every reference an experiment makes, resolved before anything is measured or stored: its models (zoo
names, synthetic specs, models added with `perseus models add`, whose copy must still be in the cache), the
CPUs it pins (they must exist on this host), the price catalog and the machines priced on it, the fleet file
a profile chooses its pairs by, the batch sizes its models take, and a file of input tensors (every model
must take its arrays). A bad value is one line naming the value, where it is (file and key, or the flag
that set it) and the valid ones, with "did you mean …" when one is close. Typos found after an hour of
measuring cost the hour: that is what this module is for."""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from perseus.config.experiment import ExperimentBase
from perseus.config.inputs import input_file
from perseus.config.prices import load_catalog
from perseus.config.serving import format_cpuset
from perseus.core.errors import ConfigError, PerseusError
from perseus.core.names import unknown
from perseus.experiments import knobs, profile
from perseus.experiments.registry import KINDS
from perseus.models import ModelInfo, check_model
from perseus.models.inputs import make_inputs, read_input_file, tensors_of


@dataclass(frozen=True)
class Source:
    """Where an experiment came from, so a bad value can be pointed at: a file and its keys, or the
    command-line flags that set them (`perseus demo` builds its experiment from flags)."""

    name: str  # the file, or the command
    flags: Mapping[str, str] = field(default_factory=dict)  # key (e.g. "price.machines") → its flag

    def at(self, key: str) -> str:
        """`exp.yaml: price.machines.0`, or the flag that set that key (`--machine`)."""
        for prefix, flag in self.flags.items():
            if key == prefix or key.startswith(f"{prefix}."):
                return flag
        return f"{self.name}: {key}"


def check_experiment(experiment: ExperimentBase, source: Source) -> None:
    """Everything that can be checked without exporting a model; raises at the first bad value."""
    _models(experiment, source)
    _cpus(experiment, source)
    _price(experiment, source)
    _fleet(experiment, source)
    path = input_file(experiment.inputs)
    if path is not None:
        try:
            read_input_file(path)
        except ConfigError as exc:
            raise ConfigError(f"{source.at('inputs')}: {exc}") from None


def _models(experiment: ExperimentBase, source: Source) -> None:
    for index, tenant in enumerate(experiment.models):
        try:
            check_model(tenant.model)
        except PerseusError as exc:  # the same kind of error, now saying where the spec is
            raise type(exc)(f"{source.at(f'models.{index}')}: {exc}") from None


def _cpus(experiment: ExperimentBase, source: Source) -> None:
    # The kernel refuses a cpuset beyond this process's affinity: found at server start, it would end
    # the run after every placement before it was measured.
    usable = os.sched_getaffinity(0)
    for index, tenant in enumerate(experiment.models):
        missing = sorted(set(tenant.cpus or ()) - usable)
        if missing:
            raise ConfigError(
                f"{source.at(f'models.{index}.cpus')}: CPU{'s' if len(missing) > 1 else ''} "
                f"{format_cpuset(missing)} of {tenant.model} "
                f"cannot be used on this host (usable: {format_cpuset(sorted(usable))})"
            )


def _fleet(experiment: ExperimentBase, source: Source) -> None:
    """profile's `pairs: auto`: its fleet file reads, names only profiled models, and prices this machine."""
    if isinstance(experiment, profile.Settings):
        try:
            profile.fleet_demand(experiment)
        except ConfigError as exc:
            raise ConfigError(f"{source.at('profile.fleet')}: {exc}") from None


def _price(experiment: ExperimentBase, source: Source) -> None:
    if not experiment.PRICED:
        # Every kind carries the default price section; one written in the file is a request to price.
        if "price" in experiment.model_fields_set:
            priced = ", ".join(k.NAME for k in KINDS if k.Settings.PRICED)
            raise ConfigError(
                f"{source.at('price')}: kind {experiment.kind} prices nothing (kinds that do: {priced});"
                " remove the section"
            )
        return
    catalog_path = experiment.price.catalog
    try:
        catalog = load_catalog(catalog_path)
    except ConfigError as exc:
        raise ConfigError(f"{source.at('price.catalog')}: {exc}") from None
    among = f"the price catalog {catalog_path} has" if catalog_path else "the price catalog has"
    for key, machine_id in experiment.machine_refs().items():
        if catalog.find(machine_id) is None:
            raise ConfigError(f"{source.at(key)}: {unknown('machine', machine_id, catalog.ids(), among)}")


def check_served(experiment: ExperimentBase, infos: Sequence[ModelInfo], source: Source) -> None:
    """Once the models are resolved (a CNN exported): the batching each is asked for, it can take."""
    grid = experiment.knobs.dynamic_batching if isinstance(experiment, knobs.Settings) else ()
    batch = experiment.load.batch
    for index, (tenant, info) in enumerate(zip(experiment.models, infos, strict=True)):
        if info.batch_dynamic:
            if batch > tenant.max_batch_size:
                raise ConfigError(
                    f"{source.at('load.batch')}: {batch} exceeds max_batch_size {tenant.max_batch_size} "
                    f"of {tenant.model} (models.{index})"
                )
            continue
        shape = list(info.inputs[0].shape) if info.inputs else []
        fixed = f"{tenant.model} (models.{index}) has a fixed input shape {shape}"
        if tenant.dynamic_batching or True in grid:
            key = f"models.{index}.dynamic_batching" if tenant.dynamic_batching else "knobs.dynamic_batching"
            raise ConfigError(f"{source.at(key)}: {fixed}; dynamic batching needs a dynamic batch dimension")
        if batch != 1:
            raise ConfigError(f"{source.at('load.batch')}: {batch}: {fixed}; the batch must be 1")
    if input_file(experiment.inputs) is not None:
        for index, (tenant, info) in enumerate(zip(experiment.models, infos, strict=True)):
            try:
                make_inputs(experiment.inputs, tensors_of(info), batch)
            except ConfigError as exc:
                raise ConfigError(f"{source.at('inputs')}: {tenant.model} (models.{index}): {exc}") from None

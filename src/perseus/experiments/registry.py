"""The registry: every experiment kind, one line each. A kind is a module of this package (settings,
plan, run, analysis) and the report module it names (tables and figures); ARCHITECTURE.md shows how to
add one. An experiment file is read into the settings of the kind it names."""

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from perseus.config.experiment import ExperimentBase
from perseus.config.loading import read_yaml, validation_line
from perseus.core.errors import ConfigError
from perseus.core.names import did_you_mean
from perseus.experiments import deploy, fig1, frontier, interference, knobs, peak, profile, qos
from perseus.experiments.lab import Kind

KINDS: tuple[Kind, ...] = (
    peak,
    fig1,
    frontier,
    qos,
    interference,
    knobs,
    profile,
    deploy,
)


def kind_of(name: str, kinds: tuple[Kind, ...] | None = None) -> Kind:
    found = {k.NAME: k for k in kinds or KINDS}
    if name not in found:
        raise ConfigError(f"kind {name!r} is not one of: {', '.join(found)}")
    return found[name]


@cache
def _adapter(kinds: tuple[Kind, ...]) -> TypeAdapter[Any]:
    union = Union[tuple(k.Settings for k in kinds)]  # type: ignore[valid-type]  # noqa: UP007
    tagged: Any = Annotated[union, Field(discriminator="kind")]
    return TypeAdapter(tagged)


def parse_experiment(
    data: dict[str, Any], where: str, kinds: tuple[Kind, ...] | None = None
) -> ExperimentBase:
    """An experiment of the kind `data` names; a section of another kind, or any problem, is one line."""
    chosen = kinds or KINDS
    name = data.get("kind")
    names = [k.NAME for k in chosen]
    if not isinstance(name, str) or name not in names:
        hint = did_you_mean(name, names) if isinstance(name, str) else ""
        raise ConfigError(f"{where}: kind: must be one of {', '.join(names)}, got {name!r}{hint}")
    try:
        experiment = _adapter(chosen).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        section = first["loc"][1] if first["type"] == "extra_forbidden" and len(first["loc"]) == 2 else None
        owners = [k.NAME for k in chosen if section in k.Settings.model_fields]
        if owners:  # a section of another kind, not a typo
            raise ConfigError(
                f"{where}: {section}: not a section of kind {name} (it belongs to {', '.join(owners)})"
            ) from None
        kind = kind_of(name, chosen)
        hint = _misspelt(kind.Settings, first["loc"][1:]) if first["type"] == "extra_forbidden" else ""
        raise ConfigError(validation_line(exc, where, skip=1, hint=hint)) from None
    assert isinstance(experiment, ExperimentBase)
    return experiment


def _misspelt(settings: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """For a key no section has (`serch`, `search.patence`, `models.0.instancs`): the key it is most like,
    if one is close."""
    at: Any = settings
    for part in loc[:-1]:
        if isinstance(part, int):  # an item of a tuple of models, e.g. models.0
            args = get_args(at)
            at = args[0] if get_origin(at) is tuple and args else None
        elif isinstance(at, type) and issubclass(at, BaseModel) and part in at.model_fields:
            at = at.model_fields[part].annotation
        else:
            return ""  # inside a mapping: no field names to compare with
    if not (isinstance(at, type) and issubclass(at, BaseModel)):
        return ""
    return did_you_mean(str(loc[-1]), list(at.model_fields))


def load_experiment(path: Path) -> ExperimentBase:
    return parse_experiment(read_yaml(path), str(path))


def stored_experiment(spec: dict[str, Any], where: str) -> ExperimentBase:
    """The experiment a stored run's spec is. A spec without `search.opening` was stored before it
    existed (or says `wide`, which its spec leaves out): its searches opened wide, so it is read so, and
    a resumed run replays the probes it measured."""
    search = spec.get("search")
    opened = {"opening": "wide", **search} if isinstance(search, dict) else {"opening": "wide"}
    return parse_experiment({**spec, "search": opened}, where)

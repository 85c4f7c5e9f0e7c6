"""The zoo catalog: list models, resolve a `NAME:k=v` spec to a ModelInfo, export on demand."""

from collections.abc import Callable
from pathlib import Path

import onnx

from perseus.core.errors import ModelError
from perseus.core.names import unknown
from perseus.models import cache, synthetic
from perseus.models.export import CNNS, CnnEntry, export_cnn, source_of
from perseus.models.inspect_onnx import describe
from perseus.models.spec import (
    WEIGHTS_RANDOM,
    WEIGHTS_SYNTHETIC,
    WEIGHTS_USER,
    ModelInfo,
    ModelSpec,
    ZooEntry,
    format_spec,
    parse_spec,
    valid_name,
)

StatusFn = Callable[[str], None]


def byo_models() -> dict[str, ModelInfo]:
    """Every bring-your-own model in the cache, by name."""
    found: dict[str, ModelInfo] = {}
    for name in cache.cached_names():
        info = cache.read_cached(name)
        if info is not None and info.weights == WEIGHTS_USER and info.name == name:
            found[name] = info
    return found


def builtin_names() -> list[str]:
    return [*CNNS, *synthetic.NAMES]


def _unknown(base: str) -> ModelError:
    """Unknown, or a model added with `perseus models add` whose copy in the cache has gone."""
    added = cache.read_sidecar(base) if valid_name(base) else None
    if added is not None and added.weights == WEIGHTS_USER and added.name == base:
        copy = cache.entry_dir(base) / cache.ONNX_FILE
        return ModelError(
            f"model {base!r} was added from {added.source.removeprefix('user file ')} but its copy {copy} "
            f"is missing; add it again with `perseus models add {base} FILE --force`"
        )
    return ModelError(unknown("model", base, [*builtin_names(), *byo_models()]))


def _no_options(parsed: ModelSpec) -> None:
    if parsed.options:
        keys = ", ".join(sorted(parsed.options))
        raise ModelError(f"model {parsed.base!r} takes no options; got {keys}")


def _load_and_describe(
    path: Path, *, name: str, base: str, source: str, weights: str, options: dict[str, str]
) -> ModelInfo:
    model = onnx.load(str(path))
    return describe(
        model, name=name, base=base, path=str(path), source=source, weights=weights, options=options
    )


def _cached_as(cache_name: str, name: str) -> ModelInfo | None:
    # A sidecar for another model (hand-edited, or a stale layout) does not count as this one.
    info = cache.read_cached(cache_name)
    return info if info is not None and info.name == name else None


def _export_cnn(entry: CnnEntry) -> ModelInfo:
    source = source_of(entry)
    return cache.store(
        entry.name,
        lambda dest: export_cnn(entry, dest),
        lambda path: _load_and_describe(
            path, name=entry.name, base=entry.name, source=source, weights=WEIGHTS_RANDOM, options={}
        ),
    )


def _resolve_cnn(
    entry: CnnEntry, export_missing: bool, status: str | None, on_status: StatusFn | None
) -> ModelInfo:
    cached = _cached_as(entry.name, entry.name)
    if cached is not None:
        return cached
    if not export_missing:
        raise ModelError(
            f"model {entry.name!r} is not exported yet; export it first (takes ~{entry.export_s} s)"
        )
    if on_status is not None and status is not None:
        on_status(status.format(name=entry.name, seconds=entry.export_s))
    return _export_cnn(entry)


def _resolve_cpu(options: dict[str, str]) -> ModelInfo:
    # Built even when export_missing is False: it takes well under a second and needs no torch.
    name = format_spec(synthetic.CPU, options)
    cache_name = synthetic.cpu_cache_name(options)
    cached = _cached_as(cache_name, name)
    if cached is not None:
        return cached
    model = synthetic.build_cpu_model(int(options["dim"]), int(options["layers"]))
    return cache.store(
        cache_name,
        lambda dest: onnx.save(model, str(dest)),
        lambda path: describe(
            model,
            name=name,
            base=synthetic.CPU,
            path=str(path),
            source=synthetic.SOURCE,
            weights=WEIGHTS_SYNTHETIC,
            options=options,
        ),
    )


def _resolve(
    parsed: ModelSpec, export_missing: bool, status: str | None, on_status: StatusFn | None
) -> ModelInfo:
    if parsed.base == synthetic.SLEEP:
        return synthetic.sleep_info(synthetic.sleep_options(parsed.options))
    if parsed.base == synthetic.CPU:
        return _resolve_cpu(synthetic.cpu_options(parsed.options))
    if parsed.base in CNNS:
        _no_options(parsed)
        return _resolve_cnn(CNNS[parsed.base], export_missing, status, on_status)
    if valid_name(parsed.base):
        info = _cached_as(parsed.base, parsed.base)
        if info is not None and info.weights == WEIGHTS_USER:
            _no_options(parsed)
            return info
    raise _unknown(parsed.base)


def resolve_model(spec: str, *, export_missing: bool = True, on_status: StatusFn | None = None) -> ModelInfo:
    """`NAME` or `NAME:key=value:...` → ModelInfo, exporting a CNN on first use if allowed."""
    return _resolve(parse_spec(spec), export_missing, "exporting {name} (first use, ~{seconds} s)", on_status)


def export_models(names: list[str], on_status: StatusFn | None = None) -> list[ModelInfo]:
    """Make sure each model is in the cache; models already there with a valid sidecar are reused."""
    # Check every spec before exporting anything, so a typo in the last name fails in milliseconds.
    parsed = [parse_spec(name) for name in names]
    for spec in parsed:
        _check(spec)
    return [_resolve(spec, True, "exporting {name} (~{seconds} s)", on_status) for spec in parsed]


def check_model(spec: str) -> None:
    """A model spec names a model perseus can serve, with options it takes (a bring-your-own model's file
    is still in the cache); nothing is exported or built."""
    _check(parse_spec(spec))


def _check(parsed: ModelSpec) -> None:
    """Validate name and options without writing to the cache."""
    if parsed.base == synthetic.SLEEP:
        synthetic.sleep_options(parsed.options)
    elif parsed.base == synthetic.CPU:
        synthetic.cpu_options(parsed.options)
    elif parsed.base in CNNS or parsed.base in byo_models():
        _no_options(parsed)
    else:
        raise _unknown(parsed.base)


def list_models() -> list[ZooEntry]:
    """All CNNs, the two synthetic models and every bring-your-own model in the cache."""
    entries = [
        ZooEntry(
            name=entry.name,
            family="cnn",
            description=entry.description,
            input_shape=(-1, 3, entry.size, entry.size),
            exported=_cached_as(entry.name, entry.name) is not None,
        )
        for entry in CNNS.values()
    ]
    cpu_defaults = synthetic.cpu_options({})
    entries.append(
        ZooEntry(
            name=synthetic.CPU,
            family="synthetic",
            description=synthetic.DESCRIPTIONS[synthetic.CPU],
            input_shape=(-1, int(cpu_defaults["dim"])),
            # "exported" refers to the default configuration; other options build in milliseconds.
            exported=_cached_as(
                synthetic.cpu_cache_name(cpu_defaults), format_spec(synthetic.CPU, cpu_defaults)
            )
            is not None,
        )
    )
    entries.append(
        ZooEntry(
            name=synthetic.SLEEP,
            family="synthetic",
            description=synthetic.DESCRIPTIONS[synthetic.SLEEP],
            input_shape=(-1, 1),
            exported=True,  # nothing to export: the serving layer implements it
        )
    )
    for name, info in byo_models().items():
        entries.append(
            ZooEntry(
                name=name,
                family="byo",
                description=f"bring-your-own ONNX ({info.source})",
                input_shape=info.inputs[0].shape if info.inputs else (),
                exported=True,
            )
        )
    return entries

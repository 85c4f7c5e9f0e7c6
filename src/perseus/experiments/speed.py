"""The host's speed when a profile was taken, as a validation compares it: each model's short closed-loop
look alone (concurrency = its instances), at each setting the profile searched it at. A validation looks
again at the setting the plan serves the model at (alone at its best on a machine of its own, as
configured where it shares one): one CPU lost halves what two single-threaded instances serve, where one
request at a time of a model as configured may barely notice it."""

import json
import statistics
from collections.abc import Mapping

from perseus.experiments import profile as profile_kind
from perseus.experiments.analysis import trials_of
from perseus.experiments.placements import ESTIMATE, dedicated
from perseus.experiments.registry import stored_experiment
from perseus.store import Store
from perseus.store.keys import Scalar

Knobs = Mapping[str, Scalar] | None  # a setting alone (None: as configured)
Looks = dict[str, dict[str, float]]  # per model: setting_key(knobs) → closed-loop req/s


def setting_key(knobs: Knobs) -> str:
    """A setting as one comparable word (the empty setting and None, as configured, alike)."""
    return json.dumps(dict(knobs or {}), sort_keys=True)


def profiled_looks(store: Store, run_ids: list[int]) -> Looks:
    """Each model's closed-loop req/s alone in the profile runs, per setting searched (the short look each
    search starts from; a confirmation's, on the fresh server the setting chosen as best was searched
    again on, before the first search's): the median over the runs that looked."""
    found: dict[str, dict[str, list[float]]] = {}
    for run_id in run_ids:
        exp = stored_experiment(store.run(run_id).spec, f"run {run_id}")
        rows = store.trials(run_id)
        settings = profile_kind.solo_settings(exp) if isinstance(exp, profile_kind.Settings) else [None]
        for key in exp.model_keys():
            for knobs in settings:
                for confirm in (True, False):
                    where = dedicated(exp, key, knobs, confirm=confirm)
                    (name,) = where.names
                    looks = trials_of(rows, where, ESTIMATE, tenant=name)
                    rate = float(looks[-1].summary.value(name, "throughput_rps", 0.0)) if looks else 0.0
                    if rate > 0:
                        found.setdefault(key, {}).setdefault(setting_key(knobs), []).append(rate)
                        break
    return {k: {s: statistics.median(v) for s, v in by.items()} for k, by in found.items()}

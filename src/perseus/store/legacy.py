"""Schema 4: stores written before trials carried typed keys are rewritten once, when opened.

Before, a trial's meaning lived in strings: its name ("dedicated/a|peak|a=1.0000|retry1"), its spec's
`phase` ("knobs[0]/shared", "pair/a+b", "copies4/pinned") and `label` ("frontier f=0.5", "peak beside b").
This module is the only place that reads those strings, to write each trial's TrialKey (and the name
derived from it), its summary in the typed layout, and each experiment run's spec without the sections
that did not belong to its kind (they were stored at their defaults). Frozen history: new kinds never
touch it."""

import json
import sqlite3
from typing import Any

from perseus.store.keys import Placement, Scalar, TrialKey
from perseus.store.summary import from_legacy

# The sections of the one experiment model of the previous release, by the kinds that used them.
SECTIONS = ("share", "frontier", "qos", "interference", "knobs")
KIND_SECTIONS = {
    "peak": (),
    "dedicated-vs-multitenant": ("share",),
    "frontier": ("share", "frontier"),
    "qos-sweep": ("qos",),
    "interference": ("interference",),
    "knobs": ("share", "knobs"),
}
DEDICATED_KNOBS = ("instances", "dynamic_batching", "intra_op_threads")


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """An experiment spec of the previous release without the sections its kind did not use."""
    keep = KIND_SECTIONS.get(str(spec.get("kind")), SECTIONS)
    return {k: v for k, v in spec.items() if k not in SECTIONS or k in keep}


def _placement(spec: dict[str, Any]) -> Placement:
    phase = str(spec["phase"])
    tenants = tuple((str(t), str(m)) for t, m in (spec.get("models") or {}).items())
    setting: dict[str, Any] = dict(spec.get("setting") or {})
    knobs = phase.startswith("knobs[")
    if "dedicated/" in phase:
        return Placement("dedicated", tenants, {k: setting[k] for k in DEDICATED_KNOBS} if knobs else {})
    if phase.endswith("shared"):
        return Placement("shared", tenants, setting if knobs else {})
    if phase.startswith("pair/"):
        return Placement("pair", tenants)
    if phase.startswith("copies"):
        return Placement("copies", tenants, {"pinned": phase.endswith("/pinned")})
    raise ValueError(f"unknown phase {phase!r}")


def _after(label: str, marker: str) -> float:
    return float(label.split(marker, 1)[1].split()[0])


def _purpose(label: str, spec: dict[str, Any], placement: Placement) -> tuple[str, dict[str, Scalar]]:
    names = placement.names
    if label == "estimate":
        return "estimate", {"tenant": str(spec["tenants"][0])}
    if label == "peak":
        return "peak", {"tenant": names[0]}
    if label.startswith("peak beside "):
        aggressor = label.removeprefix("peak beside ")
        return "peak", {"tenant": next(n for n in names if n != aggressor)}
    if label == "shared peak":
        return "shared-peak", {}
    if label.startswith("frontier f="):
        return "frontier", {"fraction": _after(label, "f=")}
    if label.startswith("qos f="):
        return "qos", {"fraction": _after(label, "f=")}
    if label.startswith(("interference lf=", "copies n=")):
        return "load", {"fraction": _after(label, "lf=")}
    raise ValueError(f"unknown label {label!r}")


def trial_key(name: str, spec: dict[str, Any], load_fraction: float | None = None) -> TrialKey:
    """The key of a trial the previous release stored. `load_fraction`: this is the first trial on an
    interference pair's server, which was always the pair's co-located load trial (its label may be a
    stale "peak beside …" of the pair before: the bug this schema fixed)."""
    placement = _placement(spec)
    purpose: str
    params: dict[str, Scalar]
    if load_fraction is not None:
        purpose, params = "load", {"fraction": load_fraction}
    else:
        purpose, params = _purpose(str(spec["label"]), spec, placement)
    attempt = int(name.rsplit("|retry", 1)[1]) if "|retry" in name else 0
    offered = {str(t): float(r) for t, r in (spec.get("offered") or {}).items()}
    return TrialKey(placement, purpose, params, offered, attempt)


def upgrade_to_4(db: sqlite3.Connection) -> None:
    """Rewrite every run and trial of a schema-3 store in place (inside the caller's transaction)."""
    kinds: dict[int, str] = {}
    load_fractions: dict[int, float] = {}
    for run_id, kind, spec_json in db.execute("SELECT id, kind, spec_json FROM runs").fetchall():
        kinds[run_id] = kind
        if kind == "experiment":
            interference = json.loads(spec_json).get("interference") or {}
            load_fractions[run_id] = float(interference.get("load_fraction", 0.5))
            spec = run_spec(json.loads(spec_json))
            db.execute("UPDATE runs SET spec_json=? WHERE id=?", (json.dumps(spec, sort_keys=True), run_id))
    rows = db.execute("SELECT id, run_id, name, spec_json, summary_json FROM trials ORDER BY id").fetchall()
    pairs_seen: set[tuple[int, str]] = set()
    for trial_id, run_id, name, spec_json, summary_json in rows:
        spec = json.loads(spec_json)
        summary = from_legacy(json.loads(summary_json)).to_json()
        if kinds.get(run_id) == "experiment" and "phase" in spec:
            phase = (run_id, str(spec["phase"]))
            first_on_pair = phase[1].startswith("pair/") and phase not in pairs_seen
            pairs_seen.add(phase)
            try:
                key = trial_key(name, spec, load_fractions[run_id] if first_on_pair else None)
            except (KeyError, ValueError, IndexError, StopIteration):
                key = None  # not a trial this release wrote: kept as it is, and no analysis reads it
            if key is not None:
                spec = {k: v for k, v in spec.items() if k not in ("phase", "label", "models", "placement")}
                spec["key"] = key.to_json()
                name = key.name()
        db.execute(
            "UPDATE trials SET name=?, spec_json=?, summary_json=? WHERE id=?",
            (name, json.dumps(spec, sort_keys=True), json.dumps(summary, sort_keys=True), trial_id),
        )

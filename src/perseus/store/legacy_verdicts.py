"""Schema 5: the verdicts of stores written before reasons were typed are rewritten once, when opened.

Before, a trial's reasons were one string ("overloaded: …; unstable: …") that the judge matched by its
words. This module is the only place that reads those sentences: each becomes a typed Reason (kind and
figures, its words kept). It also writes down the rules those trials were judged by, which this version
changed: a tenant's SLA percentile then needed 100/(100−p) latencies (20 for a p95), and a probe measured
again was judged on its last attempt alone. Frozen history: new reasons never touch it."""

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from perseus.core.errors import ConfigError
from perseus.core.reasons import JUDGING, REPLACED, RETRY_RULE, Figure, Reason, Why, judging, reasons_json
from perseus.core.sla import parse_sla, samples_for

REASONS_COLUMN = "ALTER TABLE trials ADD COLUMN reasons_json TEXT"

_NUMBER = r"(-?[0-9.]+)"


def _floats(*names: str) -> Callable[[re.Match[str]], dict[str, Figure]]:
    return lambda m: {name: float(value) for name, value in zip(names, m.groups(), strict=False)}


def _late(m: re.Match[str]) -> dict[str, Figure]:
    return {"late_fraction": float(m.group(1)) / 100, "threshold_ms": float(m.group(2))}


# Each sentence the release before wrote, most specific first: its kind, and how to read its figures.
_SENTENCES: tuple[tuple[Why, re.Pattern[str], Callable[[re.Match[str]], dict[str, Figure]]], ...] = (
    (
        Why.WINDOW_TOO_FEW,
        re.compile(rf"^too few requests a window to judge stability: {_NUMBER} \(need {_NUMBER}\)"),
        _floats("fewest", "need"),
    ),
    (
        Why.TOO_FEW_REQUESTS,
        re.compile(rf"^too few requests: {_NUMBER} completed in the window \(minimum {_NUMBER}\)"),
        _floats("completed", "minimum"),
    ),
    (
        Why.TOO_MANY_ERRORS,
        re.compile(rf"^too many errors: {_NUMBER} of {_NUMBER} requests failed"),
        _floats("failed", "requests"),
    ),
    (
        Why.GENERATOR_BEHIND,
        re.compile(rf"^generator fell behind: {_NUMBER}% of sends were more than {_NUMBER} ms late"),
        _late,
    ),
    (
        Why.ACTOR_BEHIND,
        re.compile(rf"^load actor \S+ on \S+ fell behind: {_NUMBER}% of sends were more than {_NUMBER} ms"),
        _late,
    ),
    (
        Why.QUEUE_GROWING,
        re.compile(r"^overloaded: latency grows window after window"),
        lambda m: {},
    ),
    (
        Why.OVERLOADED,
        re.compile(rf"^overloaded: served {_NUMBER} req/s of {_NUMBER} sent \({_NUMBER} offered\)"),
        _floats("served_rps", "sent_rps", "offered_rps"),
    ),
    (Why.UNSTABLE, re.compile(r"^unstable: "), lambda m: {}),
    (
        Why.TOO_SHORT,
        re.compile(rf"^too short to judge stability: {_NUMBER} of {_NUMBER} windows"),
        _floats("windows", "need"),
    ),
    (
        Why.HOST_BUSY,
        re.compile(rf"^host busy: other processes used {_NUMBER} cores"),
        _floats("cores"),
    ),
    (Why.SERVER_FAULT, re.compile(r"^server fault during the trial: "), lambda m: {}),
    (Why.NODE_LOST, re.compile(r"^node .* was lost: "), lambda m: {}),
)


def _read(sentence: str) -> Reason | None:
    for kind, pattern, figures in _SENTENCES:
        match = pattern.match(sentence)
        if match:
            return Reason(kind, sentence, figures(match))
    return None


def legacy_reasons(text: str | None) -> list[Reason]:
    """The typed reasons of a stored reason line. Its parts were joined by "; ", which some sentences
    also hold ("…(need 10); measure longer windows", a server's last log line): a part that opens no
    known sentence belongs to the one before it. One this version cannot read at all is kept as OTHER,
    which refuses nothing (the judge before matched only the sentences it knew)."""
    found: list[Reason] = []
    for part in (p.strip() for p in (text or "").split("; ")):
        if not part:
            continue
        reason = _read(part)
        if reason is not None:
            found.append(reason)
        elif found:
            last = found[-1]
            found[-1] = Reason(last.kind, f"{last.text}; {part}", last.figures)
        else:
            found.append(Reason(Why.OTHER, part))
    return found


OLD_TAIL = 1  # latencies above an SLA percentile a probe needed before (20 for a p95; now 5, 100)


def old_min_samples(label: str) -> int | None:
    """The latencies a percentile needed before this version: the fewest whose p-th percentile is not
    their largest (20 for p95), where now it takes 5 above it (100)."""
    try:
        return samples_for(parse_sla(label).percentile, OLD_TAIL)
    except ConfigError:
        return None


def _summary(summary: dict[str, Any]) -> dict[str, Any]:
    for tenant in (summary.get("tenants") or {}).values():
        if isinstance(tenant, dict) and tenant.get("sla") and "sla_samples" not in tenant:
            need = old_min_samples(str(tenant["sla"]))
            if need is not None:
                tenant["sla_samples"] = need
    return summary


def upgrade_to_5(db: sqlite3.Connection) -> None:
    """Type every stored trial's reasons and write down the rules it and its run were judged by (in the
    caller's transaction)."""
    runs = db.execute("SELECT id, provenance_json FROM runs WHERE kind='experiment'").fetchall()
    for run_id, provenance_json in runs:
        provenance = {**json.loads(provenance_json), JUDGING: judging(OLD_TAIL, REPLACED)}
        db.execute(
            "UPDATE runs SET provenance_json=? WHERE id=?", (json.dumps(provenance, sort_keys=True), run_id)
        )
    rows = db.execute("SELECT id, spec_json, reason, summary_json FROM trials").fetchall()
    for trial_id, spec_json, reason, summary_json in rows:
        spec = json.loads(spec_json)
        if "key" in spec:  # an experiment's trial: a probe measured again was judged on its last attempt
            spec[RETRY_RULE] = REPLACED
        summary = _summary(json.loads(summary_json))
        db.execute(
            "UPDATE trials SET reasons_json=?, spec_json=?, summary_json=? WHERE id=?",
            (
                json.dumps(reasons_json(legacy_reasons(reason))),
                json.dumps(spec, sort_keys=True),
                json.dumps(summary, sort_keys=True),
                trial_id,
            ),
        )

"""Run one trial of load: set up clients (in-process or N worker processes), start them together,
stop on the trial rules, and hand back every record with the generator's own CPU cost."""

import asyncio
import time

from perseus.loadgen.control import CONTROL_PERIOD_S, Controller, Tick, connect, deadline_ns, drive
from perseus.loadgen.early_stop import Sla, SlaWatch, sla_watch
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules
from perseus.loadgen.spec import LoadSpec
from perseus.loadgen.workers import run_workers


async def _in_process(
    spec: LoadSpec, rules: TrialRules, on_tick: Tick | None, watch: SlaWatch | None
) -> TrialRecords:
    client = await connect(spec, 0)
    try:
        cpu_start = time.process_time_ns()
        control = Controller(rules, time.monotonic_ns() + 1_000_000, spec.mode != "closed", watch)
        records: list[RequestRecord] = []
        stop_flag = [False]
        sender = asyncio.create_task(
            drive(
                spec,
                rules.warmup_s,
                0,
                control.start_ns,
                deadline_ns(control.start_ns, rules),
                lambda: stop_flag[0],
                records.append,
                client,
            )
        )
        end_ns = None
        while end_ns is None:
            await asyncio.wait([sender], timeout=CONTROL_PERIOD_S)
            now = time.monotonic_ns()
            if on_tick:
                on_tick(control.progress(now))
            end_ns = control.check(records, now)
            if end_ns is None and sender.done():
                end_ns = control.window_start_ns + round(rules.max_duration_s * 1e9)
        stop_flag[0] = True
        await sender
        cpu_ns = time.process_time_ns() - cpu_start
    finally:
        await client.close()
    return control.records(spec, records, end_ns, cpu_ns)


def run_load(spec: LoadSpec, rules: TrialRules, on_tick: Tick | None = None, sla: Sla = None) -> TrialRecords:
    """Blocking: run one trial and return its records (uvloop when available). With `sla` and rules that
    ask for it, an open loop stops as soon as an SLA is certainly missed (loadgen.early_stop)."""
    watch = sla_watch(spec, rules, sla)  # its schedule drawn before the trial's clock starts
    if spec.on_ray:
        from perseus.loadgen.ray_workers import run_ray_workers  # Ray is an optional extra

        return run_ray_workers(spec, rules, on_tick, watch)
    if spec.workers > 1:
        return run_workers(spec, rules, on_tick, watch)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_in_process(spec, rules, on_tick, watch))
    return uvloop.run(_in_process(spec, rules, on_tick, watch))

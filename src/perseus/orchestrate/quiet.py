"""Before a run measures: a look at the host (telemetry.host), said when it is not quiet, refused with
--require-quiet-host, and recorded in the run's provenance either way."""

import os
from contextlib import suppress

from perseus.core.errors import HostBusyError
from perseus.core.progress import Reporter
from perseus.loadgen.address import host_port
from perseus.telemetry.host import HostCheck, check_host

LOOK_S = 1.0
LOOK_ENV = "PERSEUS_HOST_CHECK_S"  # seconds of the look (the test suite shortens it)


def look_at_host(reporter: Reporter, require_quiet: bool, target_url: str | None = None) -> HostCheck:
    """The host check before a run; `target_url`: a server on this host that the run measures (its
    processes are the measurement's own)."""
    ports = []
    if target_url is not None:
        with suppress(ValueError):  # not host:port (the in-process reference): nothing to leave out
            ports.append(host_port(target_url)[1])
    check = check_host(float(os.environ.get(LOOK_ENV, LOOK_S)), ports)
    if not check.quiet:
        said = "; ".join(check.reasons)
        if require_quiet:
            raise HostBusyError(f"the host is not quiet: {said} (--require-quiet-host)")
        reporter.status(f"⚠ the host is not quiet: {said}; measurements may be distorted (recorded)")
    return check

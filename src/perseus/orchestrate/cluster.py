"""Ray as the scale-out engine (the optional `ray` extra): join a running cluster or start a local one on
loopback, and the custom node resource that lets at most one measuring server run on a node."""

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from perseus.core.errors import ConfigError, EndpointError, one_line
from perseus.core.paths import perseus_home
from perseus.serving.orphans import tree_guarded

NODE_RESOURCE = "perseus_node"  # one per node: a placement's server takes it, so two never share a node
MACHINE_PREFIX = "perseus_machine_"  # a node of machine type ID may declare perseus_machine_ID: 1
START_HINT = f"ray start --resources='{{\"{NODE_RESOURCE}\": 1}}'"
# Ray picks the node's outward address unless told it runs on one machine; on loopback it must not.
CONNECT_TIMEOUT_S = 3.0
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def ray_module() -> ModuleType:
    """Ray, or one line naming the extra that brings it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--ray needs Ray, an optional extra: pip install -e '.[ray]' (make test installs it)"
        ) from None
    return ray


@dataclass(frozen=True)
class Cluster:
    address: str
    nodes: list[dict[str, Any]]  # the nodes offering NODE_RESOURCE: hostname, ip, ray_node_id
    started: bool  # a local cluster started for this command (and stopped with it)
    ips: list[str]  # of every live node, measuring or not (load actors may run on any)

    @property
    def slots(self) -> int:
        return len(self.nodes)

    def for_machine(self, machine: str | None) -> tuple[dict[str, float], int]:
        """What a placement of a run measuring `machine` (a price catalog id) asks of its node, besides
        the measuring slot, and how many nodes can give it. Nodes that declare their machine type
        (`perseus_machine_ID`) are kept to runs of that type; when none declares one, every node is
        taken to be of the type the run names (as one host is)."""
        declared = {t for n in self.nodes for t in n["machines"]}
        if machine is None or not declared:
            return {}, self.slots
        if machine not in declared:
            raise ConfigError(
                f"no measuring node of this Ray cluster is of machine type {machine} (its nodes declare "
                f"{', '.join(sorted(declared))}): start one with the resource {MACHINE_PREFIX}{machine}"
            )
        return {MACHINE_PREFIX + machine: 1}, sum(1 for n in self.nodes if machine in n["machines"])

    def provenance(self) -> dict[str, Any]:
        return {"address": self.address, "started_here": self.started, "nodes": self.nodes}


def reachable_from_every_node(url: str, cluster: Cluster) -> None:
    """An endpoint on loopback is this machine's only: load actors on other machines would reach their own."""
    away = [ip for ip in cluster.ips if not _on_loopback(f"{ip}:0")]
    if _on_loopback(url) and away:
        raise ConfigError(
            f"--ray: {url} is on loopback, which nodes {', '.join(away)} cannot reach; give --url an "
            "address every node can reach (a server listening there)"
        )


def _on_loopback(address: str) -> bool:
    if address == "auto":
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _nodes(ray: ModuleType) -> list[dict[str, Any]]:
    return [
        {
            "ray_node_id": node["NodeID"],
            "ip": node["NodeManagerAddress"],
            "hostname": node.get("NodeManagerHostname", ""),
            "machines": sorted(
                r.removeprefix(MACHINE_PREFIX)
                for r in node.get("Resources", {})
                if r.startswith(MACHINE_PREFIX)
            ),
        }
        for node in ray.nodes()
        if node.get("Alive") and node.get("Resources", {}).get(NODE_RESOURCE, 0) >= 1
    ]


def _check_reachable(address: str) -> None:
    """A cluster's head answers on its port, or one line says why not (Ray itself would retry for
    minutes, printing warnings)."""
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray must be auto or HOST:PORT (a Ray head's address), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EndpointError(f"no Ray cluster at {address}: {one_line(exc, 120)}") from None


@contextmanager
def ray_cluster(address: str, status: Callable[[str], None]) -> Iterator[Cluster]:
    """Connected to the cluster at `address` for the block. `auto`: the cluster running on this machine,
    or a local one started now (one node, all cores, loopback only) and stopped on the way out."""
    if _on_loopback(address):
        os.environ.setdefault(_LOOPBACK_ONLY, "0")  # before Ray is imported: it reads this once
    ray = ray_module()
    if address != "auto":
        _check_reachable(address)
    started = False
    quiet: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
    guard = ExitStack()
    try:
        try:
            ray.init(address=address, **quiet)
        except ConnectionError as exc:
            if address != "auto":
                raise EndpointError(f"no Ray cluster at {address}: {one_line(exc, 160)}") from None
            status("no Ray cluster running here: starting a local one (stopped when this command ends)")
            ray.init(resources={NODE_RESOURCE: 1}, include_dashboard=False, **quiet)
            started = True
            # Ray's workers, and the servers they started, outlive a driver killed with SIGKILL: a watchdog
            # removes them then.
            session = ray._private.worker._global_node.get_session_dir_path()
            guard.enter_context(tree_guarded(session, perseus_home() / "ray-cluster.log"))
        nodes = _nodes(ray)
        if not nodes:
            raise ConfigError(
                f"the Ray cluster at {address} has no node offering the {NODE_RESOURCE} resource: "
                f"start each measuring node with {START_HINT}"
            )
        where = ray.get_runtime_context().gcs_address
        status(f"Ray cluster at {where}: {len(nodes)} measuring node{'s' if len(nodes) > 1 else ''}")
        ips = sorted({n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")})
        yield Cluster(where, nodes, started, ips)
    finally:
        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            guard.close()

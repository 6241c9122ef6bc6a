"""Cluster addresses never leave the machine: the node's namespace has no way out, and the
host refuses them. Checked by the harness before any pod started, and again with pods running."""

from __future__ import annotations

import pytest

from modelops.testing.localcluster import CLUSTER_CIDRS, LocalCluster

pytestmark = pytest.mark.e2e


def test_before_any_pod_started_every_pod_and_service_address_was_refused_on_both_sides(cluster: LocalCluster) -> None:
    checked = {(check.side, check.address) for check in cluster.route_checks}

    assert {side for side, _ in checked} == {"node", "host"}
    assert {address.rsplit(".", 2)[0] for _, address in checked} == {"10.244", "10.96"}
    # the kernel refused each one ("Network is unreachable" in the node, "No route to host" on the host)
    assert all(check.where.startswith("RTNETLINK answers") for check in cluster.route_checks)


def test_the_node_namespace_has_no_default_route(cluster: LocalCluster) -> None:
    assert cluster.network.default_routes() == []


def test_with_pods_running_no_cluster_address_can_leave(cluster: LocalCluster, operator: str) -> None:
    assert all(check.stays for check in cluster.network.check_routes(CLUSTER_CIDRS))


def test_pod_addresses_route_to_the_node_bridge_only(cluster: LocalCluster, operator: str) -> None:
    check = cluster.network.route("10.244.0.2")

    assert " dev cni0 " in f" {check.where} "

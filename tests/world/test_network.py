"""The network: link bandwidth and the time a message takes to cross the narrowest link."""

from __future__ import annotations

import pytest

from sim.world.network import Latency, LinkSpec, Network, Unreachable


def network() -> Network:
    """a - r1 - b is fast but thin (1 Mbit/s); a - r2 - b is slower but 100 Mbit/s."""
    net = Network()
    for host in ("a", "b", "r1", "r2", "c"):
        net.add_host(host)
    net.add_link("a", "r1", Latency(0.01), bandwidth=1e9)
    net.add_link("r1", "b", Latency(0.01), bandwidth=1e6)
    net.add_link("a", "r2", Latency(0.05), bandwidth=1e8)
    net.add_link("r2", "b", Latency(0.05))  # unlimited
    net.add_link("a", "c", Latency(0.01))  # unlimited
    return net


def test_a_transfer_takes_its_size_over_the_narrowest_link_on_the_path() -> None:
    net = network()
    assert net.path("a", "b") == ["a", "r1", "b"]
    assert net.transfer_time("a", "b", 125_000) == pytest.approx(1.0)  # 1 Mbit at 1 Mbit/s
    assert net.transfer_time("b", "a", 250_000) == pytest.approx(2.0)


def test_unlimited_links_and_local_transfers_take_no_time() -> None:
    net = network()
    assert net.transfer_time("a", "c", 50_000_000) == 0.0
    assert net.transfer_time("a", "a", 50_000_000) == 0.0
    assert net.transfer_time("a", "b", 0) == 0.0


def test_the_path_routing_uses_now_decides_the_bandwidth() -> None:
    net = network()
    net.set_link("r1", "b", up=False)  # around the thin link: 100 Mbit/s on a - r2
    assert net.transfer_time("a", "b", 125_000) == pytest.approx(0.01)
    net.set_host("r2", up=False)
    with pytest.raises(Unreachable):
        net.transfer_time("a", "b", 125_000)
    net.set_link("r1", "b", up=True)
    assert net.transfer_time("a", "b", 125_000) == pytest.approx(1.0)


@pytest.mark.parametrize("bandwidth", [0.0, -5.0, float("inf"), float("nan")])
def test_a_bandwidth_must_be_positive_and_finite(bandwidth: float) -> None:
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        LinkSpec("a", "b", bandwidth=bandwidth)
    with pytest.raises(ValueError, match="link a-b: bandwidth must be > 0"):
        Network().add_link("a", "b", bandwidth=bandwidth)


def test_a_link_spec_carries_its_bandwidth() -> None:
    assert LinkSpec("a", "b").bandwidth is None
    assert LinkSpec("a", "b", Latency(0.02), 0.0, 10e6).bandwidth == 10e6

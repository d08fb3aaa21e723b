"""Several MTAs behind one name: a failover cluster or a load-balanced pool.

The seed's backup-MX architectures differ in what a name in an MX record stands for
and in who owns the queue:

* ``failover`` (a cluster behind a floating address): connections to the service name
  reach the first member that is up; with ``shared_queue`` the members share one queue
  on shared storage, so when the active node dies a surviving node delivers what it
  held (Postfix on a cluster file system: the survivor's queue manager picks the files
  up at their normal retry times).
* ``balance`` (a load balancer in front of a pool): connections are spread round-robin
  over the members that are up (the balancer's health check skips the dead ones);
  each member keeps its own queue, so what a dead member held waits for it to return.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SERVICE_MODES", "ServiceSpec"]

SERVICE_MODES = ("failover", "balance")


@dataclass(frozen=True)
class ServiceSpec:
    """``name`` (as MX records and relayhosts name it) stands for ``members``."""

    name: str
    members: tuple[str, ...]
    mode: str = "failover"
    shared_queue: bool = False

    def __post_init__(self) -> None:
        if self.mode not in SERVICE_MODES:
            raise ValueError(f"service {self.name}: mode must be failover or balance")
        if not self.members:
            raise ValueError(f"service {self.name}: needs at least one member")

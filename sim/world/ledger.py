"""Every message, counted: one ledger entry from injection to its final state.

The invariant checked at the end of every run (design.md "sim/results"):
accepted = delivered + bounced + expired + still queued, each message exactly once,
and rejected-in-session messages were never accepted.  ``lost`` is computed from the
entries, never assumed to be zero; a run where it is not zero fails loudly.

The counts are kept as the run goes, so a huge run can drop a message's entry once it
is final (``keep`` says which finished entries stay for the messages table) and its
memory stays bounded by the messages still in the system.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["ConservationError", "Entry", "Fate", "Ledger"]


class ConservationError(Exception):
    """A message was lost or counted twice: a bug in the simulator, never in the input."""


class Fate(Enum):
    """Where a message stands; the last four are final."""

    INJECTED = "injected"
    QUEUED = "queued"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = (Fate.DELIVERED, Fate.BOUNCED, Fate.EXPIRED, Fate.REJECTED)  # a tuple: identity tests


@dataclass(slots=True)
class Entry:
    """One message's life: where it is, when it got there, how many attempts it took."""

    msg_id: int
    injected_at: float
    is_dsn: bool = False
    fate: Fate = Fate.INJECTED
    host: str = ""
    accepted_at: float | None = None
    final_at: float | None = None
    attempts: int = 0
    hops: int = 0
    reply: str = ""
    transitions: int = 0
    origin: str = ""  # the MTA that accepted it first (where it was submitted)


def _keep_all(msg_id: int) -> bool:
    return True


@dataclass
class Ledger:
    """Live entries (and the finished ones ``keep`` selects) plus running counts."""

    keep: Callable[[int], bool] = _keep_all
    entries: dict[int, Entry] = field(default_factory=dict)
    dsn_suppressed: int = 0
    injected: int = 0
    accepted: int = 0
    dsns: int = 0
    finished: Counter[Fate] = field(default_factory=Counter)
    dsn_delivered: int = 0

    def inject(self, msg_id: int, t: float, *, is_dsn: bool = False) -> Entry:
        if msg_id in self.entries or msg_id <= self.injected:
            raise ConservationError(f"message {msg_id} injected twice")
        entry = Entry(msg_id, t, is_dsn=is_dsn)
        self.entries[msg_id] = entry
        self.injected = msg_id
        self.dsns += is_dsn
        return entry

    def _entry(self, msg_id: int, fate: Fate) -> Entry:
        entry = self.entries.get(msg_id)
        if entry is None:
            if 0 < msg_id <= self.injected:  # finished and dropped from memory
                raise ConservationError(
                    f"message {msg_id} is already final; cannot become {fate.value}"
                )
            raise ConservationError(f"message {msg_id} was never injected")
        return entry

    def _move(self, msg_id: int, fate: Fate, t: float, host: str, reply: str = "") -> Entry:
        entry = self._entry(msg_id, fate)
        if entry.fate in FINAL:
            raise ConservationError(
                f"message {msg_id} is already {entry.fate.value}; cannot become {fate.value}"
            )
        entry.fate, entry.host, entry.transitions = fate, host, entry.transitions + 1
        if reply:
            entry.reply = reply
        if fate in FINAL:
            entry.final_at = t
            self.finished[fate] += 1
            if entry.is_dsn and fate is Fate.DELIVERED:
                self.dsn_delivered += 1
            if not self.keep(msg_id):
                del self.entries[msg_id]
        return entry

    def accept(self, msg_id: int, t: float, host: str) -> None:
        entry = self._move(msg_id, Fate.QUEUED, t, host)
        if entry.accepted_at is None:
            entry.accepted_at = t
            entry.origin = host
            self.accepted += 1
        entry.hops += 1

    def reject(self, msg_id: int, t: float, host: str, reply: str) -> None:
        entry = self._entry(msg_id, Fate.REJECTED)
        if entry.accepted_at is not None:
            raise ConservationError(f"message {msg_id} was accepted; it cannot be rejected now")
        self._move(msg_id, Fate.REJECTED, t, host, reply)

    def deliver(self, msg_id: int, t: float, host: str) -> None:
        self._move(msg_id, Fate.DELIVERED, t, host)

    def bounce(self, msg_id: int, t: float, host: str, reply: str) -> None:
        self._move(msg_id, Fate.BOUNCED, t, host, reply)

    def expire(self, msg_id: int, t: float, host: str, reply: str) -> None:
        self._move(msg_id, Fate.EXPIRED, t, host, reply)

    def attempt(self, msg_id: int) -> None:
        self.entries[msg_id].attempts += 1

    def counts(self, present: set[int] | None = None) -> dict[str, int]:
        """Summary counts; ``lost`` counts accepted messages neither final nor ``present``.

        ``present`` is the set of message ids the MTAs actually hold (queues and
        sessions in flight); without it every queued entry is taken as present.
        """
        live = [e for e in self.entries.values() if e.fate not in FINAL]
        queued_ids = {e.msg_id for e in live if e.fate is Fate.QUEUED}
        queued = len(queued_ids if present is None else queued_ids & present)
        done = self.finished
        finished = done[Fate.DELIVERED] + done[Fate.BOUNCED] + done[Fate.EXPIRED]
        return {
            "injected": self.injected,
            "accepted": self.accepted,
            "rejected_in_session": done[Fate.REJECTED],
            "delivered": done[Fate.DELIVERED],
            "bounced": done[Fate.BOUNCED],
            "expired": done[Fate.EXPIRED],
            "queued_at_end": queued,
            "in_flight_at_end": sum(1 for e in live if e.fate is Fate.INJECTED),
            "dsn_sent": self.dsns,
            "dsn_delivered": self.dsn_delivered,
            "dsn_suppressed": self.dsn_suppressed,
            "lost": self.accepted - finished - queued,
        }

    def reconcile(self, present: set[int] | None = None) -> dict[str, int]:
        """The counts, after checking conservation; raises ConservationError if broken."""
        counts = self.counts(present)
        if counts["lost"] != 0:
            raise ConservationError(f"{counts['lost']} accepted message(s) unaccounted for")
        if self.accepted + counts["rejected_in_session"] + counts["in_flight_at_end"] != (
            self.injected
        ):
            raise ConservationError(
                f"{self.injected} injected but {self.accepted} accepted, "
                f"{counts['rejected_in_session']} rejected and "
                f"{counts['in_flight_at_end']} in flight"
            )
        return counts

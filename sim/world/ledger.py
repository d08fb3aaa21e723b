"""Every message, counted: one ledger entry from injection to its final state.

The invariant checked at the end of every run (design.md "sim/results"):
accepted = delivered + bounced + expired + still queued, each message exactly once,
and rejected-in-session messages were never accepted.  ``lost`` is computed from the
entries, never assumed to be zero; a run where it is not zero fails loudly.
"""

from __future__ import annotations

from collections import Counter
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
        return self in (Fate.DELIVERED, Fate.BOUNCED, Fate.EXPIRED, Fate.REJECTED)


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


@dataclass
class Ledger:
    """All entries plus counters kept as the run goes."""

    entries: dict[int, Entry] = field(default_factory=dict)
    dsn_suppressed: int = 0

    def inject(self, msg_id: int, t: float, *, is_dsn: bool = False) -> Entry:
        if msg_id in self.entries:
            raise ConservationError(f"message {msg_id} injected twice")
        entry = Entry(msg_id, t, is_dsn=is_dsn)
        self.entries[msg_id] = entry
        return entry

    def _move(self, msg_id: int, fate: Fate, t: float, host: str, reply: str = "") -> Entry:
        entry = self.entries[msg_id]
        if entry.fate.final:
            raise ConservationError(
                f"message {msg_id} is already {entry.fate.value}; cannot become {fate.value}"
            )
        entry.fate, entry.host, entry.transitions = fate, host, entry.transitions + 1
        if reply:
            entry.reply = reply
        if fate.final:
            entry.final_at = t
        return entry

    def accept(self, msg_id: int, t: float, host: str) -> None:
        entry = self._move(msg_id, Fate.QUEUED, t, host)
        if entry.accepted_at is None:
            entry.accepted_at = t
        entry.hops += 1

    def reject(self, msg_id: int, t: float, host: str, reply: str) -> None:
        entry = self.entries[msg_id]
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
        fates = Counter(e.fate for e in self.entries.values())
        accepted = sum(1 for e in self.entries.values() if e.accepted_at is not None)
        finished = fates[Fate.DELIVERED] + fates[Fate.BOUNCED] + fates[Fate.EXPIRED]
        queued_ids = {e.msg_id for e in self.entries.values() if e.fate is Fate.QUEUED}
        queued = len(queued_ids if present is None else queued_ids & present)
        return {
            "injected": len(self.entries),
            "accepted": accepted,
            "rejected_in_session": fates[Fate.REJECTED],
            "delivered": fates[Fate.DELIVERED],
            "bounced": fates[Fate.BOUNCED],
            "expired": fates[Fate.EXPIRED],
            "queued_at_end": queued,
            "in_flight_at_end": fates[Fate.INJECTED],
            "dsn_sent": sum(1 for e in self.entries.values() if e.is_dsn),
            "dsn_suppressed": self.dsn_suppressed,
            "lost": accepted - finished - queued,
        }

    def reconcile(self, present: set[int] | None = None) -> dict[str, int]:
        """The counts, after checking conservation; raises ConservationError if broken."""
        counts = self.counts(present)
        if counts["lost"] != 0:
            raise ConservationError(f"{counts['lost']} accepted message(s) unaccounted for")
        for entry in self.entries.values():
            if entry.fate is Fate.REJECTED and entry.accepted_at is not None:
                raise ConservationError(f"message {entry.msg_id} accepted and rejected")
        return counts

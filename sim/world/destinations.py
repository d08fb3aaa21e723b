"""One next-hop destination in a Postfix-like queue manager: slow start and dead sites.

Postfix 3.7's qmgr (``qmgr_queue.c`` with the default feedback of 1 and
``initial_destination_concurrency = 5``) opens up to 5 parallel sessions to a new
destination and widens that window by one after each delivery that did not fail at the
site level, up to the destination concurrency limit (and never beyond the sessions in
use plus 5).  A site failure narrows the window (the first one by two, from a feedback
counter that starts at zero, then by one each) and adds 1/window to a "failed
pseudo-cohort" count; when that reaches ``failed_cohort_limit`` (1) the destination is
declared dead: for ``minimal_backoff_time`` every message for it is deferred at once,
without a connection, as "delivery temporarily suspended: <the last reason>".  From a
fresh window of 5 that is the third failure in a row (1/5 + 1/3 + 1/2 >= 1); sessions
already under way when it happens fail too, which is how a real log shows four
refused connections before the suspension.  A success clears the count.

A *site failure* is an attempt where no session got through the SMTP handshake (no
host reachable, TLS refused, a 4xx/5xx greeting) or DNS failed temporarily; a 4xx to
one recipient says nothing about the site.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import simpy

from sim.policy.replies import Reply

__all__ = ["FAILED_COHORT_LIMIT", "FEEDBACK", "Destination", "suspended_reply"]

FEEDBACK = 1.0  # default_destination_concurrency_{positive,negative}_feedback
FAILED_COHORT_LIMIT = 1.0  # default_destination_concurrency_failed_cohort_limit


def suspended_reply(reason: Reply) -> Reply:
    """What a message deferred to a dead destination is told (Postfix's error(8) text)."""
    return Reply(reason.code, reason.enhanced, f"delivery temporarily suspended: {reason.text}")


@dataclass
class Destination:
    """Concurrency window, feedback counters and dead state of one destination."""

    env: simpy.Environment
    limit: int  # destination_concurrency (default_destination_concurrency_limit)
    initial: int = 5  # initial_destination_concurrency
    suspend_for: float = 300.0  # minimal_backoff_time: how long a dead site stays dead
    window: int = field(init=False)
    busy: int = 0
    success: float = 0.0
    failure: float = 0.0
    fail_cohorts: float = 0.0
    dead_reason: Reply | None = None
    dead_until: float = 0.0
    waiters: deque[simpy.Event] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.initial < 1:
            raise ValueError("destination concurrency limits must be >= 1")
        self.window = min(self.initial, self.limit)

    def suspended(self) -> Reply | None:
        """The reason mail is suspended now, or None; a dead site revives after a while."""
        if self.dead_reason is None:
            return None
        if self.env.now < self.dead_until:
            return self.dead_reason
        # Back from the almost grave: best concurrency is anyone's guess.
        self.dead_reason = None
        self.window = self.busy if self.busy > 0 else min(self.initial, self.limit)
        self.success = self.failure = self.fail_cohorts = 0.0
        self._wake()
        return None

    def acquire(self) -> simpy.Event | None:
        """None when a session may start now, else an event to wait for.

        The event's value is None when a session may start, or the dead site's reason
        when it was declared dead meanwhile (the message is then deferred at once).
        """
        if self.busy < self.window and not self.waiters:
            self.busy += 1
            return None
        event = self.env.event()
        self.waiters.append(event)
        return event

    def release(self) -> None:
        self.busy -= 1
        self._wake()

    def _wake(self) -> None:
        while self.waiters and self.busy < self.window and self.dead_reason is None:
            self.busy += 1
            self.waiters.popleft().succeed(None)

    def succeeded(self) -> None:
        """Positive feedback: the site answered (qmgr_queue_unthrottle)."""
        self.fail_cohorts = 0.0
        if self.dead_reason is not None or self.window >= self.limit:
            return
        if self.window < self.busy + self.initial:
            self.success += FEEDBACK
            while self.success + FEEDBACK / 2 >= 1.0:
                self.window += 1
                self.success -= 1.0
                self.failure = 0.0
            self.window = min(self.window, self.limit)
            self._wake()

    def failed(self, reason: Reply) -> bool:
        """Negative feedback (qmgr_queue_throttle); True when the site is now dead."""
        if self.dead_reason is not None:
            return False
        self.fail_cohorts += 1.0 / self.window
        if self.fail_cohorts >= FAILED_COHORT_LIMIT:
            self.dead_reason = reason
            self.dead_until = self.env.now + self.suspend_for
            while self.waiters:  # everything queued for this site is deferred now
                self.waiters.popleft().succeed(reason)
            return True
        self.failure -= FEEDBACK
        while self.failure - FEEDBACK / 2 < 0:
            self.window -= 1
            self.success = 0.0
            self.failure += 1.0
        self.window = max(self.window, 1)
        return False

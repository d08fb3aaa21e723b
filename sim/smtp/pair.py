"""An in-memory client/server pair: the dialogue without any transport.

Used by tests and by simple adapters: every line the client sends goes straight to the
server and every reply straight back, so a whole session runs in one call.
"""

from __future__ import annotations

from sim.smtp.client import TLS, ClientDialogue
from sim.smtp.server import Event, ServerDialogue

__all__ = ["converse"]

_MAX_STEPS = 100_000


def converse(client: ClientDialogue, server: ServerDialogue, *, tls_ok: bool = True) -> list[Event]:
    """Run the session to its end; returns the server's events (messages received, ...)."""
    events: list[Event] = []
    first = server.connect()
    events.extend(first.events)
    outgoing = client.receive(first.reply) if first.reply is not None else []
    for _ in range(_MAX_STEPS):
        if client.done or not outgoing:
            break
        line = outgoing.pop(0)
        if line == TLS:
            outgoing = client.tls_done(tls_ok) + outgoing
            continue
        out = server.receive(line)
        events.extend(out.events)
        if out.reply is not None:
            outgoing = client.receive(out.reply) + outgoing
        if out.close and not client.done:
            client.connection_lost()
            break
    return events

"""The client side of an SMTP session, without I/O (RFC 5321 §3.3, §4.1; RFC 3207).

Theory of operation: :class:`ClientDialogue` holds one message to deliver.  The
adapter passes it each server reply (:meth:`ClientDialogue.receive`) and sends the
command lines it returns; when STARTTLS is accepted it returns the ``TLS`` marker so
the adapter runs the handshake, then calls :meth:`ClientDialogue.tls_done`.  Whether
to ask for STARTTLS, and what to do when the server does not offer it, is the
caller's TLS decision (from :mod:`sim.policy.tls`), passed in as a function.  At the
end :attr:`ClientDialogue.results` holds one reply per recipient, classified by
:func:`sim.policy.retry.classify_reply` into delivered, retry later or bounce.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from sim.policy.replies import Reply
from sim.policy.retry import Outcome, Stage, classify_reply

__all__ = ["TLS", "ClientDialogue", "RecipientResult", "TlsChoice", "dot_stuff"]

TLS = "<starttls handshake>"  # returned instead of a line: the adapter runs the handshake


class TlsChoice(Enum):
    """What the TLS policy says at EHLO time (from sim.policy.tls)."""

    STARTTLS = "starttls"
    PLAINTEXT = "plaintext"
    DEFER = "defer"


class _Step(Enum):
    GREETING = "greeting"
    EHLO = "ehlo"
    HELO = "helo"
    STARTTLS = "starttls"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    DOT = "dot"
    QUIT = "quit"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The reply that decided one recipient, and what it means for the queue."""

    recipient: str
    reply: Reply
    outcome: Outcome
    stage: Stage


def dot_stuff(data: str) -> list[str]:
    """The DATA lines to send: a leading dot doubled, then the final ``.`` (RFC 5321 §4.5.2)."""
    lines = data.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [("." + line if line.startswith(".") else line) for line in lines] + ["."]


@dataclass
class ClientDialogue:
    """Deliver one message: envelope, data, our HELO name and the TLS decision."""

    sender: str
    recipients: Sequence[str]
    data: str
    helo: str
    tls_choice: Callable[[bool], TlsChoice] = lambda offered: (
        TlsChoice.STARTTLS if offered else TlsChoice.PLAINTEXT
    )
    size: int | None = None  # the SIZE to announce (RFC 1870); default: len(data)
    results: list[RecipientResult] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    capabilities: set[str] = field(default_factory=set)
    tls: bool = False
    _step: _Step = _Step.GREETING
    _pending: list[str] = field(default_factory=list)
    _accepted: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self._step is _Step.DONE

    def _send(self, *lines: str) -> list[str]:
        self.transcript.extend(f"C: {line}" for line in lines if line != TLS)
        return list(lines)

    def _fail_all(self, reply: Reply, stage: Stage, recipients: Sequence[str]) -> None:
        verdict = classify_reply(reply, stage)
        outcome = Outcome.TEMPORARY if verdict.outcome is Outcome.SUCCESS else verdict.outcome
        if stage in (Stage.CONNECT, Stage.EHLO):
            # Postfix smtp_skip_5xx_greeting = yes: a 5xx greeting or EHLO reply means
            # "try another MX host, then later", never a bounce.
            outcome = Outcome.TEMPORARY
        decided = {r.recipient for r in self.results}
        for rcpt in recipients:
            if rcpt not in decided:
                self.results.append(RecipientResult(rcpt, reply, outcome, stage))

    def _quit(self) -> list[str]:
        self._step = _Step.QUIT
        return self._send("QUIT")

    def receive(self, reply: Reply) -> list[str]:
        """The server's reply to what we sent last; returns the lines to send next."""
        self.transcript.extend(f"S: {line}" for line in reply.lines())
        step = self._step
        if step is _Step.QUIT:
            self._step = _Step.DONE
            return []
        if step is _Step.GREETING:
            if reply.code != 220:
                self._fail_all(reply, Stage.CONNECT, self.recipients)
                return self._quit()
            self._step = _Step.EHLO
            return self._send(f"EHLO {self.helo}")
        if step is _Step.EHLO:
            if reply.code in (500, 502):  # RFC 5321 §3.2: fall back to HELO
                self._step = _Step.HELO
                return self._send(f"HELO {self.helo}")
            if reply.code != 250:
                self._fail_all(reply, Stage.EHLO, self.recipients)
                return self._quit()
            self.capabilities = {
                line.split()[0].upper() for line in reply.text.split("\n")[1:] if line
            }
            return self._after_ehlo()
        if step is _Step.HELO:
            if reply.code != 250:
                self._fail_all(reply, Stage.EHLO, self.recipients)
                return self._quit()
            self.capabilities = set()
            return self._after_ehlo()
        if step is _Step.STARTTLS:
            if reply.code != 220:
                return self._tls_refused(reply)
            return [TLS]
        if step is _Step.MAIL:
            if reply.code != 250:
                self._fail_all(reply, Stage.MAIL, self.recipients)
                return self._quit()
            return self._next_rcpt()
        if step is _Step.RCPT:
            rcpt = self._pending.pop(0)
            if reply.code in (250, 251):
                self._accepted.append(rcpt)
            else:
                verdict = classify_reply(reply, Stage.RCPT)
                self.results.append(RecipientResult(rcpt, reply, verdict.outcome, Stage.RCPT))
            return self._next_rcpt()
        if step is _Step.DATA:
            if reply.code != 354:
                self._fail_all(reply, Stage.DATA, self._accepted)
                return self._quit()
            self._step = _Step.DOT
            lines = dot_stuff(self.data)
            self.transcript.append(f"C: <{len(lines) - 1} lines of message data>")
            self.transcript.append("C: .")
            return lines
        if step is _Step.DOT:
            verdict = classify_reply(reply, Stage.DOT)
            for rcpt in self._accepted:
                self.results.append(RecipientResult(rcpt, reply, verdict.outcome, Stage.DOT))
            return self._quit()
        return []

    def _after_ehlo(self) -> list[str]:
        if not self.tls:
            choice = self.tls_choice("STARTTLS" in self.capabilities)
            if choice is TlsChoice.STARTTLS and "STARTTLS" in self.capabilities:
                self._step = _Step.STARTTLS
                return self._send("STARTTLS")
            if choice is TlsChoice.DEFER or choice is TlsChoice.STARTTLS:
                why = "STARTTLS not offered" if "STARTTLS" not in self.capabilities else "TLS"
                reply = Reply(450, "4.7.4", f"TLS is required, but was not offered ({why})")
                self._fail_all(reply, Stage.STARTTLS, self.recipients)
                return self._quit()
        self._step = _Step.MAIL
        size = f" SIZE={self._size()}" if "SIZE" in self.capabilities else ""
        return self._send(f"MAIL FROM:<{self.sender}>{size}")

    def _tls_refused(self, reply: Reply) -> list[str]:
        if self.tls_choice(False) is TlsChoice.PLAINTEXT:
            self._step = _Step.MAIL
            size = f" SIZE={self._size()}" if "SIZE" in self.capabilities else ""
            return self._send(f"MAIL FROM:<{self.sender}>{size}")
        deferral = Reply(450, "4.7.4", f"TLS is required, but STARTTLS failed: {reply.line()}")
        self._fail_all(deferral, Stage.STARTTLS, self.recipients)
        return self._quit()

    def connection_lost(self, reason: str = "lost connection") -> None:
        """The connection broke (server closed, link down): undecided recipients retry."""
        if self._step is not _Step.QUIT:
            reply = Reply(421, "4.4.2", reason)
            self._fail_all(reply, Stage.CONNECT, self.recipients)
        self._step = _Step.DONE

    def tls_done(self, ok: bool) -> list[str]:
        """The adapter's handshake result; on success the session restarts with EHLO."""
        if not ok:
            reply = Reply(450, "4.7.5", "TLS handshake failed")
            self._fail_all(reply, Stage.STARTTLS, self.recipients)
            self._step = _Step.DONE
            return []
        self.tls = True
        self._step = _Step.EHLO
        return self._send(f"EHLO {self.helo}")

    def _size(self) -> int:
        return len(self.data.encode()) if self.size is None else self.size

    def _next_rcpt(self) -> list[str]:
        decided = {r.recipient for r in self.results} | set(self._accepted)
        remaining = [r for r in self.recipients if r not in decided and r not in self._pending]
        if remaining:
            rcpt = remaining[0]
            self._pending.append(rcpt)
            self._step = _Step.RCPT
            return self._send(f"RCPT TO:<{rcpt}>")
        if not self._accepted:
            return self._quit()
        self._step = _Step.DATA
        return self._send("DATA")

"""SMTP replies as values (RFC 5321 §4.2, enhanced status codes RFC 3463).

Every decision in :mod:`sim.policy` returns a :class:`Reply`; a rejection is a value,
never an exception.  The constants below are the replies Postfix 3.7 sends, named by
rule, so that tests and the simulator compare against one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = [
    "R220_READY",
    "R221_BYE",
    "R250_OK",
    "R250_RCPT_OK",
    "R250_SENDER_OK",
    "R354_DATA",
    "R451_CONFIG_ERROR",
    "R451_LOOKUP_FAILURE",
    "R452_TOO_MANY_RECIPIENTS",
    "R501_BAD_RCPT_SYNTAX",
    "R501_BAD_SENDER_SYNTAX",
    "R501_MAIL_SYNTAX",
    "R501_RCPT_SYNTAX",
    "R502_UNKNOWN_COMMAND",
    "R503_NEED_HELO",
    "R503_NEED_MAIL",
    "R503_NEED_RCPT",
    "R503_NESTED_MAIL",
    "R552_SIZE_EXCEEDED",
    "Reply",
]

_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: basic code, enhanced status code (or None) and text."""

    code: int
    enhanced: str | None
    text: str

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"SMTP reply code must be 200..599, got {self.code}")
        if self.enhanced is not None and not _ENHANCED.match(self.enhanced):
            raise ValueError(f"enhanced status code must look like 5.7.1, got {self.enhanced!r}")

    @property
    def is_success(self) -> bool:
        return self.code < 400

    @property
    def is_temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def with_code(self, code: int) -> Reply:
        """The same reply with another code; the enhanced class follows the code's class."""
        enhanced = None if self.enhanced is None else f"{str(code)[0]}{self.enhanced[1:]}"
        return replace(self, code=code, enhanced=enhanced)

    def softened(self) -> Reply:
        """Postfix ``soft_bounce = yes``: every 5xx becomes the matching 4xx."""
        return self.with_code(self.code - 100) if self.code >= 500 else self

    def line(self) -> str:
        """The reply as sent on the wire, without CRLF (one line per line of text)."""
        return "\r\n".join(self.lines())

    def lines(self) -> list[str]:
        """Wire lines: a multi-line text (EHLO) gets ``250-`` continuations (RFC 5321 §4.2.1)."""
        parts = self.text.split("\n")
        prefix = f"{self.code} {self.enhanced} " if self.enhanced else f"{self.code} "
        dashed = prefix.replace(" ", "-", 1)
        return [(prefix if i == len(parts) - 1 else dashed) + part for i, part in enumerate(parts)]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "enhanced": self.enhanced, "text": self.text}


R220_READY = Reply(220, None, "ESMTP relaysim")
R221_BYE = Reply(221, "2.0.0", "Bye")
R250_OK = Reply(250, "2.0.0", "Ok")
R250_SENDER_OK = Reply(250, "2.1.0", "Ok")
R250_RCPT_OK = Reply(250, "2.1.5", "Ok")
R354_DATA = Reply(354, None, "End data with <CR><LF>.<CR><LF>")
R451_CONFIG_ERROR = Reply(451, "4.3.5", "Server configuration error")
R451_LOOKUP_FAILURE = Reply(451, "4.3.0", "Temporary lookup failure")
R452_TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Error: too many recipients")
R501_MAIL_SYNTAX = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
R501_RCPT_SYNTAX = Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
R501_BAD_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
R501_BAD_RCPT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")
R502_UNKNOWN_COMMAND = Reply(502, "5.5.2", "Error: command not recognized")
R503_NEED_HELO = Reply(503, "5.5.1", "Error: send HELO/EHLO first")
R503_NEED_MAIL = Reply(503, "5.5.1", "Error: need MAIL command")
R503_NEED_RCPT = Reply(503, "5.5.1", "Error: need RCPT command")
R503_NESTED_MAIL = Reply(503, "5.5.1", "Error: nested MAIL command")
R552_SIZE_EXCEEDED = Reply(552, "5.3.4", "Message size exceeds fixed limit")

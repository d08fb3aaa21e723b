"""Received trace fields: write one for a hop, read a message's into hops with delays.

Writing follows RFC 5321 §4.4 (``from`` with the HELO name and a TCP-info address literal,
``by``, ``with``, ``id``, ``for`` with exactly one path, then ``;`` and an RFC 5322 §3.3
date-time with a numeric zone), the RFC 3848 ``with`` keywords, and the exact layout of
Postfix's smtpd (``smtpd.c``; observed in ``postfix-queue-observed.md`` §9): the TLS
details as a comment after the ``from`` clause, ``for <rcpt>`` only when the transaction
had one recipient, and the zone name as a trailing comment (``+0000 (UTC)``).

Reading (RFC 5322 §3.6.7, RFC 5321 §4.4 and §6.3) is in :mod:`sim.policy.received`;
here the fields of one message become a :class:`Trace`: hops newest first, as in the
message, each with the delay since the hop below it
(``delay[i] = t(R[i]) - t(R[i+1])``, the time spent at the host that wrote ``R[i+1]``
plus the transfer to the next one).  Negative delays are clock skew and are flagged,
never clamped.  Given the names of our own MXes, the trust boundary is the lowest header
that one of them wrote: everything below it came from outside and could be forged.

Pure: the date of a hop comes in as an argument; nothing here reads a clock.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, parsedate_to_datetime
from enum import Enum

from sim.policy.received import CertStatus, Hop, Protocol, TLSInfo, parse_received, unfold

__all__ = [
    "LOOP_LIMIT",
    "CertStatus",
    "Hop",
    "HopFacts",
    "Protocol",
    "TLSInfo",
    "Trace",
    "TracedHop",
    "Trust",
    "build_received",
    "format_duration",
    "parse_received",
    "received_fields",
    "trace_fields",
    "trace_message",
]

LOOP_LIMIT = 100
"""RFC 5321 §6.3: this many Received fields is a mail loop."""

_NOT_IN_WORD = re.compile(r'[\s()<>;"\\\x00-\x1f]')  # blanks, specials, controls
_NOT_IN_PHRASE = re.compile(r'[()";\\\r\n\t]')


def _word(name: str, value: str) -> None:
    if not value or _NOT_IN_WORD.search(value):
        raise ValueError(f'{name} must be one word without ()<>;"\\, got {value!r}')


def _phrase(name: str, value: str) -> None:
    if not value.strip() or _NOT_IN_PHRASE.search(value):
        raise ValueError(f'{name} must be non-empty text without ()";\\ or line breaks')


@functools.lru_cache(maxsize=4096)
def _normal_ip(text: str) -> str | None:
    """The canonical text of an IP address, or None (remembered: hosts repeat)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HopFacts:
    """What the receiving MTA knows when it writes its Received field (one transaction).

    ``client_name`` is the verified reverse-DNS name (``None`` is written ``unknown``, as
    Postfix does with ``smtpd_peername_lookup = no``); ``helo`` ``None`` means the client
    never said HELO/EHLO (Postfix then writes the client name).  ``recipients`` are the
    accepted RCPT TO paths: ``for <rcpt>`` is written only when there is exactly one.
    ``client_ip`` is normalised (``2001:DB8::1`` -> ``2001:db8::1``).
    """

    client_ip: str
    by: str
    queue_id: str
    helo: str | None = None
    client_name: str | None = None
    software: str = "Postfix"
    protocol: Protocol = Protocol.ESMTP
    recipients: tuple[str, ...] = ()
    tls: TLSInfo | None = None
    auth_sender: str | None = None

    def __post_init__(self) -> None:
        ip = _normal_ip(self.client_ip)
        if ip is None:
            raise ValueError(f"client_ip: not an IP address: {self.client_ip!r}")
        object.__setattr__(self, "client_ip", ip)
        _word("by", self.by)
        _word("queue_id", self.queue_id)
        for name in ("helo", "client_name", "auth_sender"):
            value = getattr(self, name)
            if value is not None:
                _word(name, value)
        _phrase("software", self.software)
        if not isinstance(self.recipients, tuple):
            raise ValueError("recipients must be a tuple of addresses")
        for rcpt in self.recipients:
            _word("recipient", rcpt)
        if self.tls is not None:
            self._check_tls(self.tls)
        if self.auth_sender is not None and not self.protocol.authenticated:
            raise ValueError(f"auth_sender needs an authenticated protocol, not {self.protocol}")

    def _check_tls(self, tls: TLSInfo) -> None:
        if not self.protocol.tls:
            raise ValueError(f"TLS details need a TLS protocol (ESMTPS...), not {self.protocol}")
        if tls.cipher is None or tls.cipher_bits is None or tls.alg_bits is None:
            raise ValueError("Postfix writes TLS details only with cipher, cipher_bits, alg_bits")
        if tls.client_cert is None:
            raise ValueError("Postfix always says what became of the client certificate")
        if tls.server_digest is not None and tls.server_signature is None:
            raise ValueError("server_digest is written only after a server_signature")
        _word("TLS cipher", tls.cipher)
        for name in ("key_exchange", "server_signature", "server_digest"):
            value = getattr(tls, name)
            if value is not None:
                _phrase(name, value.replace("(", "").replace(")", ""))
        for name in ("client_cn", "client_issuer"):
            value = getattr(tls, name)
            if value is not None:
                _phrase(name, value)

    @property
    def address_literal(self) -> str:
        """The TCP-info address as Postfix writes it: ``198.51.100.25``, ``IPv6:2001:db8::25``."""
        ip = ipaddress.ip_address(self.client_ip)
        return f"IPv6:{ip}" if ip.version == 6 else str(ip)


def _tls_comment(tls: TLSInfo) -> list[str]:
    first = f"(using {tls.version} with cipher {tls.cipher} ({tls.cipher_bits}/{tls.alg_bits} bits)"
    extra = []
    if tls.key_exchange is not None:
        extra.append(f"key-exchange {tls.key_exchange}")
    if tls.server_signature is not None:
        extra.append(f"server-signature {tls.server_signature}")
        if tls.server_digest is not None:
            extra.append(f"server-digest {tls.server_digest}")
    if extra:
        first += "\n\t " + " ".join(extra)
    lines = [first + ")"]
    if tls.client_cert in (CertStatus.VERIFIED, CertStatus.NOT_VERIFIED):
        assert tls.client_cert is not None
        status = tls.client_cert.value
        lines.append(f'(Client CN "{tls.client_cn}", Issuer "{tls.client_issuer}" ({status}))')
    elif tls.client_cert is not None:
        lines.append(f"({tls.client_cert.value})")
    return lines


def _date(when: datetime) -> str:
    zone = when.tzname()
    text = format_datetime(when)
    if zone and zone.isalpha() and len(zone) <= 5:
        text += f" ({zone})"
    return text


def build_received(facts: HopFacts, when: datetime) -> str:
    """The Received field body Postfix's smtpd writes for this hop, folded with ``\\n\\t``.

    ``when`` must be timezone-aware; it is written in its own zone (RFC 5321 §4.4 prefers
    local time with a numeric offset).  Prepend ``"Received: "`` to get the header line.
    """
    if when.utcoffset() is None:
        raise ValueError("when must be timezone-aware (RFC 5321 §4.4 wants a numeric zone)")
    name = facts.client_name or "unknown"
    helo = facts.helo if facts.helo is not None else name
    lines = [f"from {helo} ({name} [{facts.address_literal}])"]
    if facts.tls is not None:
        lines.extend(_tls_comment(facts.tls))
    if facts.auth_sender is not None:
        lines.append(f"(Authenticated sender: {facts.auth_sender})")
    by = f"by {facts.by} ({facts.software}) with {facts.protocol.value} id {facts.queue_id}"
    if len(facts.recipients) == 1:
        lines.extend([by, f"for <{facts.recipients[0]}>; {_date(when)}"])
    else:
        lines.extend([by + ";", _date(when)])
    return "\n\t".join(lines)


def format_duration(seconds: float | None) -> str:
    """``3s``, ``2m05s``, ``1h02m``, ``2d03h``; negative values keep their sign; None is ``-``."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    if total < 60:
        body = f"{abs(seconds):.3g}s" if abs(seconds) != total else f"{total}s"
    elif total < 3600:
        body = f"{total // 60}m{total % 60:02d}s"
    elif total < 86400:
        body = f"{total // 3600}h{total % 3600 // 60:02d}m"
    else:
        body = f"{total // 86400}d{total % 86400 // 3600:02d}h"
    return sign + body


# --- reading a whole trace --------------------------------------------------------------


class Trust(Enum):
    """Where a hop stands relative to the trust boundary (our first MX)."""

    TRUSTED = "trusted"
    UNVERIFIABLE = "unverifiable"
    NOT_CHECKED = "not checked"

    @classmethod
    def from_text(cls, text: str) -> Trust:
        wanted = text.strip().lower().replace("_", " ")
        for member in cls:
            if member.value == wanted:
                return member
        expected = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown trust {text!r} (expected one of: {expected})")


@dataclass(frozen=True, slots=True)
class TracedHop:
    """One hop of a trace: ``index`` 0 is the topmost header; ``number`` 1 the oldest hop.

    ``delay`` is seconds since the hop below (``None`` for the oldest or an unknown time).
    """

    hop: Hop
    index: int
    number: int
    delay: float | None
    trust: Trust

    @property
    def skew(self) -> bool:
        """A negative delay: this host's clock is behind the one below it (or that one ahead)."""
        return self.delay is not None and self.delay < 0

    def as_json(self) -> dict[str, object]:
        return {
            "hop": self.number,
            "index": self.index,
            **self.hop.as_json(),
            "delay": self.delay,
            "skew": self.skew,
            "trust": self.trust.value,
        }


@dataclass(frozen=True, slots=True)
class Trace:
    """The hops of one message, newest first, with the trust boundary if one was asked for."""

    hops: tuple[TracedHop, ...]
    trusted: tuple[str, ...] = ()
    boundary: int | None = None
    message_date: datetime | None = None
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> float | None:
        """Seconds from the oldest to the newest stamped hop (``None`` with fewer than two)."""
        times = [h.hop.time for h in self.hops if h.hop.time is not None]
        if len(times) < 2:
            return None
        return (times[0] - times[-1]).total_seconds()

    @property
    def skewed(self) -> tuple[TracedHop, ...]:
        return tuple(h for h in self.hops if h.skew)

    @property
    def unverifiable(self) -> tuple[TracedHop, ...]:
        return tuple(h for h in self.hops if h.trust is Trust.UNVERIFIABLE)

    def as_json(self) -> dict[str, object]:
        boundary = None if self.boundary is None else self.hops[self.boundary].number
        return {
            "hops": [h.as_json() for h in self.hops],
            "total": self.total,
            "trusted": list(self.trusted),
            "boundary_hop": boundary,
            "skew": bool(self.skewed),
            "message_date": None if self.message_date is None else self.message_date.isoformat(),
            "notes": list(self.notes),
        }


def _host_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _boundary(hops: Sequence[Hop], trusted: set[str]) -> int | None:
    """Index of the lowest header in the first unbroken run written by a trusted host."""
    top = next((i for i, h in enumerate(hops) if h.by and _host_key(h.by) in trusted), None)
    if top is None:
        return None
    end = top
    while end + 1 < len(hops) and _host_key(hops[end + 1].by or "") in trusted:
        end += 1
    return end


def trace_fields(
    fields: Sequence[str],
    *,
    trusted: Iterable[str] = (),
    message_date: datetime | None = None,
) -> Trace:
    """Read Received field bodies in header order (topmost first) into a :class:`Trace`.

    ``trusted`` names the hosts of our own MXes (compared case-insensitively, trailing
    dot ignored).  Hops at or above the lowest header they wrote are trusted; the ones
    below are unverifiable.  Without ``trusted`` every hop is ``Trust.NOT_CHECKED``.
    """
    hops = [parse_received(value) for value in fields]
    names = tuple(dict.fromkeys(n.strip() for n in trusted if n.strip()))
    keys = {_host_key(n) for n in names}
    notes: list[str] = []
    boundary = _boundary(hops, keys) if keys else None
    if keys and boundary is None:
        notes.append(f"no Received header was written by a trusted host ({', '.join(names)})")
    if len(hops) >= LOOP_LIMIT:
        notes.append(f"{len(hops)} Received headers: a mail loop (RFC 5321 §6.3)")
    traced = []
    for index, hop in enumerate(hops):
        delay = None
        if index + 1 < len(hops):
            older = hops[index + 1].time
            if hop.time is not None and older is not None:
                delay = (hop.time - older).total_seconds()
        if not keys:
            trust = Trust.NOT_CHECKED
        elif boundary is not None and index <= boundary:
            trust = Trust.TRUSTED
        else:
            trust = Trust.UNVERIFIABLE
        traced.append(TracedHop(hop, index, len(hops) - index, delay, trust))
    return Trace(tuple(traced), names, boundary, message_date, tuple(notes))


def received_fields(data: bytes) -> tuple[tuple[str, ...], datetime | None]:
    """The Received field bodies of a message (header order) and its ``Date:``, if readable.

    Uses the tolerant ``compat32`` parser: a damaged header section yields what it can.
    """
    message = BytesHeaderParser(policy=compat32).parsebytes(data)
    values = tuple(_text(v) for v in message.get_all("Received") or [])
    date_value = message.get("Date")
    when = None
    if date_value is not None:
        try:
            when = parsedate_to_datetime(unfold(_text(date_value)))
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return values, when


def _text(value: object) -> str:
    return str(value) if isinstance(value, Header | str) else repr(value)


def trace_message(data: bytes, *, trusted: Iterable[str] = ()) -> Trace:
    """:func:`trace_fields` over the Received headers of a raw message (``.eml`` bytes)."""
    fields, when = received_fields(data)
    return trace_fields(fields, trusted=trusted, message_date=when)

"""A man-in-the-middle between a sending MTA and a receiving MX: what each sender policy gets.

An attacker on the network path (not in DNS, not on the policy web server) can change
what the sending MTA sees of one SMTP connection (RFC 3207 §6, RFC 8461 §10):

* ``strip``: delete ``250-STARTTLS`` from the EHLO reply.  The client cannot tell this
  from a server without TLS (:attr:`~sim.policy.tls.StartTls.STRIPPED`).
* ``starttls-4xx`` / ``starttls-5xx``: answer the ``STARTTLS`` command itself, with
  ``454 4.7.0 TLS not available`` or a 5xx reply.  Both are a refused STARTTLS
  (:attr:`~sim.policy.tls.StartTls.REFUSED`): Postfix ``smtp_proto.c`` continues in
  plaintext on the same session when TLS is optional, and fails the host with the
  server's own reply when TLS is mandatory.
* ``intercept``: complete the TLS handshake itself, with a certificate of its own
  (self-signed, or for a name that is not the MX host).
* ``intercept-trusted-other-name``: the same with a certificate from a publicly trusted
  CA, issued for a name the attacker controls (``trusted=True``, wrong names).

DANE TLSA records and the MTA-STS policy are unaffected: they come from DNSSEC and
from HTTPS, not from the SMTP path, so :func:`apply` changes only ``starttls``,
``handshake``, ``chain`` and ``trusted``.  The verdict is then computed by
:func:`sim.policy.tls.decide` (nothing here decides anything itself), and
:func:`exposure` says what it means for the message: read by the attacker (in
plaintext, or over TLS the attacker terminated), encrypted but not authenticated,
authenticated, or not sent.

:func:`outcome_matrix` runs every sender setup (:data:`SENDER_SETUPS`, built by
:func:`build_setup` from the real server's certificate chain) against every attack;
:func:`to_frame` turns the cells into a pandas table.  Nothing here reads a clock or
the network: ``now`` and the certificates are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from sim.policy.certs import cert_names, tlsa_for
from sim.policy.dane import DnssecStatus, TlsaAnswer, parse_tlsa
from sim.policy.mtasts import Mode, StsPolicy
from sim.policy.tls import (
    ConnectionFacts,
    Handshake,
    Level,
    Outcome,
    StartTls,
    TlsPolicy,
    Verdict,
    decide,
    names_match,
)
from sim.policy.vocab import enum_from_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALL_SETUPS",
    "EXTRA_SETUPS",
    "INTERCEPTS",
    "SENDER_SETUPS",
    "SETUP_DESCRIPTIONS",
    "Attack",
    "Cell",
    "Exposure",
    "apply",
    "build_setup",
    "chain_trusted",
    "exposure",
    "outcome_matrix",
    "render_markdown",
    "to_frame",
]


class Attack(Enum):
    """What the on-path attacker does to one SMTP connection."""

    NONE = "none"
    STRIP = "strip"
    STARTTLS_4XX = "starttls-4xx"
    STARTTLS_5XX = "starttls-5xx"
    INTERCEPT = "intercept"
    INTERCEPT_TRUSTED_OTHER_NAME = "intercept-trusted-other-name"

    @classmethod
    def from_text(cls, text: str) -> Attack:
        return enum_from_text(cls, text.replace("_", "-"), "attack")

    @property
    def description(self) -> str:
        return _ATTACK_DESCRIPTIONS[self]


_ATTACK_DESCRIPTIONS = {
    Attack.NONE: "no attacker",
    Attack.STRIP: "removes 250-STARTTLS from the EHLO reply",
    Attack.STARTTLS_4XX: "answers STARTTLS with 454 4.7.0 TLS not available",
    Attack.STARTTLS_5XX: "answers STARTTLS with a 5xx reply",
    Attack.INTERCEPT: "completes TLS itself with its own (untrusted or wrong-name) certificate",
    Attack.INTERCEPT_TRUSTED_OTHER_NAME: (
        "completes TLS itself with a publicly trusted certificate for another name"
    ),
}

#: The attacks in which the attacker, not the real server, ends the TLS session.
INTERCEPTS = frozenset({Attack.INTERCEPT, Attack.INTERCEPT_TRUSTED_OTHER_NAME})


class Exposure(Enum):
    """What the result means for the message, from the attacker's point of view."""

    PLAINTEXT_EXPOSED = "plaintext-exposed"
    ENCRYPTED_TO_ATTACKER = "encrypted-to-attacker"
    ENCRYPTED_UNAUTHENTICATED = "encrypted-unauthenticated"
    AUTHENTICATED = "authenticated"
    DEFERRED = "deferred"

    @classmethod
    def from_text(cls, text: str) -> Exposure:
        return enum_from_text(cls, text.replace("_", "-"), "exposure")

    @property
    def exposed(self) -> bool:
        """The attacker reads the message (in plaintext or over its own TLS session)."""
        return self in (Exposure.PLAINTEXT_EXPOSED, Exposure.ENCRYPTED_TO_ATTACKER)

    @property
    def delivered(self) -> bool:
        """The message left the sender (to the real server or to the attacker)."""
        return self is not Exposure.DEFERRED

    @property
    def description(self) -> str:
        return _EXPOSURE_DESCRIPTIONS[self]


_EXPOSURE_DESCRIPTIONS = {
    Exposure.PLAINTEXT_EXPOSED: "sent in plaintext: whoever is on the path reads and can alter it",
    Exposure.ENCRYPTED_TO_ATTACKER: (
        "sent over TLS that the attacker terminated: the attacker reads it, then relays it"
    ),
    Exposure.ENCRYPTED_UNAUTHENTICATED: (
        "sent over TLS to the real server, not authenticated: safe from this attacker, "
        "not from one who intercepts"
    ),
    Exposure.AUTHENTICATED: "sent over TLS to the authenticated real server: safe",
    Exposure.DEFERRED: (
        "not sent: the policy refused this connection; the message waits in the queue "
        "and bounces if the attack outlasts the queue lifetime"
    ),
}


# -- the attacker's view of one connection --------------------------------------------------


def apply(
    attack: Attack,
    facts: ConnectionFacts,
    attacker_chain: Sequence[x509.Certificate],
    attacker_trusted: bool = False,
) -> ConnectionFacts:
    """The facts the sending MTA sees when the attacker does ``attack`` to ``facts``.

    ``facts`` are those of the connection without an attacker.  ``attacker_chain``
    (leaf first) and ``attacker_trusted`` (it leads to a CA the sender trusts) are the
    attacker's certificate, used by the interceptions only.
    ``intercept-trusted-other-name`` is always trusted, and its leaf must not carry the
    MX host name or the next-hop domain (that would be a mis-issued certificate for
    the victim's name, a different attack).  ``tlsa``, ``sts`` and the names are never
    changed: the attacker is on the SMTP path, not in DNS or HTTPS.
    """
    if attack is Attack.NONE:
        return facts
    if attack is Attack.STRIP:
        # No STARTTLS, no handshake, no certificate: the client sees a plaintext server.
        return replace(facts, starttls=StartTls.STRIPPED, chain=(), trusted=False)
    if attack in (Attack.STARTTLS_4XX, Attack.STARTTLS_5XX):
        # STARTTLS was announced (the real server's EHLO passes through) but refused.
        return replace(facts, starttls=StartTls.REFUSED, chain=(), trusted=False)
    chain = tuple(attacker_chain)
    if not chain:
        raise ValueError(f"attack {attack.value} needs the attacker's certificate chain")
    if attack is Attack.INTERCEPT_TRUSTED_OTHER_NAME:
        presented = cert_names(chain[0])
        if names_match(
            presented,
            ("hostname", "nexthop", "dot-nexthop"),
            nexthop=facts.nexthop,
            mx=facts.mx,
        ):
            raise ValueError(
                f"attack {attack.value}: the attacker's certificate names "
                f"{', '.join(presented)} cover {facts.mx} or {facts.nexthop}; this attack "
                "is a trusted certificate for another name"
            )
        attacker_trusted = True
    return replace(
        facts,
        starttls=StartTls.OFFERED,
        handshake=Handshake.OK,
        chain=chain,
        trusted=attacker_trusted,
    )


def exposure(attack: Attack, verdict: Verdict) -> Exposure:
    """Classify the verdict of a connection under ``attack`` (see :class:`Exposure`).

    Under an interception every TLS delivery goes to the attacker, whatever the
    verdict's authentication says (a certificate mis-issued for the victim's name would
    be "verified" and still read by the attacker).
    """
    if verdict.outcome is Outcome.DEFER:
        return Exposure.DEFERRED
    if verdict.outcome is Outcome.PLAINTEXT:
        return Exposure.PLAINTEXT_EXPOSED
    if attack in (Attack.STRIP, Attack.STARTTLS_4XX, Attack.STARTTLS_5XX):
        raise ValueError(f"a TLS verdict is impossible when the attacker does {attack.value}")
    if attack in INTERCEPTS:
        return Exposure.ENCRYPTED_TO_ATTACKER
    if verdict.authenticated:
        return Exposure.AUTHENTICATED
    return Exposure.ENCRYPTED_UNAUTHENTICATED


def chain_trusted(chain: Sequence[x509.Certificate], anchors: Iterable[x509.Certificate]) -> bool:
    """Does ``chain`` (leaf first) lead to one of ``anchors`` by signatures?

    The ``trusted`` fact of :class:`~sim.policy.tls.ConnectionFacts`: each certificate is
    signed by the next one, and the last is an anchor or signed by one.  Dates and
    names are not checked here (:func:`~sim.policy.tls.decide` checks them).
    """
    certs = tuple(chain)
    roots = tuple(anchors)
    if not certs:
        return False
    if not all(_signed_by(certs[i], certs[i + 1]) for i in range(len(certs) - 1)):
        return False
    last = certs[-1]
    return any(last == root or _signed_by(last, root) for root in roots)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# -- sender setups ------------------------------------------------------------------------

#: The sender configurations of the matrix, in display order.
SENDER_SETUPS: tuple[str, ...] = (
    "may",
    "encrypt",
    "verify",
    "dane",
    "mta-sts-testing",
    "mta-sts-enforce",
)
#: Further setups :func:`build_setup` knows, for comparison.
EXTRA_SETUPS: tuple[str, ...] = ("none", "secure", "dane-only")
#: Every setup, weakest first.
ALL_SETUPS: tuple[str, ...] = (
    "none",
    "may",
    "encrypt",
    "verify",
    "secure",
    "dane",
    "dane-only",
    "mta-sts-testing",
    "mta-sts-enforce",
)

SETUP_DESCRIPTIONS: dict[str, str] = {
    "none": "smtp_tls_security_level = none: never TLS",
    "may": "smtp_tls_security_level = may: opportunistic TLS, certificate not checked",
    "encrypt": "smtp_tls_security_level = encrypt: mandatory TLS, certificate not checked",
    "verify": "smtp_tls_security_level = verify: mandatory TLS, CA-signed certificate "
    "for the MX host name",
    "secure": "smtp_tls_security_level = secure: mandatory TLS, CA-signed certificate "
    "for the next-hop domain",
    "dane": "smtp_tls_security_level = dane, with a DNSSEC-validated TLSA 3 1 1 record of "
    "the server's certificate",
    "dane-only": "smtp_tls_security_level = dane-only, with the same TLSA record",
    "mta-sts-testing": "level may, and an MTA-STS policy in mode testing listing the MX host",
    "mta-sts-enforce": "level may, and an MTA-STS policy in mode enforce listing the MX host",
}

_STS_MAX_AGE = 604800  # one week, the RFC 8461 §3.2 example


def build_setup(
    name: str,
    *,
    server_chain: Sequence[x509.Certificate],
    now: datetime,
    nexthop: str = "example.com",
    mx: str = "mx.example.com",
    trusted: bool = True,
) -> tuple[TlsPolicy, ConnectionFacts]:
    """The sender policy of setup ``name`` and the facts of a connection to the real MX.

    ``server_chain`` is the real server's chain, leaf first; ``trusted`` says whether
    it leads to a CA the sender trusts (:func:`chain_trusted`).  The ``dane`` setups
    publish a secure ``3 1 1`` TLSA record of the leaf; the ``mta-sts`` setups use
    level ``may`` with a policy in force that lists ``mx``.
    """
    chain = tuple(server_chain)
    if not chain:
        raise ValueError("the real server's certificate chain is empty")
    facts = ConnectionFacts(nexthop=nexthop, mx=mx, now=now, chain=chain, trusted=trusted)
    if name in ("none", "may", "encrypt", "verify", "secure"):
        return TlsPolicy(Level.from_text(name)), facts
    if name in ("dane", "dane-only"):
        record = parse_tlsa(tlsa_for(chain[0], usage=3, selector=1, mtype=1))
        tlsa = TlsaAnswer(DnssecStatus.SECURE, (record,))
        return TlsPolicy(Level.from_text(name)), replace(facts, tlsa=tlsa)
    if name in ("mta-sts-testing", "mta-sts-enforce"):
        mode = Mode.TESTING if name.endswith("testing") else Mode.ENFORCE
        sts = StsPolicy(version="STSv1", mode=mode, mx=(facts.mx,), max_age=_STS_MAX_AGE)
        return TlsPolicy(Level.MAY), replace(facts, sts=sts)
    known = ", ".join(ALL_SETUPS)
    raise ValueError(f"unknown sender setup {name!r} (expected one of: {known})")


# -- the matrix -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One sender setup against one attack: the facts seen, the verdict, the exposure."""

    setup: str
    attack: Attack
    policy: TlsPolicy
    facts: ConnectionFacts  # what the sending MTA saw, with the attacker
    verdict: Verdict
    exposure: Exposure
    note: str | None = None  # where real Postfix does more than the verdict says

    def explain(self) -> str:
        """One paragraph for a student: setup, attack, verdict and what it means."""
        v = self.verdict
        status = f" {v.status}" if v.status else ""
        auth = f", authenticated via {v.via.value}" if v.via is not None else ""
        text = (
            f"{self.setup} ({SETUP_DESCRIPTIONS[self.setup]}) against "
            f"{self.attack.value} ({self.attack.description}): {v.outcome.value}{status}"
            f"{auth}. {v.reason}. Result: {self.exposure.description}."
        )
        if v.tlsrpt is not None:
            text += f" TLS-RPT: {v.tlsrpt.value}."
        if self.note:
            text += f" Note: {self.note}."
        return text


_BOUNCE_NOTE = (
    "Postfix fails the host with the server's own reply status (smtp_site_fail); a 5xx "
    "status bounces the message at once, without trying other MX hosts, unless "
    "soft_bounce = yes (relaysim's verdict assumes a 4xx refusal)"
)


def _note(attack: Attack, verdict: Verdict) -> str | None:
    if attack is Attack.STARTTLS_5XX and verdict.outcome is Outcome.DEFER:
        return _BOUNCE_NOTE
    return None


def outcome_matrix(
    now: datetime,
    server_chain: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    attacker_chain: Sequence[x509.Certificate],
    *,
    attacker_trusted_chain: Sequence[x509.Certificate] | None = None,
    attacks: Sequence[Attack] | None = None,
    setups: Sequence[str] = SENDER_SETUPS,
    nexthop: str = "example.com",
    mx: str = "mx.example.com",
) -> list[Cell]:
    """Every setup against every attack, decided by :func:`sim.policy.tls.decide`.

    ``server_chain`` is the real MX's chain and ``trust_anchors`` the CAs the sender
    trusts; whether a chain is trusted is computed (:func:`chain_trusted`), for the
    real server and for the attacker alike.  ``attacker_chain`` is used by
    ``intercept``; ``attacker_trusted_chain`` (a certificate from a trusted CA for
    another name) by ``intercept-trusted-other-name``.  ``attacks`` defaults to every
    attack, without ``intercept-trusted-other-name`` when no such chain is given.
    Cells come setup by setup, attacks in order.
    """
    if attacks is None:
        attacks = [
            a
            for a in Attack
            if a is not Attack.INTERCEPT_TRUSTED_OTHER_NAME or attacker_trusted_chain is not None
        ]
    if Attack.INTERCEPT_TRUSTED_OTHER_NAME in attacks:
        if attacker_trusted_chain is None:
            raise ValueError("attack intercept-trusted-other-name needs attacker_trusted_chain")
        if not chain_trusted(attacker_trusted_chain, trust_anchors):
            raise ValueError("attacker_trusted_chain does not lead to a trusted CA")
    server_trusted = chain_trusted(server_chain, trust_anchors)
    attacker_trusted = chain_trusted(attacker_chain, trust_anchors)
    cells: list[Cell] = []
    for name in setups:
        policy, template = build_setup(
            name,
            server_chain=server_chain,
            now=now,
            nexthop=nexthop,
            mx=mx,
            trusted=server_trusted,
        )
        for attack in attacks:
            if attack is Attack.INTERCEPT_TRUSTED_OTHER_NAME:
                assert attacker_trusted_chain is not None
                seen = apply(attack, template, attacker_trusted_chain, True)
            else:
                seen = apply(attack, template, attacker_chain, attacker_trusted)
            verdict = decide(policy, seen)
            cells.append(
                Cell(
                    setup=name,
                    attack=attack,
                    policy=policy,
                    facts=seen,
                    verdict=verdict,
                    exposure=exposure(attack, verdict),
                    note=_note(attack, verdict),
                )
            )
    return cells


def _axes(cells: Sequence[Cell]) -> tuple[list[str], list[Attack]]:
    setups = list(dict.fromkeys(c.setup for c in cells))
    attacks = list(dict.fromkeys(c.attack for c in cells))
    return setups, attacks


def to_frame(
    cells: Sequence[Cell], *, value: Literal["exposure", "verdict", "cell"] = "exposure"
) -> pd.DataFrame:
    """Rows setups, columns attacks (their text values), in the cells' order.

    ``value``: the :class:`Exposure` (default), the :class:`~sim.policy.tls.Verdict`, or
    the whole :class:`Cell`.
    """
    import pandas as pd

    setups, attacks = _axes(cells)
    table: dict[str, dict[str, object]] = {a.value: {} for a in attacks}
    for cell in cells:
        item: object = {"exposure": cell.exposure, "verdict": cell.verdict, "cell": cell}[value]
        table[cell.attack.value][cell.setup] = item
    frame = pd.DataFrame(table, index=setups, columns=[a.value for a in attacks], dtype=object)
    frame.index.name = "setup"
    frame.columns.name = "attack"
    return frame


def render_markdown(cells: Sequence[Cell]) -> str:
    """The matrix as a Markdown table: exposure, then the verdict (docs/tls.md)."""
    setups, attacks = _axes(cells)
    by_key = {(c.setup, c.attack): c for c in cells}
    lines = [
        "| setup | " + " | ".join(f"`{a.value}`" for a in attacks) + " |",
        "| --- |" + " --- |" * len(attacks),
    ]
    for name in setups:
        row = []
        for attack in attacks:
            cell = by_key.get((name, attack))
            if cell is None:
                row.append("")
                continue
            v = cell.verdict
            if v.outcome is Outcome.DEFER:
                verdict = f"defer {v.status}" + ("\\*" if cell.note else "")
            elif v.outcome is Outcome.PLAINTEXT:
                verdict = "plaintext"
            else:
                verdict = f"tls {v.via.value}" if v.via is not None else "tls unauthenticated"
            row.append(f"**{cell.exposure.value}** ({verdict})")
        lines.append(f"| `{name}` | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"

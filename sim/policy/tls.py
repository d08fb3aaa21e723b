"""Sender-side TLS policy: Postfix security levels, DANE and MTA-STS for one connection.

Implements Postfix ``smtp_tls_security_level`` semantics (postconf(5), TLS_README:
``none``, ``may``, ``encrypt``, ``dane``, ``dane-only``, ``fingerprint``, ``verify``,
``secure``, with the ``match=`` rules of ``smtp_tls_verify_cert_match`` and
``smtp_tls_secure_cert_match``), opportunistic and mandatory DANE (RFC 7672 §2.1.1,
§2.2, §6; certificate checks in :mod:`sim.policy.dane`), MTA-STS validation and
application (RFC 8461 §4.1, §4.2, §5) and its precedence rule (RFC 8461 §2: MTA-STS
never overrides a failing DANE validation), and the TLS-RPT result type of each
failure (RFC 8460 §4.3).

Theory of operation
-------------------
:func:`decide` takes a :class:`TlsPolicy` (a level with its ``match=`` list, from
``smtp_tls_security_level`` or ``smtp_tls_policy_maps``, see
:mod:`sim.policy.tls_policy_map`) and the :class:`ConnectionFacts` of one attempt to
one MX host, and returns a frozen :class:`Verdict`: ``tls`` (deliver over TLS, with
the authentication reached), ``plaintext`` (deliver without TLS) or ``defer`` (do not
deliver to this host: the client tries the next MX, and defers the message with the
4.7.x status when none is left).

1. ``none`` never uses TLS (and ignores MTA-STS: an explicit local override).
2. ``dane``/``dane-only`` look at the TLSA answer first.  Bogus/SERVFAIL: defer, never
   plaintext.  Usable records: TLS is mandatory and the chain must match a record;
   the result is final and MTA-STS is not consulted for the certificate.  All records
   unusable: ``dane`` becomes ``encrypt`` (RFC 7672 §2.2), ``dane-only`` defers.
   No (secure) TLSA: ``dane`` becomes ``may``, ``dane-only`` defers (``dane-required``).
3. The other levels check, in order: STARTTLS offered, handshake, then the certificate
   (``fingerprint``: leaf or key digest; ``verify``/``secure``: trusted chain, validity
   dates, names).
4. An MTA-STS policy in force (mode ``enforce`` or ``testing``) is applied on top of
   every level but ``none`` when DANE does not authenticate the host.  Under
   ``enforce`` a failure defers (RFC 8461 §5); under ``testing`` the level's verdict
   stands and the failure is reported.  ``enforce`` also refuses an MX host that is not
   in the policy's ``mx`` list, DANE or not (RFC 8461 §4.1, §8.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import TypeVar

from cryptography import x509

from sim.policy.certs import cert_names, fingerprint, is_expired, name_matches
from sim.policy.dane import DaneOutcome, DaneState, DnssecStatus, TlsaAnswer, verify
from sim.policy.mtasts import Mode, StsPolicy
from sim.policy.tlsrpt import TlsRptResult
from sim.policy.vocab import enum_from_text

__all__ = [
    "Auth",
    "ConnectionFacts",
    "Handshake",
    "Level",
    "Outcome",
    "StartTls",
    "TlsPolicy",
    "Verdict",
    "Via",
    "decide",
    "names_match",
]


_E = TypeVar("_E", bound=Enum)


def _member(cls: type[_E], text: str, what: str) -> _E:
    return enum_from_text(cls, text, what)


class Level(Enum):
    """Postfix ``smtp_tls_security_level`` values (postconf(5))."""

    NONE = "none"
    MAY = "may"
    ENCRYPT = "encrypt"
    DANE = "dane"
    DANE_ONLY = "dane-only"
    FINGERPRINT = "fingerprint"
    VERIFY = "verify"
    SECURE = "secure"

    @classmethod
    def from_text(cls, text: str) -> Level:
        return _member(cls, text, "TLS security level")

    @property
    def takes_match(self) -> bool:
        """Levels that accept a ``match=`` attribute in a policy map."""
        return self in (Level.FINGERPRINT, Level.VERIFY, Level.SECURE)


class StartTls(Enum):
    """What the client saw of STARTTLS.

    ``stripped`` covers "not offered": whether the server lacks it or an on-path
    attacker deleted ``250-STARTTLS``, the client cannot tell (RFC 8461 §10).
    ``refused`` is a non-2xx reply to the STARTTLS command.
    """

    OFFERED = "offered"
    STRIPPED = "stripped"
    REFUSED = "refused"

    @classmethod
    def from_text(cls, text: str) -> StartTls:
        if text.strip().lower() in ("not-offered", "absent"):
            return cls.STRIPPED
        return _member(cls, text, "STARTTLS state")


class Handshake(Enum):
    OK = "ok"
    FAIL = "fail"

    @classmethod
    def from_text(cls, text: str) -> Handshake:
        return _member(cls, text, "handshake result")


class Outcome(Enum):
    TLS = "tls"
    PLAINTEXT = "plaintext"
    DEFER = "defer"

    @classmethod
    def from_text(cls, text: str) -> Outcome:
        return _member(cls, text, "verdict")


class Auth(Enum):
    """Authentication reached (Postfix logs: Anonymous/Untrusted, Verified, ...)."""

    NONE = "none"  # no TLS at all
    ENCRYPTED = "encrypted"  # TLS, peer not authenticated
    FINGERPRINT = "fingerprint"
    VERIFIED = "verified"  # PKIX chain and names
    DANE = "dane"

    @classmethod
    def from_text(cls, text: str) -> Auth:
        return _member(cls, text, "authentication level")

    @property
    def authenticated(self) -> bool:
        return self in (Auth.FINGERPRINT, Auth.VERIFIED, Auth.DANE)


class Via(Enum):
    """What authenticated the server."""

    DANE = "dane"
    MTA_STS = "mta-sts"
    PKIX = "pkix"
    FINGERPRINT = "fingerprint"

    @classmethod
    def from_text(cls, text: str) -> Via:
        return _member(cls, text, "authentication method")


_DEFAULT_MATCH = {
    Level.VERIFY: ("hostname",),  # smtp_tls_verify_cert_match
    Level.SECURE: ("nexthop", "dot-nexthop"),  # smtp_tls_secure_cert_match
}


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """A security level with its ``match=`` list and other policy-map attributes."""

    level: Level
    match: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    source: str = "smtp_tls_security_level"

    def __post_init__(self) -> None:
        if self.match and not self.level.takes_match:
            raise ValueError(
                f"match= is only valid with levels fingerprint, verify and secure, "
                f"not {self.level.value}"
            )

    @property
    def match_patterns(self) -> tuple[str, ...]:
        """``match=`` or the Postfix default for the level."""
        return self.match or _DEFAULT_MATCH.get(self.level, ())

    def describe(self) -> str:
        parts = [self.level.value, *(f"match={m}" for m in self.match)]
        parts += [f"{k}={v}" for k, v in self.attributes]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ConnectionFacts:
    """What one connection attempt to one MX host found out."""

    nexthop: str  # the next-hop domain (normally the recipient domain)
    mx: str  # the MX host name connected to
    now: datetime
    starttls: StartTls = StartTls.OFFERED
    handshake: Handshake = Handshake.OK
    chain: tuple[x509.Certificate, ...] = ()  # presented chain, leaf first
    trusted: bool = False  # the chain builds to a trusted root (PKIX)
    tlsa: TlsaAnswer = field(default_factory=lambda: TlsaAnswer(DnssecStatus.NONE))
    sts: StsPolicy | None = None  # a valid, unexpired MTA-STS policy in force
    # Postfix at level ``may`` retries a server without TLS after a handshake failure
    # only once the message has waited minimal_backoff_time and no SASL is configured.
    plaintext_retry: bool = True

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be a timezone-aware datetime")
        if not self.nexthop or not self.mx:
            raise ValueError("nexthop and mx must be non-empty host names")
        object.__setattr__(self, "nexthop", _bare_nexthop(self.nexthop))
        object.__setattr__(self, "mx", self.mx.lower().rstrip("."))


def _bare_nexthop(nexthop: str) -> str:
    """``[relay.example.net]:587`` -> ``relay.example.net``: Postfix matches certificates
    against the next-hop domain without brackets or port (TLS_README, match=nexthop)."""
    name = nexthop.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Deliver over TLS, in plaintext, or not to this host; why; what to report."""

    outcome: Outcome
    auth: Auth
    via: Via | None
    reason: str
    tlsrpt: TlsRptResult | None = None
    status: str | None = None  # the 4.7.x status of a deferral
    level: Level | None = None  # the level finally applied

    def __post_init__(self) -> None:
        if (self.outcome is Outcome.TLS) == (self.auth is Auth.NONE):
            raise ValueError(f"verdict {self.outcome.value} with authentication {self.auth}")
        if (self.via is not None) != self.auth.authenticated:
            raise ValueError("via is set exactly when the server was authenticated")
        if (self.outcome is Outcome.DEFER) != (self.status is not None):
            raise ValueError("a deferral, and only a deferral, carries a 4.7.x status")

    @property
    def authenticated(self) -> bool:
        return self.auth.authenticated

    def as_dict(self) -> dict[str, object]:
        """The ``relaysim tls check --json`` object."""
        return {
            "verdict": self.outcome.value,
            "authenticated": self.authenticated,
            "via": None if self.via is None else self.via.value,
            "reason": self.reason,
            "tlsrpt_result": None if self.tlsrpt is None else self.tlsrpt.value,
        }


# -- helpers ------------------------------------------------------------------------------


def _tls(auth: Auth, via: Via | None, reason: str, level: Level) -> Verdict:
    return Verdict(Outcome.TLS, auth, via, reason, level=level)


def _plain(reason: str, level: Level) -> Verdict:
    return Verdict(Outcome.PLAINTEXT, Auth.NONE, None, reason, level=level)


def _defer(status: str, reason: str, tlsrpt: TlsRptResult | None, level: Level) -> Verdict:
    return Verdict(Outcome.DEFER, Auth.NONE, None, reason, tlsrpt, status, level)


def _pattern_matches(presented: str, pattern: str) -> bool:
    """A certificate name against one reference: ``.domain`` = strict subdomains."""
    if not pattern.startswith("."):
        return name_matches(presented, pattern)
    suffix = pattern.lower().rstrip(".")
    presented = presented.lower().rstrip(".")
    if presented.startswith("*."):
        rest = presented[2:]
        return rest == suffix[1:] or rest.endswith(suffix)
    return presented.endswith(suffix) and len(presented) > len(suffix)


def names_match(
    presented: tuple[str, ...], patterns: tuple[str, ...], *, nexthop: str, mx: str
) -> bool:
    """Postfix ``match=`` semantics: ``hostname``, ``nexthop``, ``dot-nexthop``, names."""
    refs: list[str] = []
    for pattern in patterns:
        key = pattern.lower()
        if key == "hostname":
            refs.append(mx)
        elif key == "nexthop":
            refs.append(nexthop)
        elif key == "dot-nexthop":
            refs.append("." + nexthop)
        else:
            refs.append(key)
    return any(_pattern_matches(p, r) for p in presented for r in refs)


def _require_tls(facts: ConnectionFacts, level: Level, why: str) -> Verdict | None:
    """Mandatory TLS: STARTTLS offered and the handshake completed (TLS_README)."""
    if facts.starttls is StartTls.STRIPPED:
        return _defer(
            "4.7.4",
            f"TLS is required ({why}), but was not offered by host {facts.mx} "
            "(STARTTLS absent or stripped); no plaintext fallback",
            TlsRptResult.STARTTLS_NOT_SUPPORTED,
            level,
        )
    if facts.starttls is StartTls.REFUSED:
        return _defer(
            "4.7.0",
            f"TLS is required ({why}), but host {facts.mx} refused to start TLS",
            TlsRptResult.STARTTLS_NOT_SUPPORTED,
            level,
        )
    if facts.handshake is Handshake.FAIL:
        return _defer(
            "4.7.5",
            f"Cannot start TLS: handshake failure with {facts.mx} ({why})",
            TlsRptResult.VALIDATION_FAILURE,
            level,
        )
    return None


def _may(facts: ConnectionFacts, level: Level, prefix: str = "") -> Verdict:
    if facts.starttls is StartTls.STRIPPED:
        return _plain(
            f"{prefix}STARTTLS not offered by {facts.mx} (absent or stripped): opportunistic "
            "TLS continues in plaintext",
            level,
        )
    if facts.starttls is StartTls.REFUSED:
        return _plain(f"{prefix}{facts.mx} refused STARTTLS: continuing in plaintext", level)
    if facts.handshake is Handshake.FAIL:
        if facts.plaintext_retry:
            return _plain(
                f"{prefix}TLS handshake with {facts.mx} failed: opportunistic TLS retries "
                "the same server without TLS",
                level,
            )
        return _defer(
            "4.7.5",
            f"{prefix}Cannot start TLS: handshake failure (message younger than "
            "minimal_backoff_time: no plaintext retry yet)",
            None,
            level,
        )
    return _tls(Auth.ENCRYPTED, None, f"{prefix}opportunistic TLS; certificate not checked", level)


def _encrypt(facts: ConnectionFacts, level: Level, why: str) -> Verdict:
    failed = _require_tls(facts, level, why)
    if failed is not None:
        return failed
    return _tls(Auth.ENCRYPTED, None, f"mandatory TLS ({why}); certificate not checked", level)


def _fingerprint(policy: TlsPolicy, facts: ConnectionFacts) -> Verdict:
    level = policy.level
    failed = _require_tls(facts, level, "level fingerprint")
    if failed is not None:
        return failed
    if not facts.chain:
        return _defer(
            "4.7.5",
            "Server certificate not verified: no certificate presented",
            TlsRptResult.CERTIFICATE_NOT_TRUSTED,
            level,
        )

    def norm(fp: str) -> str:
        return fp.replace(":", "").strip().upper()

    wanted = {norm(m) for m in policy.match}
    leaf = facts.chain[0]
    for kind, fp in (
        ("certificate", fingerprint(leaf)),
        ("public key", fingerprint(leaf, public_key=True)),
    ):
        if norm(fp) in wanted:
            return _tls(
                Auth.FINGERPRINT,
                Via.FINGERPRINT,
                f"{kind} SHA-256 fingerprint {fp[:11]}... is in match= (no CA, name or "
                "date checks)",
                level,
            )
    return _defer(
        "4.7.5",
        "Server certificate not verified: neither the certificate nor the public-key "
        f"fingerprint is in match= ({len(wanted)} fingerprint{'s' if len(wanted) != 1 else ''})",
        TlsRptResult.CERTIFICATE_NOT_TRUSTED,
        level,
    )


def _pkix(policy: TlsPolicy, facts: ConnectionFacts) -> Verdict:
    level = policy.level
    failed = _require_tls(facts, level, f"level {level.value}")
    if failed is not None:
        return failed
    if not facts.chain or not facts.trusted:
        return _defer(
            "4.7.5",
            "Server certificate not trusted: the chain does not lead to a trusted CA",
            TlsRptResult.CERTIFICATE_NOT_TRUSTED,
            level,
        )
    leaf = facts.chain[0]
    if is_expired(leaf, facts.now):
        return _defer(
            "4.7.5",
            "Server certificate not verified: outside its validity period",
            TlsRptResult.CERTIFICATE_EXPIRED,
            level,
        )
    presented = cert_names(leaf)
    patterns = policy.match_patterns
    if not names_match(presented, patterns, nexthop=facts.nexthop, mx=facts.mx):
        return _defer(
            "4.7.5",
            f"Server certificate not verified: names {', '.join(presented) or '(none)'} "
            f"match none of match={':'.join(patterns)} (nexthop {facts.nexthop}, "
            f"hostname {facts.mx})",
            TlsRptResult.CERTIFICATE_HOST_MISMATCH,
            level,
        )
    return _tls(
        Auth.VERIFIED,
        Via.PKIX,
        f"certificate chain trusted and names match match={':'.join(patterns)}",
        level,
    )


_DANE_FAILURES = {
    DaneOutcome.NO_MATCH: TlsRptResult.CERTIFICATE_NOT_TRUSTED,
    DaneOutcome.NAME_MISMATCH: TlsRptResult.CERTIFICATE_HOST_MISMATCH,
    DaneOutcome.EXPIRED: TlsRptResult.CERTIFICATE_EXPIRED,
}


def _dane_usable(facts: ConnectionFacts, level: Level) -> Verdict:
    failed = _require_tls(facts, level, "DNSSEC-validated TLSA records")
    if failed is not None:
        return failed
    check = verify(facts.tlsa.usable, facts.chain, names=(facts.mx, facts.nexthop), now=facts.now)
    if check.authenticated:
        return _tls(Auth.DANE, Via.DANE, check.reason, level)
    return _defer(
        "4.7.5",
        f"Server certificate not verified by DANE: {check.reason}; no fallback to "
        "unauthenticated TLS or plaintext",
        _DANE_FAILURES.get(check.outcome, TlsRptResult.VALIDATION_FAILURE),
        level,
    )


def _sts_failure(sts: StsPolicy, facts: ConnectionFacts) -> tuple[TlsRptResult, str] | None:
    """RFC 8461 §4.1-4.2 validation of this MX host, or None when it passes."""
    if not sts.matches(facts.mx):
        listed = ", ".join(sts.mx) or "(none)"
        return TlsRptResult.VALIDATION_FAILURE, f"MX host {facts.mx} is not in mx: {listed}"
    if facts.starttls is not StartTls.OFFERED:
        return TlsRptResult.STARTTLS_NOT_SUPPORTED, f"{facts.mx} did not start TLS"
    if facts.handshake is Handshake.FAIL:
        return TlsRptResult.VALIDATION_FAILURE, "TLS handshake failed"
    if not facts.chain or not facts.trusted:
        return TlsRptResult.CERTIFICATE_NOT_TRUSTED, "certificate does not chain to a trusted CA"
    if is_expired(facts.chain[0], facts.now):
        return TlsRptResult.CERTIFICATE_EXPIRED, "certificate outside its validity period"
    leaf = facts.chain[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_ids = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns_ids = ()
    if not any(name_matches(n, facts.mx) for n in dns_ids):
        return (
            TlsRptResult.CERTIFICATE_HOST_MISMATCH,
            f"certificate DNS-IDs {', '.join(dns_ids) or '(none)'} do not match {facts.mx}",
        )
    return None


def _with_sts(base: Verdict, facts: ConnectionFacts) -> Verdict:
    """Apply an MTA-STS policy in force on top of a non-DANE verdict (RFC 8461 §5)."""
    sts = facts.sts
    if sts is None or sts.mode is Mode.NONE or base.outcome is Outcome.DEFER:
        return base
    failure = _sts_failure(sts, facts)
    if failure is None:
        if base.authenticated:
            return base
        return replace(
            base,
            auth=Auth.VERIFIED,
            via=Via.MTA_STS,
            reason=f"MTA-STS {sts.mode.value}: MX host listed and certificate valid for it "
            "(RFC 8461 §4)",
        )
    result, why = failure
    if sts.mode is Mode.ENFORCE:
        status = "4.7.4" if result is TlsRptResult.STARTTLS_NOT_SUPPORTED else "4.7.5"
        return _defer(
            status,
            f"MTA-STS policy enforce: {why}; not delivering to this MX (RFC 8461 §5)",
            result,
            base.level or Level.MAY,
        )
    return replace(
        base,
        reason=f"{base.reason}; MTA-STS testing would fail ({why}): delivered anyway, "
        "reported via TLS-RPT",
        tlsrpt=base.tlsrpt or result,
    )


def _sts_mx_refused(facts: ConnectionFacts, level: Level) -> Verdict | None:
    sts = facts.sts
    if sts is None or sts.mode is not Mode.ENFORCE or sts.matches(facts.mx):
        return None
    return _defer(
        "4.7.5",
        f"MTA-STS policy enforce: MX host {facts.mx} is not in mx: {', '.join(sts.mx)}; "
        "not delivering to this MX (RFC 8461 §4.1)",
        TlsRptResult.VALIDATION_FAILURE,
        level,
    )


def decide(policy: TlsPolicy, facts: ConnectionFacts) -> Verdict:
    """The verdict for one connection attempt under ``policy`` (see module docstring)."""
    level = policy.level
    if level is Level.NONE:
        return _plain("security level none: TLS is not used", level)
    if level in (Level.DANE, Level.DANE_ONLY):
        state = facts.tlsa.state()
        if state is DaneState.LOOKUP_FAILED:
            return _defer(
                "4.7.5",
                f"TLSA lookup error for {facts.mx}:25 (DNSSEC bogus or SERVFAIL): host not "
                "used, never plaintext (RFC 7672 §2.1.1)",
                TlsRptResult.DNSSEC_INVALID,
                level,
            )
        if state is DaneState.USABLE:
            # RFC 8461 §2: DANE decides; MTA-STS never overrides a failing DANE check.
            return _sts_mx_refused(facts, level) or _dane_usable(facts, level)
        if level is Level.DANE_ONLY:
            if state is DaneState.UNUSABLE:
                return _defer(
                    "4.7.5",
                    f"dane-only: all TLSA records of {facts.mx} are unusable; host not used",
                    TlsRptResult.TLSA_INVALID,
                    level,
                )
            return _defer(
                "4.7.5",
                f"dane-only: no DNSSEC-validated TLSA records for {facts.mx} "
                f"(TLSA {facts.tlsa.status.value}); host not used (RFC 7672 §6)",
                TlsRptResult.DANE_REQUIRED,
                level,
            )
        if state is DaneState.UNUSABLE:
            base = _encrypt(
                facts,
                Level.ENCRYPT,
                "secure TLSA records exist but none is usable: RFC 7672 §2.2 "
                "mandatory unauthenticated TLS",
            )
            if base.outcome is Outcome.TLS:
                base = replace(base, tlsrpt=TlsRptResult.TLSA_INVALID)
            return _with_sts(base, facts)
        status = facts.tlsa.status.value
        return _with_sts(_may(facts, Level.MAY, f"no usable DANE (TLSA {status}): "), facts)
    if level is Level.MAY:
        base = _may(facts, level)
    elif level is Level.ENCRYPT:
        base = _encrypt(facts, level, "level encrypt")
    elif level is Level.FINGERPRINT:
        base = _fingerprint(policy, facts)
    else:
        base = _pkix(policy, facts)
    return _with_sts(base, facts)

"""SMTP MTA Strict Transport Security, MTA-STS (RFC 8461), as pure functions and values.

Implements RFC 8461:

* §3.1 the ``_mta-sts`` TXT record: :func:`parse_txt` -> :class:`StsRecord`;
* §3.2 the policy file ``/.well-known/mta-sts.txt``: :func:`parse_policy` -> :class:`StsPolicy`;
* §3.3 and §5.1 fetching and caching: :func:`needs_fetch`, :func:`discover`;
* §4.1 MX host validation: :func:`mx_matches`, :meth:`StsPolicy.matches`;
* §4.2, §5 policy application per MX host: :func:`sts_verdict`.

Theory of operation.  The sender keeps, per policy domain, a :class:`DomainCache`: the
last good policy with the TXT ``id`` it was fetched under and when (it lives
``max_age`` seconds), plus the last failed fetch (to space retries).  Before a delivery
the caller looks up the TXT record and asks :func:`needs_fetch`; if a fetch is needed it
performs the HTTPS GET its own way (simulated or real) and hands the outcome to
:func:`discover` as a :class:`PolicyFetch` value.  :func:`discover` returns a
:class:`Discovery`: what happened (:class:`CacheAction`), the policy to apply now (or
None: deliver as if the domain had no MTA-STS), the new cache state to store, and any
TLS-RPT failure to record.  For each MX tried, :func:`sts_verdict` says whether the
host may be used and what to report.  Time is always the ``now`` argument (seconds);
nothing here reads a clock or touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import NamedTuple

from sim.errors import InputError
from sim.policy.tlsrpt import TlsRptResult
from sim.policy.vocab import enum_from_text

__all__ = [
    "DEFAULT_FETCH_RETRY",
    "MAX_AGE_LIMIT",
    "MAX_POLICY_BYTES",
    "MX_MISMATCH_REASON",
    "CacheAction",
    "CachedPolicy",
    "Discovery",
    "DomainCache",
    "Mode",
    "PolicyFetch",
    "StsPolicy",
    "StsRecord",
    "StsVerdict",
    "discover",
    "has_new_policy_id",
    "mx_matches",
    "needs_fetch",
    "parse_policy",
    "parse_txt",
    "sts_verdict",
]

MAX_AGE_LIMIT = 31_557_600
"""§3.2: the largest allowed ``max_age`` (about one year)."""

MAX_POLICY_BYTES = 64 * 1024
"""§3.3: suggested limit on the size of a policy body."""

DEFAULT_FETCH_RETRY = 300.0
"""§3.3 as summarised in reference/tls.md §4.3: at least 5 minutes between failed fetches
of one policy id."""

MX_MISMATCH_REASON = "mtasts-policy-mx-mismatch"
"""``failure-reason-code`` for an MX host outside the policy (RFC 8460 has no own type)."""


class Mode(Enum):
    """§3.2 ``mode``: what a sender does when validation fails (§5)."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"

    @classmethod
    def from_text(cls, text: str) -> Mode:
        return enum_from_text(cls, text, "MTA-STS mode")


# -- MX patterns (§3.2 sts-policy-mx-value, §4.1) -----------------------------------------

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not ``["*."] Domain`` (RFC 5321 Domain), or None if it is.

    One trailing dot is tolerated (a fully qualified name means the same host).
    """
    if not pattern:
        return "empty mx pattern"
    if not pattern.isascii():
        return f"mx pattern {pattern!r} is not ASCII (write IDNs as A-labels, xn--...)"
    name = pattern[2:] if pattern.startswith("*.") else pattern
    if name.endswith("."):
        name = name[:-1]
    if "*" in name:
        return f"mx pattern {pattern!r}: '*' is allowed only as the whole leftmost label ('*.')"
    if not name:
        return f"mx pattern {pattern!r} has no domain"
    if len(name) > 253:
        return f"mx pattern {pattern!r} is longer than 253 characters"
    for label in name.split("."):
        if not _LABEL.match(label):
            return (
                f"mx pattern {pattern!r}: bad label {label!r} "
                "(letters, digits and inner hyphens, 1-63 characters)"
            )
    return None


def _normalise_host(name: str) -> str | None:
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return name.lower()


def mx_matches(pattern: str, host: str) -> bool:
    """Does MX host name ``host`` match policy pattern ``pattern`` (RFC 8461 §4.1)?

    Case-insensitive, trailing dots ignored.  A leading ``*.`` stands for exactly one
    non-empty leftmost label; ``*`` anywhere else is not a wildcard.

    >>> mx_matches("*.example.com", "mx1.example.com")
    True
    >>> mx_matches("*.example.com", "example.com"), mx_matches("*.example.com", "a.b.example.com")
    (False, False)
    """
    p = _normalise_host(pattern)
    h = _normalise_host(host)
    if not p or not h or "*" in h:
        return False
    if p.startswith("*."):
        first, dot, rest = h.partition(".")
        return bool(first) and bool(dot) and rest == p[2:]
    return p == h


# -- the policy (§3.2) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StsPolicy:
    """One MTA-STS policy file, validated."""

    version: str
    mode: Mode
    mx: tuple[str, ...]
    max_age: int

    def __post_init__(self) -> None:
        if self.version != "STSv1":
            raise ValueError(f"unsupported MTA-STS version {self.version!r} (expected 'STSv1')")
        if not isinstance(self.mode, Mode):
            raise ValueError(f"mode must be a Mode, got {self.mode!r}")
        if not isinstance(self.mx, tuple):
            object.__setattr__(self, "mx", tuple(self.mx))
        for pattern in self.mx:
            problem = _pattern_problem(pattern)
            if problem is not None:
                raise ValueError(problem)
        if not self.mx and self.mode is not Mode.NONE:
            raise ValueError(f"a policy in mode {self.mode.value!r} needs at least one mx")
        if isinstance(self.max_age, bool) or not 0 <= self.max_age <= MAX_AGE_LIMIT:
            raise ValueError(f"max_age must be 0..{MAX_AGE_LIMIT} seconds, got {self.max_age}")

    def matches(self, host: str) -> bool:
        """Is ``host`` one of this policy's MX hosts (any pattern matches, §4.1)?"""
        return any(mx_matches(pattern, host) for pattern in self.mx)

    def policy_strings(self) -> tuple[str, ...]:
        """The policy as RFC 8460 §4.4 ``policy-string`` lines (one per field)."""
        return (
            f"version: {self.version}",
            f"mode: {self.mode.value}",
            *(f"mx: {pattern}" for pattern in self.mx),
            f"max_age: {self.max_age}",
        )

    def to_text(self) -> str:
        """The policy file text, CRLF-terminated lines (§3.2)."""
        return "".join(line + "\r\n" for line in self.policy_strings())

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "mode": self.mode.value,
            "mx": list(self.mx),
            "max_age": self.max_age,
        }


_FIELD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_MAX_AGE = re.compile(r"^[0-9]{1,10}$")
_SINGLE_FIELDS = ("version", "mode", "max_age")


def parse_policy(text: str, *, source: str = "policy") -> StsPolicy:
    """Parse a policy file body (RFC 8461 §3.2); raises :class:`InputError` naming the line.

    Lines end in LF or CRLF (both, even mixed, per the ABNF).  Field names and the
    registered values are case-sensitive (``%s`` in the ABNF).  Unknown fields are
    ignored; of a repeated ``version``, ``mode`` or ``max_age`` the first is used and the
    rest ignored; every ``mx`` line counts.  ``mx`` may be absent only in mode ``none``.
    Tolerated beyond the ABNF: a leading byte-order mark, blank lines at the very end,
    one trailing dot on an ``mx`` pattern.
    """
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise InputError(
            f"{source}: policy is larger than {MAX_POLICY_BYTES} bytes (RFC 8461 §3.3 limit)"
        )
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    while lines and lines[-1].rstrip("\r").strip(" \t") == "":
        lines.pop()
    if not lines:
        raise InputError(f"{source}: empty policy (expected version, mode, mx and max_age lines)")
    values: dict[str, tuple[int, str]] = {}
    mx: list[str] = []
    case_variants: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(lines, 1):
        where = f"{source}:{number}"
        line = raw[:-1] if raw.endswith("\r") else raw
        if "\r" in line:
            raise InputError(f"{where}: stray CR inside the line (lines end in LF or CRLF)")
        if not line.strip(" \t"):
            raise InputError(f"{where}: empty line (RFC 8461 §3.2 allows none between fields)")
        name, colon, value = line.partition(":")
        if not colon:
            raise InputError(f"{where}: expected 'field: value', got {line!r}")
        if not _FIELD_NAME.match(name):
            raise InputError(
                f"{where}: bad field name {name!r} (letters, digits, '_', '-', '.'; "
                "nothing before the name)"
            )
        value = value.strip(" \t")
        if name == "mx":
            problem = _pattern_problem(value)
            if problem is not None:
                raise InputError(f"{where}: {problem}")
            mx.append(value)
        elif name in _SINGLE_FIELDS:
            if name in values:
                continue  # §3.2: all but the first instance SHALL be ignored
            _check_value(name, value, where)
            values[name] = (number, value)
        elif name.lower() in (*_SINGLE_FIELDS, "mx"):
            case_variants.setdefault(name.lower(), (number, name))
    for name in _SINGLE_FIELDS:
        if name not in values:
            raise InputError(
                f"{source}: missing required field '{name}'{_hint(name, case_variants)}"
            )
    mode = Mode(values["mode"][1])
    if not mx and mode is not Mode.NONE:
        raise InputError(
            f"{source}: no 'mx' line; mode {mode.value!r} needs at least one"
            f"{_hint('mx', case_variants)}"
        )
    return StsPolicy(values["version"][1], mode, tuple(mx), int(values["max_age"][1]))


def _hint(name: str, case_variants: dict[str, tuple[int, str]]) -> str:
    if name not in case_variants:
        return ""
    number, spelled = case_variants[name]
    return f" (line {number} has {spelled!r}: field names are case-sensitive)"


def _check_value(name: str, value: str, where: str) -> None:
    if name == "version":
        if value != "STSv1":
            raise InputError(f"{where}: unsupported version {value!r} (expected 'STSv1')")
    elif name == "mode":
        modes = [m.value for m in Mode]
        if value not in modes:
            expected = ", ".join(modes)
            hint = " (values are case-sensitive)" if value.lower() in modes else ""
            raise InputError(f"{where}: bad mode {value!r} (expected one of: {expected}){hint}")
    elif not _MAX_AGE.match(value):
        raise InputError(f"{where}: max_age {value!r} must be 1 to 10 digits of seconds")
    elif int(value) > MAX_AGE_LIMIT:
        raise InputError(
            f"{where}: max_age {value} is over the limit of {MAX_AGE_LIMIT} seconds (about 1 year)"
        )


# -- the _mta-sts TXT record (§3.1) -------------------------------------------------------

_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_EXT_VALUE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]+$")  # no "=", ";", SP or CTLs
_DELIM = re.compile(r"[ \t]*;[ \t]*")
_STS_START = re.compile(r"^v=STSv1[ \t]*(;|$)")


@dataclass(frozen=True, slots=True)
class StsRecord:
    """A parsed ``_mta-sts`` TXT record: the policy ``id`` and any extension fields."""

    id: str
    extensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"MTA-STS id must be 1-32 letters or digits, got {self.id!r}")


def parse_txt(records: Sequence[str], *, source: str = "_mta-sts TXT") -> StsRecord:
    """Parse the TXT records found at ``_mta-sts.<domain>`` (RFC 8461 §3.1).

    Each element is one TXT record with its character-strings already concatenated
    (without spaces).  Records not starting with ``v=STSv1`` are ignored; exactly one
    must remain and be valid, else :class:`InputError` (for a sender: "no MTA-STS", but a
    cached policy stays in force).  Of repeated ``id`` fields the first counts.
    """
    if isinstance(records, str):
        records = [records]
    candidates = [r.rstrip(" \t") for r in records if _STS_START.match(r)]
    if not candidates:
        raise InputError(f"{source}: no record starts with 'v=STSv1;'{_txt_hint(records)}")
    if len(candidates) > 1:
        raise InputError(
            f"{source}: {len(candidates)} records start with 'v=STSv1'; exactly one is "
            "allowed (RFC 8461 §3.1)"
        )
    text = candidates[0]
    fields = _DELIM.split(text)
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()  # one trailing delimiter is allowed
    record_id: str | None = None
    extensions: list[tuple[str, str]] = []
    for number, item in enumerate(fields[1:], 2):
        if not item:
            raise InputError(f"{source}: field {number} is empty (two ';' in a row?) in {text!r}")
        name, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"{source}: field {item!r}: expected name=value")
        if name == "id":
            if not _ID.match(value):
                raise InputError(
                    f"{source}: bad id {value!r} (expected 1-32 letters or digits, RFC 8461 §3.1)"
                )
            if record_id is None:
                record_id = value
        elif not _FIELD_NAME.match(name):
            raise InputError(f"{source}: field {item!r}: bad field name {name!r}")
        elif not _EXT_VALUE.match(value):
            raise InputError(f"{source}: field {name!r}: bad value {value!r}")
        else:
            extensions.append((name, value))
    if record_id is None:
        hint = ""
        if any(name.lower() == "id" for name, _ in extensions):
            hint = " (field names are case-sensitive: write 'id=')"
        raise InputError(f"{source}: missing required 'id=' field in {text!r}{hint}")
    return StsRecord(record_id, tuple(extensions))


def _txt_hint(records: Sequence[str]) -> str:
    if not records:
        return " (no TXT records)"
    for record in records:
        if record.lower().startswith("v=stsv1"):
            return f" (ignored {record!r}: 'v=STSv1' is case-sensitive and ends in ';')"
        if record.lower().startswith("v=sts"):
            return f" (ignored {record!r}: only version STSv1 exists)"
    return f" (ignored {len(records)} record(s) without it: 'v=STSv1' must come first)"


# -- fetching and caching (§3.3, §5.1) ----------------------------------------------------

_FETCH_RESULTS = (
    TlsRptResult.STS_POLICY_FETCH_ERROR,
    TlsRptResult.STS_POLICY_INVALID,
    TlsRptResult.STS_WEBPKI_INVALID,
)


@dataclass(frozen=True, slots=True)
class PolicyFetch:
    """The outcome of one HTTPS GET of the policy: a body, or a failure with its type."""

    text: str | None = None
    error: TlsRptResult | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if (self.text is None) == (self.error is None):
            raise ValueError("a PolicyFetch has either text or an error, not both or neither")
        if self.error is not None and self.error not in _FETCH_RESULTS:
            expected = ", ".join(r.value for r in _FETCH_RESULTS)
            raise ValueError(f"fetch error must be one of {expected}, got {self.error.value}")

    @classmethod
    def ok(cls, text: str) -> PolicyFetch:
        return cls(text=text)

    @classmethod
    def failed(cls, error: TlsRptResult, detail: str = "") -> PolicyFetch:
        return cls(error=error, detail=detail)

    @classmethod
    def from_http(
        cls,
        status: int,
        body: str = "",
        *,
        cert_valid: bool = True,
        content_type: str = "text/plain",
    ) -> PolicyFetch:
        """Classify an HTTPS response as §3.3 requires of the sender."""
        if not cert_valid:
            return cls.failed(TlsRptResult.STS_WEBPKI_INVALID, "policy host certificate invalid")
        if 300 <= status < 400:
            return cls.failed(
                TlsRptResult.STS_POLICY_FETCH_ERROR, f"HTTP {status}: redirects are not followed"
            )
        if status != 200:
            return cls.failed(TlsRptResult.STS_POLICY_FETCH_ERROR, f"HTTP {status}")
        if content_type.split(";")[0].strip().lower() != "text/plain":
            return cls.failed(
                TlsRptResult.STS_POLICY_INVALID, f"media type {content_type!r}, not text/plain"
            )
        if len(body.encode("utf-8")) > MAX_POLICY_BYTES:
            return cls.failed(
                TlsRptResult.STS_POLICY_FETCH_ERROR, f"body over {MAX_POLICY_BYTES} bytes"
            )
        return cls.ok(body)


@dataclass(frozen=True, slots=True)
class CachedPolicy:
    """A policy the sender fetched under TXT ``id`` at time ``fetched_at``."""

    policy: StsPolicy
    id: str
    fetched_at: float

    @property
    def expires_at(self) -> float:
        return self.fetched_at + self.policy.max_age

    def is_valid(self, now: float) -> bool:
        """Not expired: less than ``max_age`` seconds since it was fetched (§5.1 step 1)."""
        return now < self.expires_at


@dataclass(frozen=True, slots=True)
class DomainCache:
    """All a sender remembers about one policy domain between deliveries."""

    cached: CachedPolicy | None = None
    failed_id: str | None = None
    failed_at: float | None = None

    def valid_policy(self, now: float) -> CachedPolicy | None:
        if self.cached is not None and self.cached.is_valid(now):
            return self.cached
        return None


class CacheAction(Enum):
    """What :func:`discover` did."""

    FETCHED = "fetched"  # no valid cached policy; fetched one and cached it
    REFRESHED = "refreshed"  # replaced a valid cached policy (new id, or proactive refresh)
    CACHED = "cached"  # valid cached policy, TXT id unchanged: used without fetching
    KEPT = "kept"  # no usable TXT, or the refresh failed: the still-valid cached policy
    NO_POLICY = "no-policy"  # nothing valid: deliver as if the domain had no MTA-STS


@dataclass(frozen=True, slots=True)
class Discovery:
    """The result of policy discovery for one delivery attempt."""

    action: CacheAction
    state: DomainCache
    policy: StsPolicy | None
    report: TlsRptResult | None = None
    detail: str = ""

    @property
    def active(self) -> bool:
        """Does a policy apply (mode enforce or testing)?  Mode ``none`` is no policy (§5)."""
        return self.policy is not None and self.policy.mode is not Mode.NONE


def _in_backoff(state: DomainCache, txt: StsRecord, now: float, retry: float) -> bool:
    return (
        state.failed_id == txt.id and state.failed_at is not None and now - state.failed_at < retry
    )


def needs_fetch(
    state: DomainCache,
    txt: StsRecord | None,
    now: float,
    *,
    refresh_interval: float | None = None,
    fetch_retry: float = DEFAULT_FETCH_RETRY,
) -> bool:
    """Should the sender GET the policy now?

    Only with a valid TXT record, and then when no valid policy is cached, when the TXT
    ``id`` differs from the cached one, or (if ``refresh_interval`` is given, §3.3
    suggests a day) when the cached policy is that old.  Not within ``fetch_retry``
    seconds of a failed fetch under the same ``id``.
    """
    if txt is None:
        return False
    current = state.valid_policy(now)
    if current is not None and current.id == txt.id:
        due = refresh_interval is not None and now - current.fetched_at >= refresh_interval
        if not due:
            return False
    return not _in_backoff(state, txt, now, fetch_retry)


def has_new_policy_id(state: DomainCache, txt: StsRecord | None) -> bool:
    """§5.1 step 3: before failing a message permanently, is there a new policy id?"""
    return txt is not None and (state.cached is None or state.cached.id != txt.id)


def discover(
    state: DomainCache,
    txt: StsRecord | None,
    fetch: PolicyFetch | None,
    now: float,
    *,
    refresh_interval: float | None = None,
    fetch_retry: float = DEFAULT_FETCH_RETRY,
    source: str = "policy",
) -> Discovery:
    """One step of the sender's cache (§3.3, §5.1), as a pure transition.

    ``txt`` is the parsed ``_mta-sts`` record, or None when there is none usable (no
    record, an invalid one, or a DNS failure: all mean "no live policy").  ``fetch`` is
    the HTTPS outcome, required exactly when :func:`needs_fetch` says so (it is ignored
    otherwise).  Transitions:

    * no TXT: a valid cached policy is KEPT (§3.3: MUST apply it); else NO_POLICY.
    * TXT with the cached id and a valid policy: CACHED.
    * otherwise fetch: success -> FETCHED (or REFRESHED over a valid policy); failure ->
      KEPT if a valid policy is cached, else NO_POLICY; either way the failure is
      reported (except over a cached mode-``none`` policy) and remembered so the same
      id is not fetched again for ``fetch_retry`` seconds.
    * an expired policy is dropped whenever it is not replaced.
    """
    current = state.valid_policy(now)
    if not needs_fetch(state, txt, now, refresh_interval=refresh_interval, fetch_retry=fetch_retry):
        if current is None:
            return Discovery(CacheAction.NO_POLICY, replace(state, cached=None), None)
        if txt is not None and txt.id == current.id:
            return Discovery(CacheAction.CACHED, state, current.policy)
        return Discovery(CacheAction.KEPT, state, current.policy)
    assert txt is not None  # needs_fetch is False without a record
    if fetch is None:
        raise ValueError("a policy fetch is needed here (see needs_fetch) but none was given")
    error, detail = fetch.error, fetch.detail
    if fetch.text is not None:
        try:
            policy = parse_policy(fetch.text, source=source)
        except InputError as exc:
            error, detail = TlsRptResult.STS_POLICY_INVALID, str(exc)
        else:
            action = CacheAction.FETCHED if current is None else CacheAction.REFRESHED
            fresh = DomainCache(CachedPolicy(policy, txt.id, now))
            return Discovery(action, fresh, policy)
    failed = DomainCache(current, failed_id=txt.id, failed_at=now)
    if current is None:
        return Discovery(CacheAction.NO_POLICY, failed, None, error, detail)
    report = None if current.policy.mode is Mode.NONE else error
    return Discovery(CacheAction.KEPT, failed, current.policy, report, detail)


# -- applying a policy to one MX host (§4, §5) --------------------------------------------


class StsVerdict(NamedTuple):
    """``(allowed, result)``: may the sender deliver to this MX, and what to report."""

    allowed: bool
    result: TlsRptResult | None


def sts_verdict(
    policy: StsPolicy | None,
    mx_host: str,
    cert_valid: bool,
    *,
    failure: TlsRptResult | None = None,
) -> StsVerdict:
    """Apply ``policy`` to one MX host (RFC 8461 §4.1, §4.2, §5).

    ``cert_valid`` says whether the host offered STARTTLS and presented a PKIX-valid
    certificate for ``mx_host``; ``failure`` may say why not (``starttls-not-supported``,
    ``certificate-expired``, ...; default ``validation-failure``).  An MX host outside
    the policy is reported as ``validation-failure`` (reason :data:`MX_MISMATCH_REASON`)
    and is checked first.  In ``enforce`` a failing host is refused (the caller treats it
    as unreachable and tries the next MX, §8.4); in ``testing`` it is used anyway and
    only reported; ``none`` or no policy: always allowed, nothing to report.
    """
    if policy is None or policy.mode is Mode.NONE:
        return StsVerdict(True, None)
    result: TlsRptResult | None = None
    if not policy.matches(mx_host):
        result = TlsRptResult.VALIDATION_FAILURE
    elif not cert_valid:
        result = failure or TlsRptResult.VALIDATION_FAILURE
    if result is None:
        return StsVerdict(True, None)
    return StsVerdict(policy.mode is Mode.TESTING, result)

"""Greylisting as postgrey does it (the Postfix policy server Debian ships).

Theory of operation
-------------------
Greylisting relies on RFC 5321 §4.5.4.1: a real MTA retries a 4xx, much spamware does
not.  A delivery attempt is named by a *triplet*: the client's network, the envelope
sender and the recipient.  postgrey keeps, per triplet, when it was first and last seen
(``first,last`` in its Berkeley DB), and for each RCPT applies, in this order
(``smtpd_access_policy`` in postgrey 1.37):

1. **Auto-whitelisted client.**  A client *address* (the exact address, not its
   network) that has passed greylisting with ``auto_whitelist_clients`` (5) triplets
   passes at once, without a triplet lookup.  A pass is counted when a triplet passes
   greylisting for the first time (after waiting); at most one count an hour.
2. **Lookup.**  The triplet has *passed before* when ``last - first >= delay``.
3. **Retry window.**  A triplet that has not passed and was first seen more than
   ``retry_window`` (2 days) ago starts again: ``first := now``.  An early retry never
   resets ``first``.
4. **Update.**  ``last := now``.
5. **Decide.**  Defer while ``now - first < delay`` (300 s); otherwise pass.  So a
   retry at exactly ``first + delay`` passes, and so does a first retry at exactly
   ``first + retry_window``.
6. **Expiry.**  Entries last seen more than ``max_age`` (35 days) ago are deleted,
   and so are client counts; unpassed entries last seen more than ``retry_window``
   ago too (``do_maintenance``).

The key is ``lc "$client_net/$sender/$recipient"``.  The client network is the
address cut to ``--ipv4cidr=24`` / ``--ipv6cidr=64`` bits (``--lookup-by-subnet``, the
default since 1.x; ``--lookup-by-host`` keeps the whole address).  The sender is
rewritten first (``do_sender_substitutions``): a BATV ``prvs=tag=local`` prefix is
removed, then everything from the first ``+`` of the local part (address extension),
then every free-standing number becomes ``#`` (VERP: ``bounce-123@`` and
``bounce-456@`` share one key).  The null sender ``<>`` reaches postgrey as an empty
``sender=`` attribute and is greylisted like any other sender, keyed with ``""``.  The
recipient is only lower-cased.

The reply
---------
postgrey answers ``DEFER_IF_PERMIT <text>`` with the default text ``Greylisted, see
http://postgrey.schweikert.ch/help/%r.html`` (``%r``: the recipient's domain as
given; ``%s``: seconds left).  It puts ``4.2.0`` in front of a text that does not
start with a digit when the request carries ``etrn_domain``, which Postfix >= 2.3
always sends (an Exchange work-around).  Postfix's ``check_table_result`` then takes
the leading status (``dsn_split(..., "4.7.1", text)``: 4.7.1 only when the text has
none), the code from ``access_map_defer_code`` (450) and the form
``<%s>: %s rejected: %s`` with the reply class ``Recipient address``::

    450 4.2.0 <bob@example.com>: Recipient address rejected: Greylisted, see
    http://postgrey.schweikert.ch/help/example.com.html

(one line on the wire).  ``DEFER_IF_PERMIT`` means the deferral is sent only if the
rest of the restrictions would permit; a later reject wins.  :attr:`GreylistDecision.
action` is postgrey's answer, for a restriction engine that models that.

Sources
-------
* postgrey 1.37, the ``postgrey`` Perl script (github.com/schweikert/postgrey):
  ``smtpd_access_policy``, ``do_sender_substitutions``, ``do_client_substitutions``
  (NetAddr::IP, ``ipv4cidr``/``ipv6cidr``), ``do_maintenance`` and the option
  defaults in ``main`` (delay 300, max-age 35 days, retry-window 2 days,
  auto-whitelist-clients 5, ipv4cidr 24, ipv6cidr 64); its POD, "Auto-whitelisting
  clients" and "Greylist Text".  Debian's ``/etc/default/postgrey`` changes none of
  them (``POSTGREY_OPTS="--inet=10023"``).
* Postfix ``smtpd_check.c``: ``check_table_result`` (``DEFER_IF_PERMIT``) and
  ``check_policy_service`` (which sends ``etrn_domain`` and ``sender=`` empty for
  ``<>``); ``access_map_defer_code = 450`` (postconf(5)).

Where relaysim differs
----------------------
* Expiry is applied when an entry is looked up, exactly at ``max_age``; postgrey
  deletes in one nightly sweep (02:00-06:59 local time, once a day), so a real entry
  can outlive ``max_age`` by up to a day.  :func:`expire` is that sweep, on demand.
* The static whitelists (``whitelist_clients``, ``whitelist_recipients``) are not
  modelled: a caller that whitelists simply does not call :func:`check`.
* The ``X-Greylist:`` header postgrey prepends on a triplet's first pass is not built;
  :attr:`GreylistDecision.delayed` carries its number of seconds.  For the
  restriction list that ``PREPEND`` is a DUNNO, as :attr:`GreylistDecision.action` says.
* The network in the key is Python's compressed text (``2001:db8::``); postgrey stores
  NetAddr::IP's long form.  Which clients share a key is the same.

The database is the caller's state, like postgrey's ``postgrey.db`` and
``postgrey_clients.db``: :func:`check` and :func:`record_delivery` change only the
:class:`GreylistDb` passed in, and take the time as ``now`` (seconds, float).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from enum import Enum

from sim.policy.replies import Reply
from sim.policy.vocab import enum_from_text

__all__ = [
    "DEFAULT_CONFIG",
    "POSTGREY_TEXT",
    "ClientPasses",
    "GreylistConfig",
    "GreylistDb",
    "GreylistDecision",
    "GreylistReason",
    "Seen",
    "Triplet",
    "check",
    "client_network",
    "expire",
    "greylist_action",
    "normalize_sender",
    "postfix_reply",
    "record_delivery",
    "triplet",
]

DAY = 86400.0
AWL_INTERVAL = 3600.0  # postgrey counts at most one pass an hour per client
POSTGREY_TEXT = "Greylisted, see http://postgrey.schweikert.ch/help/%r.html"
POSTGREY_DSN = "4.2.0"  # prepended by postgrey when Postfix sends etrn_domain (>= 2.3)

_DSN = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}(?:\s+|$)")  # Postfix dsn_split()
_BATV_TAG = re.compile(r"^[0-9a-z]{10}")
_VERP_NUMBER = re.compile(r"\b\d+\b", re.ASCII)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class GreylistConfig:
    """postgrey's options, times in seconds; the defaults are postgrey's.

    ``auto_whitelist_clients = 0`` turns the client auto-whitelist off.
    ``text`` is ``--greylist-text`` (``%r``: recipient domain, ``%s``: seconds left);
    ``defer_code`` is Postfix's ``access_map_defer_code``.
    """

    delay: float = 300.0
    max_age: float = 35 * DAY
    retry_window: float = 2 * DAY
    lookup_by_subnet: bool = True
    ipv4_prefix: int = 24
    ipv6_prefix: int = 64
    auto_whitelist_clients: int = 5
    text: str = POSTGREY_TEXT
    defer_code: int = 450

    def __post_init__(self) -> None:
        _check(self.delay >= 0, f"delay must be >= 0 seconds, got {self.delay}")
        _check(self.max_age > 0, f"max_age must be > 0 seconds, got {self.max_age}")
        _check(self.retry_window > 0, f"retry_window must be > 0 seconds, got {self.retry_window}")
        _check(0 <= self.ipv4_prefix <= 32, f"ipv4_prefix must be 0..32, got {self.ipv4_prefix}")
        _check(0 <= self.ipv6_prefix <= 128, f"ipv6_prefix must be 0..128, got {self.ipv6_prefix}")
        _check(
            self.auto_whitelist_clients >= 0,
            f"auto_whitelist_clients must be >= 0 (0: off), got {self.auto_whitelist_clients}",
        )
        _check(
            400 <= self.defer_code <= 499, f"defer_code must be a 4xx code, got {self.defer_code}"
        )


DEFAULT_CONFIG = GreylistConfig()


@dataclass(frozen=True, slots=True)
class Triplet:
    """The greylist key: client network, normalised sender, recipient (lower case).

    ``rcpt_as_given`` keeps the recipient as the client wrote it, for the reply text;
    it is not part of the key.
    """

    client: str
    sender: str
    recipient: str
    rcpt_as_given: str = field(default="", compare=False, repr=False)

    @property
    def key(self) -> str:
        """postgrey's database key, ``net/sender/recipient``."""
        return f"{self.client}/{self.sender}/{self.recipient}"


@dataclass(frozen=True, slots=True)
class Seen:
    """A triplet's entry: when it was first and last seen."""

    first: float
    last: float


@dataclass(frozen=True, slots=True)
class ClientPasses:
    """A client's auto-whitelist entry: passes counted, and when it was last counted/seen."""

    count: int
    last: float


@dataclass(slots=True)
class GreylistDb:
    """The caller's greylisting state (postgrey.db and postgrey_clients.db)."""

    triplets: dict[Triplet, Seen] = field(default_factory=dict)
    clients: dict[str, ClientPasses] = field(default_factory=dict)


class GreylistReason(Enum):
    """Why :func:`check` decided as it did (postgrey logs ``new``, ``early-retry``, ...)."""

    NEW = "new"  # never seen (postgrey: reason=new)
    EARLY_RETRY = "early-retry"  # seen, but delay not over (postgrey: early-retry (Ns missing))
    RETRY_WINDOW = "retry-window-passed"  # first retry too late: starts again (postgrey: new)
    EXPIRED = "expired"  # last seen more than max_age ago: starts again (postgrey: new)
    PASSED = "passed"  # first pass after waiting (postgrey: triplet found, delay=N)
    KNOWN = "known"  # passed before (postgrey: triplet found)
    CLIENT_AWL = "client-awl"  # auto-whitelisted client (postgrey: client AWL)

    @classmethod
    def from_text(cls, text: str) -> GreylistReason:
        return enum_from_text(cls, text, "greylist reason")

    @property
    def defers(self) -> bool:
        return self in (
            GreylistReason.NEW,
            GreylistReason.EARLY_RETRY,
            GreylistReason.RETRY_WINDOW,
            GreylistReason.EXPIRED,
        )


@dataclass(frozen=True, slots=True)
class GreylistDecision:
    """The answer for one RCPT: a deferral carrying its reply, or a pass.

    ``retry_in``: seconds until the triplet would pass (when deferred).  ``delayed``:
    seconds between first sighting and this first pass (the X-Greylist header).
    ``action``: what postgrey answers Postfix (``DEFER_IF_PERMIT ...`` or ``DUNNO``).
    """

    reason: GreylistReason
    reply: Reply | None = None
    retry_in: float | None = None
    delayed: float | None = None
    action: str = "DUNNO"

    def __post_init__(self) -> None:
        if self.reason.defers != (self.reply is not None):
            raise ValueError(f"reason {self.reason.value!r} and reply {self.reply} disagree")

    @property
    def defer(self) -> bool:
        return self.reply is not None


# -- the key ----------------------------------------------------------------------------


def _address(text: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ValueError(f"{what}: not an IP address: {text!r}") from None


def client_network(client_ip: str, config: GreylistConfig = DEFAULT_CONFIG) -> str:
    """The client part of the key: the /24 or /64 network address, or the address.

    >>> client_network("192.0.2.77"), client_network("2001:db8:1:2:3::9")
    ('192.0.2.0', '2001:db8:1:2::')
    """
    addr = _address(client_ip, "client_ip")
    if not config.lookup_by_subnet:
        return str(addr)
    prefix = config.ipv4_prefix if addr.version == 4 else config.ipv6_prefix
    return str(ipaddress.ip_network((addr, prefix), strict=False).network_address)


def normalize_sender(sender: str) -> str:
    """postgrey's ``do_sender_substitutions`` (case kept; the key is lower-cased later).

    >>> normalize_sender("prvs=1234abcdef=alice+news@example.com")
    'alice@example.com'
    >>> normalize_sender("bounce-123-456@lists.example.org"), normalize_sender("<>")
    ('bounce-#-#@lists.example.org', '')
    """
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1]
    user, at, domain = sender.partition("@")
    if not at:
        return sender  # the null sender, or no domain: as is
    if user.startswith("prvs="):  # BATV: prvs=tag=local, sometimes prvs=local=tag
        parts = user.split("=")
        while parts and parts[-1] == "":  # Perl's split drops trailing empty fields
            parts.pop()
        if len(parts) == 3:
            tag1, tag2 = _BATV_TAG.match(parts[1]), _BATV_TAG.match(parts[2])
            user = parts[1] if tag2 and not tag1 else parts[2]
    user = user.split("+", 1)[0]
    user = _VERP_NUMBER.sub("#", user)
    return f"{user}@{domain}"


def triplet(
    client_ip: str, sender: str, recipient: str, config: GreylistConfig = DEFAULT_CONFIG
) -> Triplet:
    """The triplet postgrey looks up for this client, sender (``""`` for ``<>``) and recipient."""
    return Triplet(
        client_network(client_ip, config),
        normalize_sender(sender).lower(),
        recipient.lower(),
        rcpt_as_given=recipient,
    )


# -- the reply --------------------------------------------------------------------------


def greylist_action(
    recipient: str, seconds_left: float, config: GreylistConfig = DEFAULT_CONFIG
) -> str:
    """What postgrey answers Postfix when it greylists (Postfix >= 2.3 on the other side).

    >>> greylist_action("bob@Example.com", 300)
    'DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/Example.com.html'
    """
    text = config.text
    if not text[:1].isdigit():
        text = f"{POSTGREY_DSN} {text}"
    text = text.replace("%s", str(math.ceil(seconds_left)), 1)  # Perl s/// : first only
    text = text.replace("%r", recipient.rpartition("@")[2], 1)
    return f"DEFER_IF_PERMIT {text}"


def postfix_reply(action: str, recipient: str, defer_code: int = 450) -> Reply:
    """The reply Postfix sends for a ``DEFER_IF_PERMIT`` answer at RCPT TO.

    ``check_table_result``: the leading status of the text, else 4.7.1; the code from
    ``access_map_defer_code``; the enhanced class follows the code.
    """
    verb, _, text = action.strip().partition(" ")
    if verb.upper() != "DEFER_IF_PERMIT":
        raise ValueError(f"action: expected DEFER_IF_PERMIT, got {action!r}")
    text = text.strip()
    match = _DSN.match(text)
    dsn, rest = (match.group(0).strip(), text[match.end() :]) if match else ("4.7.1", text)
    return Reply(
        defer_code,
        f"{str(defer_code)[0]}{dsn[1:]}",
        f"<{recipient}>: Recipient address rejected: {rest or 'Service unavailable'}",
    )


# -- the decision -----------------------------------------------------------------------


def _client_key(client: str) -> str:
    return str(_address(client, "client"))


def _live_client(
    db: GreylistDb, key: str, now: float, config: GreylistConfig
) -> ClientPasses | None:
    seen = db.clients.get(key)
    if seen is not None and now - seen.last > config.max_age:
        del db.clients[key]
        return None
    return seen


def record_delivery(
    db: GreylistDb, client: str, now: float, config: GreylistConfig = DEFAULT_CONFIG
) -> int:
    """Count one pass through greylisting for ``client`` (an address); the new count.

    :func:`check` calls this itself when a triplet passes for the first time, as
    postgrey does; call it directly only to pre-load the auto-whitelist.  At most one
    pass an hour counts.  Does nothing when ``auto_whitelist_clients`` is 0.
    """
    if not config.auto_whitelist_clients:
        return 0
    key = _client_key(client)
    seen = _live_client(db, key, now, config)
    if seen is not None and now < seen.last + AWL_INTERVAL:
        return seen.count
    count = (seen.count if seen is not None else 0) + 1
    db.clients[key] = ClientPasses(count, now)
    return count


def check(
    db: GreylistDb,
    triplet: Triplet,
    client: str,
    now: float,
    config: GreylistConfig = DEFAULT_CONFIG,
) -> GreylistDecision:
    """postgrey's decision for one RCPT; updates ``db`` (the caller's state) in place.

    ``triplet`` comes from :func:`triplet`; ``client`` is the client's address, the key of
    the auto-whitelist.
    """
    awl = config.auto_whitelist_clients
    client_key = _client_key(client)
    if awl:
        passes = _live_client(db, client_key, now, config)
        if passes is not None and passes.count >= awl:
            if now >= passes.last + AWL_INTERVAL or passes.last > now:
                db.clients[client_key] = ClientPasses(passes.count + 1, now)  # statistics
            return GreylistDecision(GreylistReason.CLIENT_AWL)

    entry = db.triplets.get(triplet)
    fresh = GreylistReason.NEW
    if entry is not None and now - entry.last > config.max_age:
        entry, fresh = None, GreylistReason.EXPIRED
    passed_before = False
    first = now
    if entry is not None:
        first = entry.first
        passed_before = entry.last - entry.first >= config.delay
        if not passed_before and now - first > config.retry_window:
            first, fresh = now, GreylistReason.RETRY_WINDOW
        first = min(first, now)  # postgrey corrects a first sighting in the future
    db.triplets[triplet] = Seen(first, now)

    left = config.delay - (now - first)
    if left > 0:
        recipient = triplet.rcpt_as_given or triplet.recipient
        action = greylist_action(recipient, left, config)
        return GreylistDecision(
            fresh if first == now else GreylistReason.EARLY_RETRY,
            reply=postfix_reply(action, recipient, config.defer_code),
            retry_in=left,
            action=action,
        )
    if passed_before:
        return GreylistDecision(GreylistReason.KNOWN)
    if awl:
        record_delivery(db, client_key, now, config)
    return GreylistDecision(GreylistReason.PASSED, delayed=now - first)


def expire(db: GreylistDb, now: float, config: GreylistConfig = DEFAULT_CONFIG) -> int:
    """postgrey's nightly ``do_maintenance``: drop stale entries; how many were dropped.

    A triplet goes when last seen more than ``max_age`` ago, or when it never passed
    and was last seen more than ``retry_window`` ago; a client count when last seen
    more than ``max_age`` ago.  :func:`check` already ignores such entries, so this
    only bounds memory.
    """
    stale = [
        k
        for k, s in db.triplets.items()
        if now - s.last > config.max_age
        or (s.last - s.first < config.delay and now - s.last > config.retry_window)
    ]
    old = [k for k, c in db.clients.items() if now - c.last > config.max_age]
    for k in stale:
        del db.triplets[k]
    for c in old:
        del db.clients[c]
    return len(stale) + len(old)

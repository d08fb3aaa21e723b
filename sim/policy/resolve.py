"""What an envelope address *means*: Postfix trivial-rewrite's resolver, as smtpd uses it.

Theory of operation (Postfix ``resolve_addr`` in the local rewrite context):

1. While the address ends in ``@domain`` and that domain is local (``mydestination``
   or an IP literal of ``inet_interfaces``/``proxy_interfaces``), strip it and look at
   what is left.
2. What is left may route further: ``user%remote`` (``allow_percent_hack``),
   ``remote!user`` (``swap_bangpath``), or a quoted ``"user@remote"``
   (``resolve_dequoted_address``).  Rewrite it to ``user@remote`` and go to 1.
3. A bare local part gets ``@$myhostname``; an empty one becomes ``MAILER-DAEMON``.
4. The final domain gives the address class: local, virtual alias, virtual mailbox,
   relay (``relay_domains``) or default (somebody else's mail).
5. If the final local part still holds ``@``, ``%`` or ``!``, the address is *routed*:
   the next hop might honour them, so it is never an authorized destination
   (RFC 5321 §3.6.1 leaves relaying to the receiver's policy; this closes the
   backup-MX relay hole) unless ``allow_untrusted_routing = yes``.

RFC 5321 §2.3.11 says only the final host interprets a local part; Postfix looks
inside anyway ("safe instead of correct"), and so do we.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sim.policy.addresses import ip_literal, quote_local, valid_hostname

__all__ = ["AddressClass", "Resolution", "Resolver"]

_MAX_LOOPS = 100


class AddressClass(Enum):
    """Postfix address classes (ADDRESS_CLASS_README)."""

    LOCAL = "local"
    VIRTUAL_ALIAS = "virtual_alias"
    VIRTUAL_MAILBOX = "virtual_mailbox"
    RELAY = "relay"
    DEFAULT = "default"

    @property
    def is_final(self) -> bool:
        """This host is the final destination (Postfix RESOLVE_CLASS_FINAL)."""
        return self in (
            AddressClass.LOCAL,
            AddressClass.VIRTUAL_ALIAS,
            AddressClass.VIRTUAL_MAILBOX,
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    """The resolved address (case-folded), its class and flags."""

    recipient: str
    address_class: AddressClass
    routed: bool = False
    error: bool = False

    @property
    def local_part(self) -> str:
        return self.recipient.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.recipient.rpartition("@")[2]


@dataclass(frozen=True)
class Resolver:
    """Resolver settings taken from ``main.cf``; ``resolve`` is a pure function of them."""

    myhostname: str
    myorigin: str
    mydomain: str
    is_local_domain: Callable[[str], bool]
    local_addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]
    is_virtual_alias_domain: Callable[[str], bool]
    is_virtual_mailbox_domain: Callable[[str], bool]
    is_relay_domain: Callable[[str], bool]
    percent_hack: bool = True
    swap_bangpath: bool = True
    dequote: bool = True
    null_domain: bool = False
    numeric_domain: bool = False
    append_dot_mydomain: bool = False
    empty_address_recipient: str = "MAILER-DAEMON"
    utf8_domains: bool = True

    def is_local(self, domain: str) -> bool:
        """Postfix ``resolve_local``: mydestination or one of our IP addresses."""
        name = domain[:-1] if domain.endswith(".") else domain
        if not name or name.endswith("."):
            return False
        if self.is_local_domain(name.lower()):
            return True
        addr = ip_literal(name)
        if addr is None and self.numeric_domain:
            try:
                addr = ipaddress.ip_address(name)
            except ValueError:
                addr = None
        return addr is not None and addr in self.local_addresses

    def rewrite(self, addr: str) -> str:
        """Postfix ``rewrite_tree`` in the local context (no canonical maps)."""
        if addr in ("", "@"):
            return ""
        if addr.startswith("@") and ":" in addr[:-1]:
            addr = addr.split(":", 1)[1]
        if "@" not in addr:
            addr = self._route_bare(addr)
        at = addr.rfind("@")
        domain = addr[at + 1 :] if at >= 0 else ""
        if (
            self.append_dot_mydomain
            and self.mydomain
            and at >= 0
            and domain
            and not domain.startswith("[")
            and "." not in domain
        ):
            addr = f"{addr}.{self.mydomain}"
        if addr.endswith(".") and not addr.endswith("..") and not addr.endswith("@."):
            addr = addr[:-1]
        return addr

    def _route_bare(self, local: str) -> str:
        if not _needs_quotes(local):
            if self.swap_bangpath and "!" in local:
                site, _, user = local.partition("!")
                return f"{user}@{site}"
            if self.percent_hack and "%" in local:
                user, _, site = local.rpartition("%")
                return f"{user}@{site}"
        return f"{local}@{self.myorigin}" if self.myorigin else local

    def resolve(self, addr: str) -> Resolution:
        """Resolve an internal-form address (quotes removed, as smtpd keeps it)."""
        if addr.endswith("@") and not self.null_domain:
            return Resolution(addr.lower(), AddressClass.DEFAULT, error=True)
        cur = self.rewrite(addr) if addr else addr  # smtpd rewrites in the local context first
        saved_domain: str | None = None
        remote = False
        for _ in range(_MAX_LOOPS):
            if (
                "@" in cur
                and cur.endswith(".")
                and not cur.endswith("..")
                and not cur.endswith("@.")
            ):
                cur = cur[:-1]
            if self.null_domain and cur.endswith("@"):
                cur = cur[:-1]
            at = cur.rfind("@")
            if at >= 0:
                domain = cur[at + 1 :]
                if domain and not self.is_local(domain):
                    remote = True
                    break
                saved_domain, cur = domain, cur[:at]
            local = cur
            if not _needs_quotes(local) and (
                (self.swap_bangpath and "!" in local) or (self.percent_hack and "%" in local)
            ):
                cur = self.rewrite(local)
                continue
            if _needs_quotes(local) and self.dequote and local:
                if "@" in local:
                    cur = self.rewrite(local)
                    continue
                if self.percent_hack and "%" in local:
                    user, _, site = local.rpartition("%")
                    cur = self.rewrite(f"{user}@{site}")
                    continue
                if self.swap_bangpath and "!" in local:
                    site, _, user = local.partition("!")
                    cur = self.rewrite(f"{user}@{site}")
                    continue
            if not local:
                # An empty local part becomes MAILER-DAEMON at the same (local) domain.
                cur = self.empty_address_recipient
                continue
            if saved_domain is None:
                cur = f"{local}@{self.myhostname}"
                continue
            break
        if not remote:
            cur = (
                f"{cur}@{saved_domain}" if saved_domain is not None else f"{cur}@{self.myhostname}"
            )
        return self._classify(cur, remote)

    def _classify(self, address: str, remote: bool) -> Resolution:
        local, _, domain = address.rpartition("@")
        routed = any(op in local for op in "@!%")
        folded = address.lower()
        if domain.startswith("["):
            valid = ip_literal(domain) is not None
        else:
            valid = valid_hostname(domain, allow_utf8=self.utf8_domains)
            if not valid and self.numeric_domain:
                try:
                    ipaddress.ip_address(domain)
                except ValueError:
                    pass
                else:
                    valid = True
                    folded = f"{local}@[{domain}]".lower()
        if not valid:
            return Resolution(folded, AddressClass.DEFAULT, routed=routed, error=True)
        if not remote:
            return Resolution(folded, AddressClass.LOCAL, routed=routed)
        name = domain.lower()
        if self.is_virtual_alias_domain(name):
            klass = AddressClass.VIRTUAL_ALIAS
        elif self.is_virtual_mailbox_domain(name):
            klass = AddressClass.VIRTUAL_MAILBOX
        elif self.is_relay_domain(name):
            klass = AddressClass.RELAY
        else:
            klass = AddressClass.DEFAULT
        return Resolution(folded, klass, routed=routed)


def _needs_quotes(local: str) -> bool:
    """Postfix ``quote_822_local``: does this local part have to be a quoted string?"""
    return bool(local) and quote_local(local) != local

"""Postfix pattern lists: ``mydestination``, ``relay_domains``, ``mynetworks`` (match_list).

Patterns are tried in order; the first that matches decides, and a ``!pattern`` that
matches means "no".  A pattern is a name, ``.name`` (subdomains only), ``type:table``,
or for host lists an address or CIDR (``10.0.0.0/8``, ``[::1]/128``).  Whether
``example.com`` also matches ``sub.example.com`` is set per parameter by
``parent_domain_matches_subdomains``.

A CIDR with host bits set (``192.168.1.1/24``) does not fail at start-up in Postfix:
every lookup that *reaches* it fails with a temporary error, which is what
:class:`ListLookupError` models.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from sim.errors import PolicyConfigError
from sim.policy.maincf import split_list
from sim.policy.tables import Table, TableCache

__all__ = ["DomainList", "HostList", "ListLookupError", "normalize_ip"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ListLookupError(Exception):
    """A lookup reached a broken pattern: Postfix answers 451 4.3.0 Temporary lookup failure."""


def normalize_ip(text: str) -> IPAddress:
    """Parse a client address as Postfix sees it (``::ffff:a.b.c.d`` becomes IPv4)."""
    raw = text.strip()
    if raw[:5].lower() == "ipv6:":
        raw = raw[5:]
    addr = ipaddress.ip_address(raw.strip("[]"))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(frozen=True, slots=True)
class _Pattern:
    negate: bool
    text: str
    table: Table | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    broken: str | None = None


def _expand_patterns(value: str, tables: TableCache, line: int | None) -> list[str]:
    """Split a list and inline ``/file/name`` patterns, one pattern per line or word."""
    out: list[str] = []
    for item in split_list(value):
        bare = item.lstrip("!")
        if bare.startswith("/") and ":" not in bare:
            path = Path(bare)
            if not path.is_file() and tables.directory is not None:
                path = tables.directory / path.name
            if not path.is_file():
                raise PolicyConfigError(
                    f"pattern file not found: {bare}", source=tables.source, line=line
                )
            out.extend(split_list(path.read_text(encoding="utf-8").replace("#", "\n#")))
        else:
            out.append(item)
    return [p for p in out if not p.startswith("#")]


def _domain_candidates(name: str, parent_style: bool) -> list[tuple[str, bool]]:
    """``a.b.c`` -> (a.b.c, full) then parents ``b.c``/``c`` or ``.b.c``/``.c``."""
    keys = [(name, False)]
    rest = name
    while "." in rest[1:]:
        rest = rest[rest.index(".", 1) :]
        keys.append((rest[1:] if parent_style else rest, True))
    return keys


class DomainList:
    """A domain_list or string_list (exact names) such as ``relay_domains``."""

    def __init__(
        self,
        value: str,
        tables: TableCache,
        *,
        parent_style: bool,
        exact: bool = False,
        line: int | None = None,
    ) -> None:
        self.parent_style = parent_style
        self.exact = exact
        self.patterns: list[_Pattern] = []
        for item in _expand_patterns(value, tables, line):
            negate = item.startswith("!")
            text = item.lstrip("!")
            table = (
                tables.open(text, line=line) if ":" in text and not text.startswith("[") else None
            )
            self.patterns.append(_Pattern(negate, text.lower().rstrip("."), table))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, domain: str) -> bool:
        name = domain.lower()
        if name.endswith(".") and not name.endswith(".."):
            name = name[:-1]
        for pattern in self.patterns:
            if self._matches(pattern, name):
                return not pattern.negate
        return False

    def _matches(self, pattern: _Pattern, name: str) -> bool:
        if pattern.table is not None:
            if self.exact:
                return pattern.table.lookup(name) is not None
            return any(
                pattern.table.lookup(key, partial=partial) is not None
                for key, partial in _domain_candidates(name, self.parent_style)
            )
        if name == pattern.text:
            return True
        if self.exact:
            return False
        return _parent_match(name, pattern.text, self.parent_style)


class HostList:
    """A namadr_list such as ``mynetworks``: client host names and addresses."""

    def __init__(
        self, value: str, tables: TableCache, *, parent_style: bool, line: int | None = None
    ) -> None:
        self.parent_style = parent_style
        self.patterns: list[_Pattern] = []
        self.warnings: list[str] = []
        for item in _expand_patterns(value, tables, line):
            negate = item.startswith("!")
            text = item.lstrip("!")
            if ":" in text and not text.startswith("[") and _is_table_ref(text):
                self.patterns.append(_Pattern(negate, text, tables.open(text, line=line)))
                continue
            bare = text.replace("[", "").replace("]", "")
            if "/" in bare:
                try:
                    network = ipaddress.ip_network(bare, strict=True)
                except ValueError as exc:
                    self.warnings.append(f"{item}: {exc}")
                    self.patterns.append(_Pattern(negate, text, broken=str(exc)))
                    continue
                self.patterns.append(_Pattern(negate, text, network=network))
            else:
                try:
                    addr = normalize_ip(bare)
                    self.patterns.append(_Pattern(negate, text, network=ipaddress.ip_network(addr)))
                except ValueError:
                    self.patterns.append(_Pattern(negate, text.lower()))

    def match(self, name: str | None, addr: IPAddress | None) -> bool:
        """True when the client matches; raises ListLookupError on a broken pattern."""
        host = (name or "").lower()
        for pattern in self.patterns:
            if pattern.broken is not None:
                family = 6 if ":" in pattern.text else 4
                if addr is not None and addr.version == family:
                    raise ListLookupError(pattern.broken)
                continue
            if self._matches(pattern, host, addr):
                return not pattern.negate
        return False

    def _matches(self, pattern: _Pattern, host: str, addr: IPAddress | None) -> bool:
        if pattern.network is not None:
            return (
                addr is not None
                and addr.version == pattern.network.version
                and addr in pattern.network
            )
        if pattern.table is not None:
            if host and host != "unknown":
                for key, partial in _domain_candidates(host, self.parent_style):
                    if pattern.table.lookup(key, partial=partial) is not None:
                        return True
            return addr is not None and pattern.table.lookup(str(addr)) is not None
        if not host or host == "unknown":
            return False
        if host == pattern.text:
            return True
        return _parent_match(host, pattern.text, self.parent_style)


def _parent_match(name: str, pattern: str, parent_style: bool) -> bool:
    """Postfix ``match_hostname``: a parent of ``name`` equals the pattern.

    The parents are tried as ``b.c``, ``c`` when the list is in
    ``parent_domain_matches_subdomains`` and as ``.b.c``, ``.c`` otherwise, so a
    ``.domain`` pattern only works in lists that are not.
    """
    rest = name
    while "." in rest[1:]:
        rest = rest[rest.index(".", 1) :]
        if (rest[1:] if parent_style else rest) == pattern:
            return True
    return False


def _is_table_ref(text: str) -> bool:
    kind = text.split(":", 1)[0]
    return kind.isalpha() and len(kind) > 1

"""Postfix ``smtp_tls_policy_maps`` and ``smtp_tls_security_level``: which level applies.

Follows postconf(5) ``smtp_tls_policy_maps`` and Postfix ``smtp_tls_policy.c``:

* The lookup key is the next-hop destination as routed: a recipient domain, or a
  verbatim ``[host]:port`` from transport(5)/``relayhost``.  ``[host]``, ``[host]:25``
  and ``host`` are different keys.
* For a bare domain that is not found, parent domains are tried with a leading dot,
  nearest first: ``a.b.example`` → ``.b.example`` → ``.example``.  A ``.example.com``
  key therefore matches every subdomain but not ``example.com`` itself.
* The value is a level followed by attributes separated by white space or commas:
  ``verify match=hostname:nexthop ciphers=high``.  Inside ``match=`` items are
  separated by ``:`` (names) or ``|`` (fingerprints, which contain colons); ``match=``
  may repeat.  Unknown attributes make the entry invalid.
* No entry: the default level, ``smtp_tls_security_level``.  Its built-in default is
  ``may`` from ``compatibility_level = 3.11`` on and empty (= ``none``) below.

Source files are read with :class:`sim.policy.tables.TableCache`, so ``hash:``,
``texthash:``, ``lmdb:``, ``inline:{...}`` and the other table types work as in
``main.cf``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import PolicyConfigError
from sim.policy.maincf import split_list
from sim.policy.tables import Table, TableCache
from sim.policy.tls import Level, TlsPolicy

__all__ = [
    "ATTRIBUTES",
    "TlsPolicyMap",
    "default_security_level",
    "lookup_keys",
    "parse_policy_value",
]

# Attributes Postfix 3.x accepts in a policy-map entry (postconf(5), TLS_README).
ATTRIBUTES = (
    "ciphers",
    "exclude",
    "protocols",
    "match",
    "tafile",
    "servername",
    "connection_reuse",
    "enable_rpk",
)


def default_security_level(value: str | None, compatibility_level: str | None = None) -> Level:
    """``smtp_tls_security_level`` as written in main.cf (None = not set).

    Unset: ``may`` with ``compatibility_level`` 3.11 or later, else empty, which with
    the legacy ``smtp_use_tls``/``smtp_enforce_tls`` unset means ``none``.
    """
    if value is not None and value.strip():
        return Level.from_text(value)
    if value is not None:  # explicitly empty
        return Level.NONE
    if compatibility_level is None:
        return Level.MAY
    try:
        parts = tuple(int(p) for p in compatibility_level.strip().split("."))
    except ValueError:
        raise PolicyConfigError(
            f"bad compatibility_level {compatibility_level!r} (expected e.g. 3.6 or 3.11)"
        ) from None
    return Level.MAY if parts >= (3, 11) else Level.NONE


def parse_policy_value(value: str, *, where: str = "policy") -> TlsPolicy:
    """One right-hand side: ``LEVEL [name=value ...]``."""
    items = split_list(value)
    if not items:
        raise PolicyConfigError(f"{where}: empty TLS policy (expected a security level)")
    try:
        level = Level.from_text(items[0])
    except ValueError as exc:
        raise PolicyConfigError(f"{where}: {exc}") from None
    match: list[str] = []
    attributes: list[tuple[str, str]] = []
    for item in items[1:]:
        name, eq, attr_value = item.partition("=")
        name = name.strip().lower()
        if not eq or not attr_value:
            raise PolicyConfigError(f"{where}: expected name=value, got {item!r}")
        if name not in ATTRIBUTES:
            raise PolicyConfigError(
                f"{where}: unknown attribute {name!r} (expected one of: {', '.join(ATTRIBUTES)})"
            )
        if name == "match":
            if not level.takes_match:
                raise PolicyConfigError(
                    f"{where}: attribute match= is invalid with level {level.value!r} "
                    "(only fingerprint, verify, secure)"
                )
            sep = "|" if level is Level.FINGERPRINT else ":"
            match += [m.strip() for m in attr_value.split(sep) if m.strip()]
        else:
            attributes.append((name, attr_value))
    if level is Level.FINGERPRINT and not match:
        raise PolicyConfigError(f"{where}: level fingerprint needs match=<fingerprint>")
    return TlsPolicy(level, tuple(match), tuple(attributes), source=where)


def lookup_keys(nexthop: str) -> tuple[str, ...]:
    """The keys Postfix tries, in order, for a next-hop destination."""
    key = nexthop.strip().lower().rstrip(".")
    if not key or key.startswith("[") or ":" in key:
        return (key,)
    keys = [key]
    rest = key
    while "." in rest[1:]:
        rest = rest[rest.index(".", 1) :]
        keys.append(rest)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class TlsPolicyMap:
    """One or more ``smtp_tls_policy_maps`` tables and the default level."""

    tables: tuple[Table, ...]
    default: TlsPolicy = field(default_factory=lambda: TlsPolicy(Level.MAY))

    @classmethod
    def open(
        cls,
        refs: Sequence[str],
        *,
        directory: Path | None = None,
        default_level: Level = Level.MAY,
        source: str = "main.cf",
    ) -> TlsPolicyMap:
        """Tables by reference (``hash:/etc/postfix/tls_policy``), paths as in main.cf."""
        cache = TableCache(directory, source)
        tables = []
        for ref in refs:
            try:
                tables.append(cache.open(ref))
            except OSError as exc:
                raise PolicyConfigError(f"cannot read {ref}: {exc.strerror}") from None
        return cls(tuple(tables), TlsPolicy(default_level, source="smtp_tls_security_level"))

    @classmethod
    def read(cls, path: Path, *, default_level: Level = Level.MAY) -> TlsPolicyMap:
        """A policy-map source file, read as ``texthash:`` (what ``postmap`` compiles)."""
        if not path.is_file():
            raise PolicyConfigError(f"{path}: cannot read TLS policy map: no such file")
        return cls.open([f"texthash:{path}"], default_level=default_level, source=str(path))

    def lookup(self, nexthop: str) -> TlsPolicy:
        """The entry for ``nexthop`` (first table, then parent domains), else the default."""
        keys = lookup_keys(nexthop)
        for key in keys:
            for table in self.tables:
                value = table.lookup(key, partial=key != keys[0])
                if value is not None:
                    return parse_policy_value(value, where=f"{table.ref}: {key}")
        return self.default

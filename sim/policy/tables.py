"""Postfix lookup tables (access(5), cidr_table(5), regexp_table(5)) read from source text.

A table reference is ``type:name``.  Indexed types (``hash``, ``texthash``, ``lmdb``,
``btree``, ``cdb``, ``dbm``) are read from the *source* file that ``postmap`` would
compile; ``cidr``, ``regexp``/``pcre`` are pattern tables tried in file order;
``static:VALUE`` always answers VALUE; ``inline:{ key=value, ... }`` is written in
place.  Indexed keys are case-folded as ``postmap`` folds them.

Pattern tables answer only *full* lookups: Postfix never shows them the partial keys
(parent domains, ``user@``, truncated IP addresses) it tries after the full key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import PolicyConfigError
from sim.policy.maincf import split_list

__all__ = ["UNIX_PASSWD_USERS", "Table", "TableCache"]

# What ``unix:passwd.byname`` answers on a fresh Debian host: relaysim has no /etc/passwd
# of the simulated machine, so it uses this fixed, documented list of system accounts.
UNIX_PASSWD_USERS = [
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "nobody",
    "postfix",
]
_INDEXED = {"hash", "texthash", "lmdb", "btree", "cdb", "dbm", "sdbm"}
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_REGEXP_RULE = re.compile(r"^(!?)/((?:\\.|[^/\\])*)/([A-Za-z]*)\s*(.*)$")


@dataclass
class Table:
    """One lookup table; ``lookup`` returns the right-hand side or None."""

    ref: str
    kind: str
    entries: dict[str, str] = field(default_factory=dict)
    networks: list[tuple[bool, _Network, str]] = field(default_factory=list)
    patterns: list[tuple[bool, re.Pattern[str], str]] = field(default_factory=list)
    static: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def is_pattern(self) -> bool:
        return self.kind in ("cidr", "regexp", "pcre")

    def lookup(self, key: str, *, partial: bool = False) -> str | None:
        if self.static is not None:
            return self.static
        if self.kind == "cidr":
            return None if partial else self._cidr(key)
        if self.kind in ("regexp", "pcre"):
            return None if partial else self._regexp(key)
        return self.entries.get(key.lower())

    def _cidr(self, key: str) -> str | None:
        try:
            addr = ipaddress.ip_address(key.strip("[]"))
        except ValueError:
            return None
        for negate, net, value in self.networks:
            if addr.version == net.version and (addr in net) != negate:
                return value
        return None

    def _regexp(self, key: str) -> str | None:
        for negate, pattern, value in self.patterns:
            match = pattern.search(key)
            if (match is not None) != negate:
                return value if match is None else _substitute(value, match)
        return None


def _substitute(value: str, match: re.Match[str]) -> str:
    """regexp_table(5): ``$1`` or ``${1}`` in the result is the matched group's text."""

    def group(m: re.Match[str]) -> str:
        number = int(m.group(1) or m.group(2))
        if number > (match.re.groups or 0):
            return ""
        return match.group(number) or ""

    return re.sub(r"\$(\d)|\$\{(\d+)\}", group, value).replace("$$", "$")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Postfix table source lines: ``#`` comments, leading white space continues."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] in " \t" and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + " " + raw.strip())
        else:
            lines.append((number, raw.strip()))
    return lines


class TableCache:
    """Opens each table once, resolving paths the way relaysim documents.

    A relative path is taken from the ``main.cf`` folder; an absolute path that does not
    exist (``/etc/postfix/access``) falls back to the file of that basename there.
    """

    def __init__(self, directory: Path | None, source: str = "main.cf") -> None:
        self.directory = directory
        self.source = source
        self._tables: dict[str, Table] = {}

    def open(self, ref: str, *, line: int | None = None) -> Table:
        if ref not in self._tables:
            self._tables[ref] = self._load(ref, line)
        return self._tables[ref]

    def _error(self, message: str, line: int | None) -> PolicyConfigError:
        return PolicyConfigError(message, source=self.source, line=line)

    def _load(self, ref: str, line: int | None) -> Table:
        kind, colon, name = ref.partition(":")
        kind = kind.lower()
        if not colon:
            raise self._error(f"expected a table 'type:name', got {ref!r}", line)
        if kind == "proxy":
            inner = self._load(name, line)
            inner.ref = ref
            return inner
        if kind == "static":
            value = name[1:-1].strip() if name.startswith("{") and name.endswith("}") else name
            return Table(ref, kind, static=value)
        if kind == "inline":
            return self._inline(ref, name, line)
        if kind == "unix":
            if name != "passwd.byname":
                raise self._error(f"unsupported unix table {name!r} (expected passwd.byname)", line)
            return Table(ref, kind, entries={u: u for u in UNIX_PASSWD_USERS})
        if kind not in _INDEXED | {"cidr", "regexp", "pcre"}:
            raise self._error(
                f"unsupported table type {kind!r} in {ref!r} (expected one of: hash, texthash, "
                "lmdb, btree, cdb, dbm, cidr, regexp, pcre, static, inline, proxy, unix)",
                line,
            )
        path = self._path(name, line)
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        table = Table(ref, kind)
        for number, content in _logical_lines(text):
            where = f"{path}:{number}"
            if kind == "cidr":
                self._cidr_rule(table, content, where)
            elif kind in ("regexp", "pcre"):
                self._regexp_rule(table, content, where)
            else:
                key, _, value = content.partition(" ")
                if "\t" in key:
                    key, _, rest = key.partition("\t")
                    value = (rest + " " + value).strip()
                table.entries.setdefault(key.lower(), value.strip())
        return table

    def _path(self, name: str, line: int | None) -> Path:
        candidate = Path(name)
        options = []
        if candidate.is_absolute():
            options.append(candidate)
            if self.directory is not None:
                options.append(self.directory / candidate.name)
        elif self.directory is not None:
            options.append(self.directory / candidate)
        else:
            options.append(candidate)
        for option in options:
            if option.is_file():
                return option
        tried = ", ".join(str(o) for o in options)
        raise self._error(f"table file not found: {name} (looked for {tried})", line)

    def _inline(self, ref: str, body: str, line: int | None) -> Table:
        if not (body.startswith("{") and body.endswith("}")):
            raise self._error(f"expected inline:{{ key=value, ... }}, got {ref!r}", line)
        table = Table(ref, "inline")
        for item in split_list(body[1:-1]):
            item = item.strip()
            if item.startswith("{") and item.endswith("}"):
                item = item[1:-1].strip()
            key, eq, value = item.partition("=")
            if not eq:
                raise self._error(f"inline table entry {item!r}: expected key=value", line)
            table.entries[key.strip().lower()] = value.strip()
        return table

    @staticmethod
    def _cidr_rule(table: Table, content: str, where: str) -> None:
        parts = content.split(None, 1)
        pattern, value = parts[0], (parts[1] if len(parts) > 1 else "")
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").replace("[", "").replace("]", "")
        try:
            network = ipaddress.ip_network(pattern, strict=True)
        except ValueError as exc:
            # Postfix logs a warning and skips the rule (non-null host bits and the like).
            table.warnings.append(f"{where}: {exc}; skipping this rule")
            return
        table.networks.append((negate, network, value.strip()))

    @staticmethod
    def _regexp_rule(table: Table, content: str, where: str) -> None:
        m = _REGEXP_RULE.match(content)
        if m is None:
            raise PolicyConfigError(f"{where}: expected /pattern/flags value, got {content[:40]!r}")
        negate, expr, flag_chars, value = m.groups()
        flags = 0 if "i" in flag_chars else re.IGNORECASE
        if "x" in flag_chars:
            flags |= re.VERBOSE
        try:
            compiled = re.compile(expr, flags)
        except re.error as exc:
            raise PolicyConfigError(f"{where}: bad regular expression: {exc}") from None
        table.patterns.append((bool(negate), compiled, value.strip()))

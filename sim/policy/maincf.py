"""Reading a Postfix ``main.cf`` (postconf(5)) the way Postfix 3.7 reads it.

A logical line starts with a non-blank character; lines that start with white space
continue it; blank lines and lines whose first non-blank character is ``#`` are
ignored (also inside a continued value).  Values are expanded lazily: ``$name``,
``${name}``, ``$(name)``, ``${name?value}`` and ``${name:value}``.  Defaults are
Postfix 3.7's, including those that depend on ``compatibility_level``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import PolicyConfigError

__all__ = ["MODELLED_PARAMETERS", "MainCf", "compat_at_least", "split_list"]

# Postfix 3.7 built-in defaults that do not depend on compatibility_level.
_DEFAULTS: dict[str, str] = {
    "compatibility_level": "0",
    "myhostname": "localhost.localdomain",
    "myorigin": "$myhostname",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "inet_interfaces": "all",
    "proxy_interfaces": "",
    "mynetworks": "",
    "smtpd_client_restrictions": "",
    "smtpd_helo_restrictions": "",
    "smtpd_sender_restrictions": "",
    "smtpd_recipient_restrictions": "",
    "smtpd_restriction_classes": "",
    "smtpd_delay_reject": "yes",
    "smtpd_helo_required": "no",
    "smtpd_sasl_auth_enable": "no",
    "smtpd_sender_login_maps": "",
    "smtpd_null_access_lookup_key": "<>",
    "smtpd_reject_unlisted_recipient": "yes",
    "smtpd_reject_unlisted_sender": "no",
    "allow_percent_hack": "yes",
    "swap_bangpath": "yes",
    "resolve_dequoted_address": "yes",
    "allow_untrusted_routing": "no",
    "resolve_null_domain": "no",
    "resolve_numeric_domain": "no",
    "strict_rfc821_envelopes": "no",
    "allow_min_user": "no",
    "recipient_delimiter": "",
    "soft_bounce": "no",
    "relay_clientcerts": "",
    "local_recipient_maps": "proxy:unix:passwd.byname $alias_maps",
    "alias_maps": "hash:/etc/aliases",
    "relay_recipient_maps": "",
    "virtual_alias_domains": "$virtual_alias_maps",
    "virtual_alias_maps": "$virtual_maps",
    "virtual_maps": "",
    "virtual_mailbox_domains": "$virtual_mailbox_maps",
    "virtual_mailbox_maps": "",
    "parent_domain_matches_subdomains": (
        "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,"
        "qmqpd_authorized_clients,relay_domains,smtpd_access_maps"
    ),
    "message_size_limit": "10240000",
    "local_transport": "local:$myhostname",
    "virtual_transport": "virtual",
    "relay_transport": "relay",
    "default_transport": "smtp",
    "show_user_unknown_table_name": "yes",
    "double_bounce_sender": "double-bounce",
    "empty_address_recipient": "MAILER-DAEMON",
    "relay_domains_reject_code": "554",
    "unknown_address_reject_code": "450",
    "unknown_local_recipient_reject_code": "550",
    "unknown_relay_recipient_reject_code": "550",
    "unknown_virtual_alias_reject_code": "550",
    "unknown_virtual_mailbox_reject_code": "550",
    "non_fqdn_reject_code": "504",
    "invalid_hostname_reject_code": "501",
    "access_map_reject_code": "554",
    "access_map_defer_code": "450",
    "defer_code": "450",
    "reject_code": "554",
    "unknown_client_reject_code": "450",
    "unknown_hostname_reject_code": "450",
    "plaintext_reject_code": "450",
    "unverified_recipient_reject_code": "450",
    "unverified_sender_reject_code": "450",
    "maps_rbl_reject_code": "554",
    "reject_tempfail_action": "defer_if_permit",
    "unknown_address_tempfail_action": "$reject_tempfail_action",
}

# Parameters whose default depends on compatibility_level: (level, below, at-or-above).
_COMPAT_DEFAULTS: dict[str, tuple[str, str, str]] = {
    "smtpd_relay_restrictions": (
        "1",
        "",
        "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    ),
    "relay_domains": ("2", "$mydestination", ""),
    "mynetworks_style": ("2", "subnet", "host"),
    "append_dot_mydomain": ("1", "yes", "no"),
    "smtpd_relay_before_recipient_restrictions": ("3.6", "no", "yes"),
    "smtputf8_enable": ("1", "no", "yes"),
}

MODELLED_PARAMETERS = frozenset(_DEFAULTS) | frozenset(_COMPAT_DEFAULTS) | {"mydomain"}

_EXPAND = re.compile(
    r"\$(?:\{([A-Za-z0-9_]+)(?:([?:])((?:[^{}]|\{[^{}]*\})*))?\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))"
)
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def compat_at_least(level: str, wanted: str) -> bool:
    """Postfix ``<level`` comparison of compatibility levels such as ``3.6`` and ``2``."""

    def parts(text: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in text.split("."))
        except ValueError:
            return (0,)

    return parts(level) >= parts(wanted)


def split_list(value: str) -> list[str]:
    """Split a Postfix list at commas and white space, keeping ``{...}`` groups whole."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        if depth == 0 and (ch in ", \t\r\n"):
            if current:
                items.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        items.append("".join(current))
    return items


@dataclass
class MainCf:
    """Parameters of one ``main.cf`` with their source lines, expanded on demand."""

    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    source: str = "main.cf"
    directory: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> MainCf:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise PolicyConfigError(
                f"cannot read main.cf: {exc.strerror}", source=str(path)
            ) from None
        return cls.parse(text, source=str(path), directory=path.parent)

    @classmethod
    def parse(cls, text: str, *, source: str = "main.cf", directory: Path | None = None) -> MainCf:
        cfg = cls(source=source, directory=directory)
        name: str | None = None
        parts: list[str] = []
        start = 0
        for number, raw in enumerate(text.splitlines(), 1):
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if raw[0] in " \t":
                if name is None:
                    raise PolicyConfigError(
                        "continuation line without a parameter before it "
                        "(expected 'name = value' at the start of a line)",
                        source=source,
                        line=number,
                    )
                parts.append(stripped)
                continue
            if name is not None:
                cfg._set(name, " ".join(parts), start)
            key, eq, value = raw.partition("=")
            if not eq or not _NAME.match(key.strip()):
                raise PolicyConfigError(
                    f"expected 'name = value', got {stripped[:60]!r}", source=source, line=number
                )
            name, parts, start = key.strip(), [value.strip()] if value.strip() else [], number
        if name is not None:
            cfg._set(name, " ".join(parts), start)
        return cfg

    @classmethod
    def from_mapping(cls, params: Mapping[str, str], *, source: str = "<parameters>") -> MainCf:
        cfg = cls(source=source)
        for key, value in params.items():
            cfg._set(key, value, 0)
        return cfg

    def _set(self, name: str, value: str, line: int) -> None:
        self.values[name] = value
        self.lines[name] = line

    def where(self, name: str) -> tuple[str, int | None]:
        """The file and line that set ``name`` (line None for a built-in default)."""
        line = self.lines.get(name)
        return self.source, (line if line else None)

    def is_set(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name == "mydomain":
            host = self.get("myhostname")
            dot = host.find(".")
            return "localdomain" if dot < 0 else host[dot + 1 :]  # Postfix check_mydomainname
        if name in _COMPAT_DEFAULTS:
            level, below, above = _COMPAT_DEFAULTS[name]
            return above if compat_at_least(self.compat_level, level) else below
        return _DEFAULTS.get(name, "")

    @property
    def compat_level(self) -> str:
        return self.values.get("compatibility_level", _DEFAULTS["compatibility_level"]).strip()

    def get(self, name: str) -> str:
        """The fully expanded value of a parameter."""
        return self._expand(self.raw(name), depth=0)

    def _expand(self, value: str, depth: int) -> str:
        if depth > 20:
            raise PolicyConfigError(
                f"parameter expansion too deep in {value!r}", source=self.source
            )

        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(4) or m.group(5)
            current = self._expand(self.raw(name), depth + 1)
            if m.group(2) == "?":
                body = (m.group(3) or "").strip("{}")
                return self._expand(body, depth + 1) if current else ""
            if m.group(2) == ":":
                body = (m.group(3) or "").strip("{}")
                return "" if current else self._expand(body, depth + 1)
            return current

        return _EXPAND.sub(sub, value)

    def flag(self, name: str) -> bool:
        value = self.get(name).strip().lower()
        if value in ("yes", "true", "1"):
            return True
        if value in ("no", "false", "0", ""):
            return False
        source, line = self.where(name)
        raise PolicyConfigError(
            f"{name}: expected yes or no, got {value!r}", source=source, line=line
        )

    def integer(self, name: str) -> int:
        value = self.get(name).strip()
        try:
            return int(value)
        except ValueError:
            source, line = self.where(name)
            raise PolicyConfigError(
                f"{name}: expected a whole number, got {value!r}", source=source, line=line
            ) from None

    def items(self, name: str) -> list[str]:
        return split_list(self.get(name))

    def parent_matches(self, feature: str) -> bool:
        """Whether ``feature`` is in ``parent_domain_matches_subdomains``."""
        return feature in self.items("parent_domain_matches_subdomains")

    @property
    def myhostname(self) -> str:
        return self.get("myhostname")

    @property
    def mydomain(self) -> str:
        return self.get("mydomain")

"""Envelope paths of ``MAIL FROM:`` and ``RCPT TO:`` (RFC 5321 §3.3, §4.1.1.2-3, §4.1.2).

Theory of operation: the parser follows what Postfix's smtpd does, because relay
decisions must match a real server byte for byte.

1. The argument after ``FROM:``/``TO:`` is split into tokens at white space, keeping
   ``"..."`` and ``<...>`` groups whole (Postfix ``smtpd_token``).  The first token is
   the path, the rest are ESMTP parameters.
2. One pair of outer angle brackets is removed, then an RFC 821 source route
   ``@a,@b:`` in front is thrown away (RFC 5321 §4.1.1.3 allows this).
3. The rest is read as RFC 822 tokens; quoted strings are opened (``"a@b"@c`` becomes
   ``a@b@c``, Postfix's *internal* form).  More than one address is a syntax error;
   phrases and missing brackets are errors only with ``strict_rfc821_envelopes``.

What the address *means* (percent hack, bang paths, local or remote) is decided by
:mod:`sim.policy.resolve`; this module only reads text.  Malformed input returns the
Postfix reply as a value and never raises.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from sim.policy.replies import (
    R501_BAD_RCPT_SYNTAX,
    R501_BAD_SENDER_SYNTAX,
    R501_MAIL_SYNTAX,
    R501_RCPT_SYNTAX,
    R552_SIZE_EXCEEDED,
    Reply,
)

__all__ = [
    "MAX_DOMAIN",
    "MAX_LOCAL_PART",
    "MAX_PATH",
    "Mailbox",
    "PathCommand",
    "PathKind",
    "ip_literal",
    "parse_path_command",
    "quote_local",
    "smtpd_tokens",
    "valid_hostname",
]

MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN = 255  # RFC 5321 §4.5.3.1.2
MAX_PATH = 256  # RFC 5321 §4.5.3.1.3
_SPECIALS = '()<>@,;:\\".[]'
_OFF_T_MAX = 2**63 - 1  # Postfix reads SIZE into an off_t
_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_XTEXT = re.compile(r"^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$")


class PathKind(Enum):
    """Which command a path belongs to; the error replies differ."""

    SENDER = "MAIL"
    RECIPIENT = "RCPT"


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An address in Postfix's internal form: quotes removed, source route removed.

    ``text`` is what Postfix shows between ``<...>`` in its replies: the client's case
    and trailing dot are kept.
    """

    text: str
    route: tuple[str, ...] = ()

    @property
    def local(self) -> str:
        at = self.text.rfind("@")
        return self.text if at < 0 else self.text[:at]

    @property
    def domain(self) -> str | None:
        at = self.text.rfind("@")
        return None if at < 0 else self.text[at + 1 :]

    @property
    def literal(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The address of an IP-literal domain (``[192.0.2.1]``, ``[IPv6:...]``)."""
        return None if self.domain is None else ip_literal(self.domain)

    def exceeds_rfc_limits(self) -> bool:
        """True when RFC 5321 §4.5.3.1 size limits are exceeded (Postfix does not check)."""
        domain = self.domain or ""
        external = quote_local(self.local) + ("@" + domain if self.domain is not None else "")
        return (
            len(self.local) > MAX_LOCAL_PART
            or len(domain) > MAX_DOMAIN
            or len(external) + 2 > MAX_PATH
        )


@dataclass(frozen=True, slots=True)
class PathCommand:
    """A parsed ``MAIL FROM:`` or ``RCPT TO:`` argument: the path and its parameters.

    ``mailbox`` is None for the null path ``<>``.  ``params`` keeps the parameters in
    the order given, keyword upper-cased, value as given (None for a bare keyword).
    """

    kind: PathKind
    mailbox: Mailbox | None
    params: tuple[tuple[str, str | None], ...] = field(default=())

    def param(self, keyword: str) -> str | None:
        for key, value in self.params:
            if key == keyword.upper():
                return value
        return None

    def has_param(self, keyword: str) -> bool:
        return any(key == keyword.upper() for key, _ in self.params)


def smtpd_tokens(text: str) -> list[str]:
    """Split at white space, keeping quoted strings and ``<...>`` groups whole."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            current.append(ch)
        elif ch == "<":
            depth += 1
            current.append(ch)
        elif ch == ">":
            depth = max(0, depth - 1)
            current.append(ch)
        elif ch in " \t" and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


def ip_literal(domain: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address inside ``[a.b.c.d]`` or ``[IPv6:x::y]``; None when not a valid literal."""
    if not domain.startswith("["):
        return None
    inner = domain[1:-1] if domain.endswith("]") else domain[1:]
    try:
        if inner[:5].lower() == "ipv6:":
            return ipaddress.IPv6Address(inner[5:])
        return ipaddress.IPv4Address(inner)
    except ValueError:
        return None


def valid_hostname(name: str, *, allow_utf8: bool = True) -> bool:
    """Postfix ``valid_hostname``: labels of letters, digits, ``-`` and ``_``.

    A label may not start or end with ``-``, labels are 1..63 characters, the name at
    most 255, and an all-numeric name (an IP address written bare) is not a hostname.
    """
    if not name or len(name) > MAX_DOMAIN:
        return False
    labels = name.split(".")
    for label in labels:
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        for ch in label:
            if not (ch.isascii() and (ch.isalnum() or ch in "-_")) and not (
                allow_utf8 and not ch.isascii() and ch.isprintable()
            ):
                return False
    return not all(label.isdigit() for label in labels)


def quote_local(local: str) -> str:
    """The external (RFC 5321) form of a local part: quoted when it needs quoting."""
    if local and _dot_atom(local):
        return local
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _dot_atom(text: str) -> bool:
    if text.startswith(".") or text.endswith(".") or ".." in text:
        return False
    return all(ch not in _SPECIALS.replace(".", "") and ch > " " and ch != "\x7f" for ch in text)


def _rfc822_tokens(text: str) -> list[tuple[str, str]] | None:
    """RFC 822 lexical tokens (kind, value); comments dropped.  None on unbalanced ``<``."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            if out and out[-1][0] != "space":
                out.append(("space", " "))
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            out.append(("qstring", "".join(buf)))
            i = j + 1
        elif ch == "(":
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            i = j
        elif ch == "[":
            j = text.find("]", i)
            literal = text[i:] + "]" if j < 0 else text[i : j + 1]
            out.append(("literal", literal))
            i = n if j < 0 else j + 1
        elif ch in _SPECIALS:
            out.append((ch, ch))
            i += 1
        else:
            j, buf = i, []
            while j < n and (
                text[j] == "\\" or (text[j] not in _SPECIALS and text[j] not in " \t")
            ):
                if text[j] == "\\" and j + 1 < n:  # a backslash quotes the next character
                    j += 1
                buf.append(text[j])
                j += 1
            out.append(("atom", "".join(buf)))
            i = j
    depth = 0
    for kind, _ in out:
        depth += {"<": 1, ">": -1}.get(kind, 0)
        if depth < 0:  # a stray ">" is ignored, as Postfix's parser ignores brackets
            depth = 0
    return None if depth > 0 else out


def _extract(text: str, strict: bool) -> tuple[str, tuple[str, ...]] | None:
    """Postfix ``extract_addr``: the internal address and its source route, or None."""
    bracketed = text.startswith("<") and text.endswith(">")
    if bracketed:
        text = text[1:-1]
    route: tuple[str, ...] = ()
    if text.startswith("@") and ":" in text:
        hops, text = text.split(":", 1)
        route = tuple(h.lstrip("@") for h in hops.split(","))
    tokens = _rfc822_tokens(text)
    if tokens is None:
        return None
    if any(kind == "<" for kind, _ in tokens):
        start = next(i for i, (kind, _) in enumerate(tokens) if kind == "<")
        end = next(i for i, (kind, _) in enumerate(tokens) if kind == ">" and i > start)
        tokens = [t for i, t in enumerate(tokens) if t[0] != ">" or i >= start]
        inner = tokens[start + 1 : end]
        outside = tokens[:start] + tokens[end + 1 :]
        if any(kind == "<" for kind, _ in outside):
            return None  # two bracketed addresses
        addresses = [inner]
        non_address = any(kind != "space" for kind, _ in outside)
    else:
        addresses = [[]]
        for token in tokens:
            if token[0] == ",":
                addresses.append([])
            else:
                addresses[-1].append(token)
        addresses = [[t for t in a if t[0] != ">"] for a in addresses]
        addresses = [a for a in addresses if any(k != "space" for k, _ in a)]
        non_address = False
    if len(addresses) > 1 or (strict and (non_address or not bracketed)):
        return None
    if addresses and not _one_address(addresses[0]):
        return None
    internal = "".join(v for k, v in addresses[0] if k != "space") if addresses else ""
    return internal, route


def _one_address(tokens: list[tuple[str, str]]) -> bool:
    """Words apart by white space are two addresses (``a b@x``), as is ``a;b@x``.

    Words written together (``a"b"@x``, ``%x%[127.0.0.1]@y``) are glued into one, as
    Postfix's RFC 822 parser glues them.
    """
    previous, spaced, last = "", False, ("", "")
    for kind, value in tokens:
        if kind == "space":
            spaced = True
            continue
        word = kind in ("atom", "qstring", "literal")
        if kind in (";", "<") or (word and previous == "word" and spaced):
            return False
        if word and previous == "word" and "literal" in (kind, last[0]):
            # ``a[b]@x`` is refused; ``user%[127.0.0.1]@x`` (after an operator) is not
            glued_by_operator = last[1][-1:] in "%!" or value[:1] in "%!"
            if not glued_by_operator:
                return False
        previous, spaced, last = ("word" if word else kind), False, (kind, value)
    return True


def _check_params(
    kind: PathKind, tokens: list[str], size_limit: int, smtputf8_enable: bool = True
) -> tuple[tuple[tuple[str, str | None], ...], Reply | None]:
    """ESMTP parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 3461 DSN, RFC 6531 SMTPUTF8).

    As Postfix's smtpd: a repeated SIZE or BODY is accepted (the last wins), a repeated
    DSN parameter is a syntax error, and an unknown BODY is an unsupported option.
    """
    params: dict[str, str | None] = {}
    sender = kind is PathKind.SENDER
    for token in tokens:
        key, eq, value = token.partition("=")
        upper = key.upper()
        val: str | None = value if eq else None
        if sender and upper == "SIZE" and val is not None:
            if not val.isdigit():
                return (), Reply(501, "5.5.4", "Bad message size syntax")
            if int(val) > _OFF_T_MAX:
                return (), Reply(552, "5.3.4", "Message size exceeds file system imposed limit")
        elif sender and upper == "BODY" and val is not None and val.upper() in ("7BIT", "8BITMIME"):
            pass
        elif sender and upper == "RET" and val is not None:
            if upper in params or val.upper() not in ("FULL", "HDRS"):
                return (), Reply(501, "5.5.4", "Bad RET parameter syntax")
        elif sender and upper == "ENVID" and val is not None:
            if upper in params or not val or not _XTEXT.match(val):
                return (), Reply(501, "5.5.4", "Bad ENVID parameter syntax")
        elif sender and upper == "AUTH":
            if upper in params and params[upper] != "<>":
                return (), Reply(503, "5.5.4", "Error: multiple AUTH= options")
        elif sender and upper == "SMTPUTF8" and val is None and smtputf8_enable:
            pass
        elif not sender and upper == "NOTIFY" and val is not None:
            words = [w.upper() for w in val.split(",")]
            allowed = {"SUCCESS", "FAILURE", "DELAY"}
            valid = words == ["NEVER"] or (bool(words) and all(w in allowed for w in words))
            if upper in params or not valid:
                return (), Reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
        elif not sender and upper == "ORCPT" and val is not None:
            addr_type, semi, xtext = val.partition(";")
            valid = bool(semi) and bool(_KEYWORD.match(addr_type)) and bool(_XTEXT.match(xtext))
            if upper in params or not valid:
                return (), Reply(501, "5.5.4", "Error: Bad ORCPT parameter syntax")
        else:
            return (), Reply(555, "5.5.4", f"Unsupported option: {token}")
        params[upper] = val
    size = params.get("SIZE")
    if size_limit and size is not None and int(size) > size_limit:
        return (), R552_SIZE_EXCEEDED
    return tuple(params.items()), None


def parse_path_command(
    kind: PathKind,
    argument: str,
    *,
    strict_rfc821: bool = False,
    size_limit: int = 10_240_000,
    enforce_rfc_limits: bool = False,
    smtputf8: bool = False,
    smtputf8_enable: bool = True,
    address_ok: Callable[[str, bool], bool] | None = None,
    allow_min_user: bool = False,
) -> PathCommand | Reply:
    """Parse the text after the verb: ``FROM:<a@b> SIZE=10`` or ``TO:<c@d>``.

    Returns the parsed command, or the reply Postfix 3.7 sends for the error.  Domain
    syntax (``user@-bad``, ``user@``) is judged later, by the resolver, as in Postfix.
    ``enforce_rfc_limits`` adds RFC 5321's 64/255/256 length limits (Postfix has none).
    ``smtputf8`` says the transaction's MAIL command asked for SMTPUTF8 (RFC 6531);
    without ``smtputf8_enable`` the SMTPUTF8 parameter is an unsupported option.
    ``address_ok(text, smtputf8)`` is the server's own check of the address (Postfix's
    resolver), made before the parameters are read, as smtpd does.
    """
    prefix = "FROM:" if kind is PathKind.SENDER else "TO:"
    usage = R501_MAIL_SYNTAX if kind is PathKind.SENDER else R501_RCPT_SYNTAX
    bad = R501_BAD_SENDER_SYNTAX if kind is PathKind.SENDER else R501_BAD_RCPT_SYNTAX
    stripped = argument.strip()
    if stripped[: len(prefix)].upper() != prefix:
        return usage
    tokens = smtpd_tokens(stripped[len(prefix) :])
    if not tokens:
        return usage
    extracted = _extract(tokens[0], strict_rfc821)
    if extracted is None:
        return bad
    internal, route = extracted
    if not internal and kind is PathKind.RECIPIENT:
        return bad
    if strict_rfc821 and internal.startswith("@"):
        return bad
    if internal.startswith("-") and not allow_min_user:  # Postfix allow_min_user = no
        return bad
    asks_utf8 = kind is PathKind.SENDER and any(t.upper() == "SMTPUTF8" for t in tokens[1:])
    utf8 = smtputf8 or (asks_utf8 and smtputf8_enable)
    # Postfix accepts UTF-8 local parts always, UTF-8 domains only with SMTPUTF8.
    domain = internal.rpartition("@")[2] if "@" in internal else ""
    if not utf8 and not domain.isascii():
        return bad
    if internal and address_ok is not None and not address_ok(internal, utf8):
        return bad
    params, error = _check_params(kind, tokens[1:], size_limit, smtputf8_enable)
    if error is not None:
        return error
    mailbox = Mailbox(internal, route) if internal else None
    if enforce_rfc_limits and mailbox is not None and mailbox.exceeds_rfc_limits():
        return Reply(bad.code, bad.enhanced, "Path too long (RFC 5321 section 4.5.3.1)")
    return PathCommand(kind, mailbox, params)

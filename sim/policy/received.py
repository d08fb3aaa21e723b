"""Reading one ``Received:`` trace field as real mail carries it (RFC 5321 §4.4, RFC 5322 §3.6.7).

Theory of operation.  The grammar of RFC 5321 §4.4 (``from`` ``by`` [``via``] [``with``]
[``id``] [``for``] ``;`` date-time) is only loosely followed in practice: Exim writes
``from host ([ip] helo=name)``, Microsoft Exchange ``from name (ip)`` without brackets and a
three-word protocol (``with Microsoft SMTP Server``), Gmail puts the TLS comment after
``for``, Sendmail writes ``(from user@localhost)`` instead of a ``from`` clause.  So the
reader follows the robust recipe of the reference (``dsn.md`` §5.3):

1. unfold (RFC 5322 §2.2.3) and split at the last ``;`` outside comments: the right side is
   the date-time (RFC 5322 §3.3, read with :func:`email.utils.parsedate_to_datetime`);
2. tokenise the left side into words, ``<angle>`` addresses, quoted strings and (nested)
   comments;
3. walk the tokens, starting a clause at each keyword (``from``, ``by``, ``via``,
   ``with``, ``id``, ``for``, any case); the comment after the ``from`` domain is the
   TCP-info (``rdns [ip]``, ``[ip] helo=x``, ``ip``);
4. look for TLS details in every comment, whichever MTA wrote them (Postfix ``using ...
   with cipher``, Sendmail/Gmail/Exchange ``version= cipher= bits=``, Exim ``TLS1.2:...``).

:func:`parse_received` never raises on bad input: whatever could not be read is left
``None`` and explained in :attr:`Hop.notes`.  ``with`` keywords are the RFC 3848 table
(:class:`Protocol`); vendor words are kept as written in :attr:`Hop.protocol_text`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

__all__ = ["CertStatus", "Hop", "Protocol", "TLSInfo", "parse_received", "unfold"]

_BASES = ("UTF8SMTP", "UTF8LMTP", "ESMTP", "SMTP", "LMTP")


class Protocol(Enum):
    """The ``with`` keyword of a Received field (RFC 5321 §4.4, RFC 3848, RFC 6531)."""

    SMTP = "SMTP"
    ESMTP = "ESMTP"
    ESMTPA = "ESMTPA"
    ESMTPS = "ESMTPS"
    ESMTPSA = "ESMTPSA"
    LMTP = "LMTP"
    LMTPA = "LMTPA"
    LMTPS = "LMTPS"
    LMTPSA = "LMTPSA"
    UTF8SMTP = "UTF8SMTP"
    UTF8SMTPA = "UTF8SMTPA"
    UTF8SMTPS = "UTF8SMTPS"
    UTF8SMTPSA = "UTF8SMTPSA"
    UTF8LMTP = "UTF8LMTP"
    UTF8LMTPA = "UTF8LMTPA"
    UTF8LMTPS = "UTF8LMTPS"
    UTF8LMTPSA = "UTF8LMTPSA"

    @classmethod
    def from_text(cls, text: str) -> Protocol:
        """Case-insensitive (Exim writes ``esmtps``); raises ``ValueError`` naming the choices."""
        wanted = text.strip().upper()
        for member in cls:
            if member.value == wanted:
                return member
        expected = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown protocol {text!r} (expected one of: {expected})")

    @classmethod
    def for_session(
        cls,
        *,
        ehlo: bool = True,
        tls: bool = False,
        auth: bool = False,
        lmtp: bool = False,
        utf8: bool = False,
    ) -> Protocol:
        """The keyword Postfix writes: ``ESMTP`` + ``S`` (STARTTLS) + ``A`` (SASL login)."""
        if not ehlo and (tls or auth or utf8):
            raise ValueError("STARTTLS, AUTH and SMTPUTF8 need an EHLO session")
        if lmtp:
            base = "UTF8LMTP" if utf8 else "LMTP"
        elif not ehlo:
            return cls.SMTP
        else:
            base = "UTF8SMTP" if utf8 else "ESMTP"
        return cls(base + ("S" if tls else "") + ("A" if auth else ""))

    @property
    def _suffix(self) -> str:
        for base in _BASES:
            if self.value.startswith(base):
                return self.value[len(base) :]
        return ""  # pragma: no cover - every member starts with a base

    @property
    def tls(self) -> bool:
        """True for the ``S`` variants (STARTTLS was in effect, RFC 3848)."""
        return self._suffix.startswith("S")

    @property
    def authenticated(self) -> bool:
        """True for the ``A`` variants (the client authenticated with SMTP AUTH)."""
        return self._suffix.endswith("A")


class CertStatus(Enum):
    """What Postfix says of the client certificate after the TLS comment."""

    NOT_REQUESTED = "No client certificate requested"
    NOT_PRESENTED = "Client did not present a certificate"
    VERIFIED = "verified OK"
    NOT_VERIFIED = "not verified"

    @classmethod
    def from_text(cls, text: str) -> CertStatus:
        wanted = text.strip().lower().replace("_", " ").replace("-", " ")
        for member in cls:
            if wanted in (member.value.lower(), member.name.lower().replace("_", " ")):
                return member
        expected = ", ".join(m.name.lower() for m in cls)
        raise ValueError(f"unknown client certificate status {text!r} (expected: {expected})")


@dataclass(frozen=True, slots=True)
class TLSInfo:
    """TLS details of one hop, as far as the header (or the session) tells them.

    ``version`` is normalised to OpenSSL spelling (``TLSv1.3``; Exchange's ``TLS1_3`` and
    Exim's ``TLS1.3`` read the same).  Fields other than ``version`` may be unknown.
    """

    version: str
    cipher: str | None = None
    cipher_bits: int | None = None
    alg_bits: int | None = None
    key_exchange: str | None = None
    server_signature: str | None = None
    server_digest: str | None = None
    client_cert: CertStatus | None = CertStatus.NOT_REQUESTED
    client_cn: str | None = None
    client_issuer: str | None = None

    def __post_init__(self) -> None:
        if not self.version or any(c.isspace() for c in self.version):
            raise ValueError(f"TLS version must be one word, got {self.version!r}")
        for name in ("cipher_bits", "alg_bits"):
            bits = getattr(self, name)
            if bits is not None and bits < 0:
                raise ValueError(f"{name} must not be negative, got {bits}")
        presented = self.client_cert in (CertStatus.VERIFIED, CertStatus.NOT_VERIFIED)
        if presented and (self.client_cn is None or self.client_issuer is None):
            raise ValueError("a presented client certificate needs client_cn and client_issuer")

    def summary(self) -> str:
        """``TLSv1.3 TLS_AES_256_GCM_SHA384`` (what a table column shows)."""
        return self.version if self.cipher is None else f"{self.version} {self.cipher}"

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "cipher_bits": self.cipher_bits,
            "alg_bits": self.alg_bits,
            "key_exchange": self.key_exchange,
            "server_signature": self.server_signature,
            "server_digest": self.server_digest,
            "client_cert": None if self.client_cert is None else self.client_cert.name.lower(),
            "client_cn": self.client_cn,
            "client_issuer": self.client_issuer,
        }


@dataclass(frozen=True, slots=True)
class Hop:
    """What one Received field says; unknown parts are ``None``, problems are in ``notes``.

    ``from_name`` is the word after ``from`` as written; ``helo`` is the client's HELO/EHLO
    name where the style tells it (Postfix, Sendmail, Gmail, Exchange: the ``from`` word;
    Exim: ``helo=`` or, when absent, the ``from`` word); ``rdns`` the reverse-DNS name the
    receiver recorded; ``ip`` the client address the receiver saw.  ``time`` is aware
    (a ``-0000`` or missing zone is read as UTC, with a note).
    """

    raw: str
    from_name: str | None = None
    helo: str | None = None
    rdns: str | None = None
    ip: str | None = None
    by: str | None = None
    by_ip: str | None = None
    software: str | None = None
    protocol_text: str | None = None
    via: str | None = None
    queue_id: str | None = None
    recipient: str | None = None
    tls: TLSInfo | None = None
    auth_sender: str | None = None
    time: datetime | None = None
    comments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.time is not None and self.time.utcoffset() is None:
            raise ValueError("Hop.time must be timezone-aware")

    @property
    def protocol(self) -> Protocol | None:
        """The RFC 3848 keyword, or ``None`` for vendor words (``Microsoft SMTP Server``)."""
        if self.protocol_text is None:
            return None
        try:
            return Protocol.from_text(self.protocol_text)
        except ValueError:
            return None

    @property
    def encrypted(self) -> bool | None:
        """Was the hop encrypted?  ``None`` when the header does not say."""
        if self.tls is not None:
            return True
        proto = self.protocol
        if proto is not None:
            return proto.tls
        if self.protocol_text is not None and self.protocol_text.upper() in ("HTTPS", "SMTPS"):
            return True
        return None

    @property
    def client(self) -> str:
        """The sending side for a table: ``helo [ip]``, ``[ip]``, ``(local)`` or ``?``."""
        name = self.helo or self.from_name
        if name is None and self.ip is None:
            return "(local)" if self.by else "?"
        if name is None:
            return f"[{self.ip}]"
        if self.ip is None or _ip_literal(name) == self.ip:
            return name  # the name is the address literal itself
        return f"{name} [{self.ip}]"

    def as_json(self) -> dict[str, object]:
        return {
            "from": self.from_name,
            "helo": self.helo,
            "rdns": self.rdns,
            "ip": self.ip,
            "by": self.by,
            "by_ip": self.by_ip,
            "software": self.software,
            "protocol": self.protocol_text,
            "via": self.via,
            "id": self.queue_id,
            "for": self.recipient,
            "encrypted": self.encrypted,
            "tls": None if self.tls is None else self.tls.as_json(),
            "auth_sender": self.auth_sender,
            "time": None if self.time is None else self.time.isoformat(),
            "time_utc": None if self.time is None else self.time.astimezone(UTC).isoformat(),
            "notes": list(self.notes),
        }


# --- tokenising -------------------------------------------------------------------------

_KEYWORDS = ("from", "by", "via", "with", "id", "for")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "comment", "angle", "quoted"
    text: str


def unfold(value: str) -> str:
    """Unfold a field body (RFC 5322 §2.2.3) and collapse white space to single spaces."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def _split_date(text: str) -> tuple[str, str | None]:
    """Split at the last ``;`` outside comments: (clauses, date text or None)."""
    depth = 0
    last = -1
    escaped = False
    for pos, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            last = pos
    if last < 0 and depth > 0:  # an unclosed comment swallowed the ';'
        last = text.rfind(";")
    if last < 0:
        return text, None
    return text[:last], text[last + 1 :]


def _tokenise(text: str, notes: list[str]) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "(":
            depth, start, pos = 1, pos + 1, pos + 1
            while pos < n and depth:
                if text[pos] == "\\":
                    pos += 1
                elif text[pos] == "(":
                    depth += 1
                elif text[pos] == ")":
                    depth -= 1
                pos += 1
            if depth:
                # Close the runaway comment where the next clause starts, if one does.
                notes.append("unbalanced '(' in a comment")
                rest = re.search(r"\s(?:by|with|id|for|via)\s", text[start:], re.IGNORECASE)
                pos = n if rest is None else start + rest.start()
                tokens.append(_Token("comment", text[start:pos].strip()))
            else:
                tokens.append(_Token("comment", text[start : pos - 1].strip()))
        elif char == "<":
            end = text.find(">", pos)
            if end < 0:
                notes.append("unclosed '<' in an address")
                end = n
            tokens.append(_Token("angle", text[pos + 1 : end].strip()))
            pos = end + 1
        elif char == '"':
            end = pos + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            tokens.append(_Token("quoted", text[pos : end + 1]))
            pos = end + 1
        elif char == ")":
            notes.append("unbalanced ')'")
            pos += 1
        else:
            end = pos
            while end < n and not text[end].isspace() and text[end] not in "()<":
                end += 1
            tokens.append(_Token("word", text[pos:end]))
            pos = end
    return tokens


# --- clauses ----------------------------------------------------------------------------


def _clauses(tokens: list[_Token], notes: list[str]) -> dict[str, list[_Token]]:
    """Group tokens under the keyword that starts each clause (first clause of a kind wins)."""
    clauses: dict[str, list[_Token]] = {}
    current: list[_Token] | None = None
    leading: list[str] = []
    expect_value = False
    for token in tokens:
        keyword = token.text.lower() if token.kind == "word" else ""
        if keyword in _KEYWORDS and not expect_value:
            if keyword in clauses:
                notes.append(f"repeated '{keyword}' clause ignored")
                current = []
            else:
                current = clauses[keyword] = []
            expect_value = True
            continue
        if current is None:
            if token.kind != "comment":
                leading.append(token.text)
            continue
        current.append(token)
        if token.kind != "comment":
            expect_value = False
    if leading:
        notes.append(f"unexpected text before the first clause: {' '.join(leading)!r}")
    for keyword, body in clauses.items():
        if not any(t.kind != "comment" for t in body):
            notes.append(f"'{keyword}' clause has no value")
    return clauses


def _first_value(body: list[_Token]) -> str | None:
    for token in body:
        if token.kind != "comment":
            return token.text
    return None


def _clean_host(name: str) -> str:
    return name.rstrip(".") if name not in (".", "") else name


def _ip_literal(text: str) -> str | None:
    """``[1.2.3.4]``, ``[IPv6:2001:db8::1]``, ``[::1]:25``, bare ``2001:db8::1`` -> the address."""
    inner = text.strip()
    match = re.fullmatch(r"\[([^\]]*)\](?::\d+)?", inner)
    if match:
        inner = match.group(1)
    if inner.lower().startswith("ipv6:"):
        inner = inner[5:]
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return None


def _from_clause(name: str | None, body: list[_Token], *, local: bool) -> dict[str, str]:
    """HELO, reverse-DNS name and IP from ``from NAME (TCP-info)`` in any vendor's style.

    Postfix/Sendmail/Gmail: ``from HELO (rdns [ip])``; Exchange: ``from HELO (ip)``;
    Exim: ``from RDNS ([ip]:port helo=HELO)``, with ``helo=`` left out when it equals the
    name (a bare ``([ip])`` is also Sendmail's form without reverse DNS, so the name is
    then taken as the HELO and the reverse-DNS name left unknown).
    """
    out: dict[str, str] = {}
    if name is None:
        return out
    after = [t.text for t in body[1:] if t.kind == "comment"]
    comment = after[0] if after else ""
    helo = re.search(r"\bhelo=(\S+)", comment)
    bracket = re.search(r"\[[^\]]*\](?::\d+)?", comment)
    literal = _ip_literal(name)
    if bracket is not None:
        ip = _ip_literal(bracket.group(0))
        out["ip"] = ip if ip is not None else bracket.group(0)
        before = comment[: bracket.start()].split()
        if before and before[-1] != "unknown":
            out["rdns"] = _clean_host(before[-1])
        elif not before and helo is not None and literal is None:
            out["rdns"] = _clean_host(name)  # Exim: the name is the verified host name
    elif comment.split() and (ip := _ip_literal(comment.split()[0].rstrip(","))) is not None:
        out["ip"] = ip  # Exchange
    if helo is not None:
        out["helo"] = helo.group(1)
    elif not local:  # Exim "from user ... with local" names a login, not a HELO
        out["helo"] = name
    if literal is not None:
        out.setdefault("ip", literal)
    return out


# --- TLS in comments --------------------------------------------------------------------

_POSTFIX_TLS = re.compile(r"using (\S+) with cipher (\S+) \((\d+)/(\d+) bits\)")
_KEX = re.compile(r"key-exchange (\S+(?: \([^)]*\))?)")
_SIG = re.compile(r"server-signature (\S+(?: \([^)]*\))?)")
_DIGEST = re.compile(r"server-digest (\S+)")
_KV = re.compile(r"\b(version|cipher|bits|verify)=([^\s,;]+)")
_EXIM_OLD = re.compile(r"^(TLS\S*|SSL\S*):([A-Za-z0-9_\-]+):(\d+)$")
_CLIENT_CN = re.compile(r'Client CN "([^"]*)", Issuer "([^"]*)" \((verified OK|not verified)\)')
_SENDMAIL_VERIFY = {
    "OK": CertStatus.VERIFIED,
    "NOT": CertStatus.NOT_REQUESTED,
    "NO": CertStatus.NOT_PRESENTED,
    "NONE": CertStatus.NOT_REQUESTED,
    "FAIL": CertStatus.NOT_VERIFIED,
}


def normalise_tls_version(text: str) -> str:
    """``TLS1_2``, ``TLS1.2``, ``TLSv1.2`` -> ``TLSv1.2``; other words are kept."""
    match = re.fullmatch(r"(TLS|SSL)\s*v?(\d)(?:[._](\d))?", text.strip(), re.IGNORECASE)
    if match is None:
        return text.strip()
    kind, major, minor = match.groups()
    return f"{kind.upper()}v{major}" + (f".{minor}" if minor is not None else "")


def _tls_from_comment(comment: str) -> TLSInfo | None:
    postfix = _POSTFIX_TLS.search(comment)
    if postfix is not None:
        kex, sig, digest = _KEX.search(comment), _SIG.search(comment), _DIGEST.search(comment)
        return TLSInfo(
            version=normalise_tls_version(postfix.group(1)),
            cipher=postfix.group(2),
            cipher_bits=int(postfix.group(3)),
            alg_bits=int(postfix.group(4)),
            key_exchange=kex.group(1) if kex else None,
            server_signature=sig.group(1) if sig else None,
            server_digest=digest.group(1) if digest else None,
            client_cert=None,
        )
    pairs = dict(_KV.findall(comment))
    if "version" in pairs and "cipher" in pairs:
        bits, _, alg = pairs.get("bits", "").partition("/")
        verify = _SENDMAIL_VERIFY.get(pairs.get("verify", "").upper())
        return TLSInfo(
            version=normalise_tls_version(pairs["version"]),
            cipher=pairs["cipher"],
            cipher_bits=int(bits) if bits.isdigit() else None,
            alg_bits=int(alg) if alg.isdigit() else None,
            client_cert=verify,
        )
    exim = _EXIM_OLD.match(comment.strip())
    if exim is not None:
        return TLSInfo(
            version=normalise_tls_version(exim.group(1)),
            cipher=exim.group(2),
            cipher_bits=int(exim.group(3)),
            client_cert=None,
        )
    if re.fullmatch(r"(TLS|SSL)(v?\d(?:[._]\d)?)?", comment.strip(), re.IGNORECASE):
        return TLSInfo(version=normalise_tls_version(comment), client_cert=None)
    return None


def _client_cert(comments: list[str], tls: TLSInfo) -> TLSInfo:
    for comment in comments:
        for status in (CertStatus.NOT_REQUESTED, CertStatus.NOT_PRESENTED):
            if comment == status.value:
                return _replace_cert(tls, status, None, None)
        match = _CLIENT_CN.search(comment)
        if match is not None:
            status = CertStatus.from_text(match.group(3))
            return _replace_cert(tls, status, match.group(1), match.group(2))
    return tls


def _replace_cert(tls: TLSInfo, status: CertStatus, cn: str | None, issuer: str | None) -> TLSInfo:
    return TLSInfo(
        version=tls.version,
        cipher=tls.cipher,
        cipher_bits=tls.cipher_bits,
        alg_bits=tls.alg_bits,
        key_exchange=tls.key_exchange,
        server_signature=tls.server_signature,
        server_digest=tls.server_digest,
        client_cert=status,
        client_cn=cn,
        client_issuer=issuer,
    )


def _find_tls(tokens: list[_Token], with_body: list[_Token]) -> TLSInfo | None:
    comments = [t.text for t in tokens if t.kind == "comment"]
    tls = None
    for comment in comments:
        tls = _tls_from_comment(comment)
        if tls is not None:
            break
    # Exim 4.9x: "with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384"
    words = [t.text for t in with_body if t.kind == "word"]
    for pos, word in enumerate(words[:-1]):
        if word.lower() == "tls" and (tls is None or tls.cipher is None):
            version = "TLS" if tls is None else tls.version
            tls = TLSInfo(version=version, cipher=words[pos + 1], client_cert=None)
            break
    if tls is not None:
        tls = _client_cert(comments, tls)
    return tls


# --- dates ------------------------------------------------------------------------------

_DATE_GUESS = re.compile(
    r"((?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?\d{1,2}\s+"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\s+\d{2,4}\s+"
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s+[+-]\d{4}|\s+[A-Z]{1,5})?)",
    re.IGNORECASE,
)


def _parse_date(text: str, notes: list[str]) -> datetime | None:
    cleaned = re.sub(r"\([^()]*\)", " ", text).strip()
    if not cleaned:
        notes.append("empty date after ';'")
        return None
    try:
        when = parsedate_to_datetime(cleaned)
    except (TypeError, ValueError, IndexError, OverflowError):
        notes.append(f"unreadable date {cleaned!r}")
        return None
    if when.tzinfo is None:
        zone = "-0000" if re.search(r"-0000\b", cleaned) else "no time zone"
        notes.append(f"date has {zone}: read as UTC")
        when = when.replace(tzinfo=UTC)
    return when


# --- the reader -------------------------------------------------------------------------


def parse_received(value: str) -> Hop:
    """Read one Received field body (folded or not, without ``Received:``); never raises."""
    raw = unfold(value)
    if raw.lower().startswith("received:"):
        raw = raw[len("received:") :].strip()
    notes: list[str] = []
    if not raw:
        return Hop(raw=raw, notes=("empty Received header",))
    clause_text, date_text = _split_date(raw)
    when: datetime | None = None
    if date_text is None:
        guess = _DATE_GUESS.search(clause_text)
        if guess is not None:
            notes.append("no ';' before the date")
            date_text = guess.group(1)
            clause_text = clause_text[: guess.start()] + clause_text[guess.end() :]
        else:
            notes.append("no date (missing ';')")
    if date_text is not None:
        when = _parse_date(date_text, notes)

    tokens = _tokenise(clause_text, notes)
    clauses = _clauses(tokens, notes)
    comments = tuple(t.text for t in tokens if t.kind == "comment")

    with_body = clauses.get("with", [])
    proto_words: list[str] = []
    for token in with_body:
        if token.kind != "word":
            break
        proto_words.append(token.text)
    from_body = clauses.get("from", [])
    from_name = _first_value(from_body)
    local = bool(proto_words) and proto_words[0].lower() == "local"
    fields = _from_clause(from_name, from_body, local=local)

    by_body = clauses.get("by", [])
    by = _first_value(by_body)
    by_comments = [t.text for t in by_body if t.kind == "comment"]
    by_ip = None
    software = None
    if by_comments:
        by_ip = _ip_literal(by_comments[0].split()[0]) if by_comments[0].split() else None
        if by_ip is None and _tls_from_comment(by_comments[0]) is None:
            software = by_comments[0]
    if software is None:
        software = next((c for c in comments if re.match(r"Exim \d", c)), None)
    if by is None:
        notes.append("no 'by' clause")

    via_words = [t.text for t in clauses.get("via", []) if t.kind == "word"]

    recipient = _first_value(clauses.get("for", []))
    auth = next(
        (c.split(":", 1)[1].strip() for c in comments if c.startswith("Authenticated sender:")),
        None,
    )
    return Hop(
        raw=raw,
        from_name=from_name,
        helo=fields.get("helo"),
        rdns=fields.get("rdns"),
        ip=fields.get("ip"),
        by=_clean_host(by) if by else None,
        by_ip=by_ip,
        software=software,
        protocol_text=" ".join(proto_words) or None,
        via=" ".join(via_words) or None,
        queue_id=_first_value(clauses.get("id", [])),
        recipient=recipient.strip("<>") if recipient else None,
        tls=_find_tls(tokens, with_body),
        auth_sender=auth or None,
        time=when,
        comments=comments,
        notes=tuple(notes),
    )

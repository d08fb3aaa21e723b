"""The restriction engine: Postfix ``generic_checks`` and ``check_table_result``.

A list is read left to right until a restriction answers PERMIT (ends this list only),
REJECT or DEFER (ends every list).  The end of a list is an implicit PERMIT.
``defer_if_permit`` and ``defer_if_reject`` leave a pending 4xx that turns a later
PERMIT or REJECT into a deferral; ``warn_if_reject`` turns the next rejection into a
logged warning.  Replies are built as ``smtpd_check_reject`` builds them: invalid codes
become ``450 4.7.1 Service unavailable``, ``soft_bounce`` turns 5xx into 4xx, and the
first digit of the enhanced status follows the reply code.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from enum import Enum

from sim.policy.addresses import valid_hostname
from sim.policy.matchlists import ListLookupError
from sim.policy.relay import (
    ARG_RESTRICTIONS,
    MODELLED_ACCESS,
    MODELLED_RESTRICTIONS,
    UNMODELLED_RESTRICTIONS,
    ClientFacts,
    Decision,
    DomainStatus,
    RelayPolicy,
    Stage,
    Step,
)
from sim.policy.replies import R250_RCPT_OK, R250_SENDER_OK, R451_CONFIG_ERROR, Reply
from sim.policy.resolve import AddressClass
from sim.policy.tables import Table

__all__ = ["Evaluation"]

_DSN = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")
_DSN_FIX = {  # smtpd_dsn_fix.c: X.1.y (sender, recipient) by y
    "1": ("1.7", "1.1"),
    "2": ("1.8", "1.2"),
    "3": ("1.7", "1.3"),
    "4": ("1.0", "1.4"),
    "5": ("1.0", "1.5"),
    "6": ("1.0", "1.6"),
    "7": ("1.7", "1.3"),
    "8": ("1.8", "1.2"),
}
_EXEMPT_LOCAL = ("postmaster", "mailer-daemon")
_TRANSPORT = {
    AddressClass.LOCAL: "local_transport",
    AddressClass.VIRTUAL_ALIAS: "virtual_transport",
    AddressClass.VIRTUAL_MAILBOX: "virtual_transport",
    AddressClass.RELAY: "relay_transport",
    AddressClass.DEFAULT: "default_transport",
}
_ENGINE_WORDS = MODELLED_RESTRICTIONS | ARG_RESTRICTIONS | UNMODELLED_RESTRICTIONS


class Status(Enum):
    DUNNO = 0
    OK = 1
    REJECT = 2


class _Rejected(Exception):
    """Carries a rejection out of nested evaluation (Postfix uses longjmp)."""


class Evaluation:
    """State of one stage check: pending deferrals, warn flag, the steps for --explain."""

    def __init__(
        self,
        policy: RelayPolicy,
        client: ClientFacts,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        dns: Mapping[str, DomainStatus] | None = None,
        rejected_helo: str | None = None,
    ) -> None:
        self.p = policy
        self.client = client
        # With smtpd_delay_reject = no, a HELO that was refused still leaves its pending
        # defer_if_permit behind for the transaction, as Postfix does.
        self.rejected_helo = rejected_helo
        self.sender = sender
        self.recipient = recipient
        self.dns = {k.lower().rstrip("."): v for k, v in (dns or {}).items()}
        self.defer_if_permit: Reply | None = None
        self.defer_if_permit_by: str | None = None
        self.defer_if_reject: Reply | None = None
        self.warn_if_reject = False
        self.discard = False
        self.steps: list[Step] = []
        self.reply: Reply | None = None
        self.by: str | None = None
        self.permitted_by: str | None = None
        self.current_list = ""
        self.disconnect = False
        self._rcptmap_checked = False

    # -- stages ------------------------------------------------------------------------

    def _run_stage(self, list_name: str, stage: Stage, name: str) -> Status:
        self.warn_if_reject = False
        self.defer_if_reject = None
        try:
            return self._generic(list_name, self.p.lists.get(list_name, []), stage, name, 0)
        except _Rejected:
            return Status.REJECT

    def _client(self) -> Status:
        self.defer_if_permit = None
        return self._run_stage("smtpd_client_restrictions", Stage.CLIENT, self.client.namaddr)

    def _helo(self) -> Status:
        helo = self.client.helo or self.rejected_helo
        if helo is None:  # Postfix skips HELO restrictions without HELO
            return Status.DUNNO
        saved = self.client
        self.client = replace(saved, helo=helo)
        try:
            return self._run_stage("smtpd_helo_restrictions", Stage.HELO, helo)
        finally:
            self.client = saved

    def _sender(self) -> Status:
        if self.sender is None:
            return Status.DUNNO
        status = self._run_stage("smtpd_sender_restrictions", Stage.SENDER, self.sender)
        if (
            status is not Status.REJECT
            and self.sender
            and self.p.flag("smtpd_reject_unlisted_sender")
        ):
            try:
                status = self._unlisted(self.sender, Stage.SENDER)
            except _Rejected:
                status = Status.REJECT
        return status

    def _decision(self, status: Status, accept: Reply) -> Decision:
        if status is Status.REJECT and self.reply is not None:
            return Decision(self.reply, self.by, tuple(self.steps), self.disconnect)
        return Decision(accept, self.permitted_by, tuple(self.steps), discard=self.discard)

    def client_stage(self) -> Decision:
        return self._decision(self._client(), R250_SENDER_OK)

    def helo_stage(self) -> Decision:
        self._client()
        return self._decision(self._helo(), Reply(250, None, self.p.cfg.myhostname))

    def sender_stage(self) -> Decision:
        self._client()
        self._helo()
        return self._decision(self._sender(), R250_SENDER_OK)

    def rcpt_stage(self) -> Decision:
        recipient = self.recipient or ""
        if recipient.lower() == "postmaster":
            self.steps.append(Step("-", "postmaster", "bare postmaster skips all restrictions"))
            return Decision(R250_RCPT_OK, "postmaster", tuple(self.steps))
        if self.p.flag("smtpd_delay_reject"):
            for stage in (self._client, self._helo, self._sender):
                if stage() is Status.REJECT:
                    return self._decision(Status.REJECT, R250_RCPT_OK)
                if self.discard:  # DISCARD accepts the whole message; nothing else is checked
                    return self._decision(Status.OK, R250_RCPT_OK)
        else:
            # Recover the pending defer_if_permit of the earlier stages, as they ran then.
            # no transaction at connect and HELO
            replay = Evaluation(self.p, self.client, rejected_helo=self.rejected_helo)
            replay._client()
            replay._helo()
            replay.sender = self.sender
            replay._sender()
            self.defer_if_permit = replay.defer_if_permit
            self.defer_if_permit_by = replay.defer_if_permit_by
            if replay.discard:  # a DISCARD at MAIL skips every RCPT check of the message
                self.discard = True
                return self._decision(Status.OK, R250_RCPT_OK)
        self.permitted_by = None
        order = ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"]
        if not self.p.flag("smtpd_relay_before_recipient_restrictions"):
            order.reverse()
        self.warn_if_reject = False
        self.defer_if_reject = None
        status = Status.DUNNO
        try:
            for list_name in order:
                status = self._generic(
                    list_name, self.p.lists[list_name], Stage.RECIPIENT, recipient, 0
                )
                if status is Status.REJECT:
                    break
        except _Rejected:
            status = Status.REJECT
        if self.discard and status is not Status.REJECT:
            return self._decision(Status.OK, R250_RCPT_OK)
        if status is not Status.REJECT and self.defer_if_permit is not None:
            self.reply, self.by = self.defer_if_permit, self.defer_if_permit_by
            self.steps.append(
                Step(
                    "(end of RCPT)", self.by or "defer_if_permit", f"pending deferral: {self.reply}"
                )
            )
            status = Status.REJECT
        if (
            status is not Status.REJECT
            and self.p.flag("smtpd_reject_unlisted_recipient")
            and not self.discard
            and not self._rcptmap_checked
        ):
            try:
                status = self._unlisted(recipient, Stage.RECIPIENT, implicit=True)
            except _Rejected:
                status = Status.REJECT
        return self._decision(status, R250_RCPT_OK)

    # -- the list walker ---------------------------------------------------------------

    def _generic(
        self, list_name: str, words: list[str], stage: Stage, name: str, depth: int
    ) -> Status:
        self.current_list = list_name
        i = 0
        while i < len(words):
            word = words[i]
            arg = words[i + 1] if word in ARG_RESTRICTIONS and i + 1 < len(words) else None
            i += 2 if arg is not None else 1
            warn = self.warn_if_reject
            status = self._one(word, arg, stage, name, depth)
            label = word if arg is None else f"{word} {arg}"
            if status is Status.REJECT:
                self.steps.append(Step(list_name, label, str(self.reply)))
                raise _Rejected
            self.steps.append(
                Step(list_name, label, "permit" if status is Status.OK else "no decision")
            )
            if warn:
                self.warn_if_reject = False
            if status is Status.OK:
                self.permitted_by = label
                return status
            if self.defer_if_permit is not None and self.defer_if_reject is not None:
                break
        return Status.DUNNO

    def reject(self, code: int, dsn: str, text: str, by: str) -> Status:
        """Postfix ``smtpd_check_reject``: returns DUNNO under ``warn_if_reject``."""
        if self.warn_if_reject:
            self.steps.append(
                Step(self.current_list, by, f"reject_warning: {self._build(code, dsn, text)}")
            )
            return Status.DUNNO
        if self.defer_if_reject is not None and 500 <= code <= 599:
            reply, by = self.defer_if_reject, "defer_if_reject"
        else:
            reply = self._build(code, dsn, text)
        self.reply, self.by = reply, by
        return Status.REJECT

    def _build(self, code: int, dsn: str, text: str) -> Reply:
        if not 400 <= code <= 599 or not re.match(r"^[245]\.\d{1,3}\.\d{1,3}$", dsn):
            return Reply(450, "4.7.1", "Service unavailable")
        if self.p.flag("soft_bounce") and code >= 500:
            code -= 100
        return Reply(code, f"{str(code)[0]}{dsn[1:]}", text)  # not cut: Postfix 3.7 sends it whole

    def _pending(self, kind: str, code: int, dsn: str, text: str, by: str) -> Status:
        reply = self._build(code, dsn, text)
        if kind == "permit" and self.defer_if_permit is None:
            self.defer_if_permit, self.defer_if_permit_by = reply, by
        elif kind == "reject" and self.defer_if_reject is None:
            self.defer_if_reject = reply
        return Status.DUNNO

    # -- one restriction ---------------------------------------------------------------

    def _one(self, word: str, arg: str | None, stage: Stage, name: str, depth: int) -> Status:
        p, c = self.p, self.client
        prefix = f"<{name}>: {stage.value} rejected"
        if word == "permit":
            return Status.OK
        if word == "reject":
            return self.reject(p.code("reject_code"), "5.7.1", f"{prefix}: Access denied", word)
        if word == "defer":
            return self.reject(p.code("defer_code"), "4.3.2", f"{prefix}: Try again later", word)
        if word == "defer_if_permit":
            return self._pending(
                "permit", 450, "4.7.0", f"{prefix}: defer_if_permit requested", word
            )
        if word == "defer_if_reject":
            return self._pending(
                "reject", 450, "4.7.0", f"{prefix}: defer_if_reject requested", word
            )
        if word == "warn_if_reject":
            self.warn_if_reject = True
            return Status.DUNNO
        if word == "permit_mynetworks":
            try:
                return Status.OK if p.mynetworks.match(c.name, c.ip) else Status.DUNNO
            except ListLookupError:
                self.reply = Reply(451, "4.3.0", f"<{name}>: Temporary lookup failure")
                self.by = word
                return Status.REJECT
        if word == "permit_sasl_authenticated":
            ok = p.flag("smtpd_sasl_auth_enable") and c.sasl_login is not None
            return Status.OK if ok else Status.DUNNO
        if word == "permit_tls_all_clientcerts":
            return Status.OK if c.cert_fingerprint and c.cert_trusted else Status.DUNNO
        if word == "permit_tls_clientcerts":
            fpr = c.cert_fingerprint
            hit = fpr is not None and any(
                t.lookup(fpr) is not None for t in p.maps["relay_clientcerts"]
            )
            return Status.OK if hit else Status.DUNNO
        if word in (
            "reject_unauth_destination",
            "defer_unauth_destination",
            "permit_auth_destination",
        ):
            return self._auth_destination(word)
        if word in ("reject_non_fqdn_sender", "reject_non_fqdn_recipient"):
            return self._non_fqdn(word)
        if word in ("reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname"):
            return self._helo_name(word, fqdn=True)
        if word in ("reject_invalid_helo_hostname", "reject_invalid_hostname"):
            return self._helo_name(word, fqdn=False)
        if word in ("reject_unknown_sender_domain", "reject_unknown_recipient_domain"):
            return self._unknown_domain(word)
        if word in ("reject_unlisted_recipient", "check_recipient_maps"):
            if self.recipient is None:
                return Status.DUNNO
            if not self.warn_if_reject:
                self._rcptmap_checked = True
            return self._unlisted(self.recipient, Stage.RECIPIENT)
        if word == "reject_unlisted_sender":
            return Status.DUNNO if not self.sender else self._unlisted(self.sender, Stage.SENDER)
        if word.endswith("sender_login_mismatch"):
            return self._login_mismatch(word)
        if word == "reject_unauth_pipelining":
            if c.pipelined and c.greeting.upper() != "EHLO":
                text = f"{prefix}: Improper use of SMTP command pipelining"
                return self.reject(503, "5.5.0", text, word)
            return Status.DUNNO
        if word in MODELLED_ACCESS and arg is not None:
            return self._access(word, p.tables.open(arg), depth)
        if word in UNMODELLED_RESTRICTIONS:
            return Status.DUNNO
        if word in p.classes:
            if depth >= 100:
                return self._config_error(word)
            return self._generic(self.current_list, p.lists[word], stage, name, depth + 1)
        if ":" in word:
            default = {
                Stage.CLIENT: "check_client_access",
                Stage.HELO: "check_helo_access",
                Stage.SENDER: "check_sender_access",
                Stage.RECIPIENT: "check_recipient_access",
            }[stage]
            return self._access(default, p.tables.open(word), depth)
        return self._config_error(word)

    def _config_error(self, word: str) -> Status:
        self.reply, self.by = R451_CONFIG_ERROR, word
        return Status.REJECT

    # -- destination and address checks -------------------------------------------------

    def _auth_destination(self, word: str) -> Status:
        if self.recipient is None:
            return Status.DUNNO
        res = self.p.resolve(self.recipient)
        authorized = "@" not in res.recipient or (
            not (res.routed and not self.p.flag("allow_untrusted_routing"))
            and (res.address_class.is_final or res.address_class is AddressClass.RELAY)
        )
        if word == "permit_auth_destination":
            return Status.OK if authorized else Status.DUNNO
        if authorized:
            return Status.DUNNO
        code = self.p.code("relay_domains_reject_code")
        if word == "defer_unauth_destination":
            code, dsn = code - 100, "4.7.1"
        else:
            dsn = "5.7.1"
        return self.reject(code, dsn, f"<{self.recipient}>: Relay access denied", word)

    def _non_fqdn(self, word: str) -> Status:
        is_sender = word.endswith("sender")
        addr = self.sender if is_sender else self.recipient
        if not addr:
            return Status.DUNNO
        domain = addr.rpartition("@")[2] if "@" in addr else ""
        if domain.startswith("["):
            return Status.DUNNO
        domain = _strip_dot(domain)
        if domain and valid_hostname(domain) and "." in domain:
            return Status.DUNNO
        stage = Stage.SENDER if is_sender else Stage.RECIPIENT
        text = f"<{addr}>: {stage.value} rejected: need fully-qualified address"
        return self.reject(self.p.code("non_fqdn_reject_code"), "4.5.2", text, word)

    def _helo_name(self, word: str, *, fqdn: bool) -> Status:
        """``reject_non_fqdn_helo_hostname`` (fqdn) and ``reject_invalid_helo_hostname``."""
        helo = self.client.helo
        if helo is None:
            return Status.DUNNO
        if helo.startswith("["):
            return self._helo_literal(helo, word)
        test = _strip_dot(helo)
        utf8 = self.p.flag("smtputf8_enable")
        if fqdn and valid_hostname(test, allow_utf8=utf8) and "." in test:
            return Status.DUNNO
        if not fqdn and (valid_hostname(test, allow_utf8=False) or _is_ip(test)):
            return Status.DUNNO
        if fqdn:
            text = f"<{helo}>: Helo command rejected: need fully-qualified hostname"
            return self.reject(self.p.code("non_fqdn_reject_code"), "4.5.2", text, word)
        text = f"<{helo}>: Helo command rejected: Invalid name"
        return self.reject(self.p.code("invalid_hostname_reject_code"), "5.5.2", text, word)

    def _helo_literal(self, helo: str, word: str) -> Status:
        inner = helo[1:-1] if len(helo) > 2 and helo.endswith("]") else helo
        ok = (
            _is_ip(inner[5:])
            if inner[:5].lower() == "ipv6:"
            else (_is_ip(inner) and ":" not in inner)
        )
        if ok:
            return Status.DUNNO
        text = f"<{helo}>: Helo command rejected: invalid ip address"
        return self.reject(self.p.code("invalid_hostname_reject_code"), "5.5.2", text, word)

    def _unknown_domain(self, word: str) -> Status:
        is_sender = word == "reject_unknown_sender_domain"
        addr = self.sender if is_sender else self.recipient
        if not addr:
            return Status.DUNNO
        res = self.p.resolve(addr)
        if "@" not in res.recipient or res.address_class.is_final or res.domain.startswith("["):
            return Status.DUNNO
        status = self.dns.get(res.domain, DomainStatus.EXISTS)
        stage = Stage.SENDER if is_sender else Stage.RECIPIENT
        prefix = f"<{addr}>: {stage.value} rejected"
        dsn = "4.1.8" if is_sender else "4.1.2"
        code = self.p.code("unknown_address_reject_code")
        if status is DomainStatus.NULL_MX:
            text = f"{prefix}: Domain {res.domain} does not accept mail (nullMX)"
            return (
                self.reject(550, "4.7.27", text, word)
                if is_sender
                else self.reject(556, "4.1.10", text, word)
            )
        if status is DomainStatus.NXDOMAIN:
            return self.reject(code, dsn, f"{prefix}: Domain not found", word)
        if status is DomainStatus.MALFORMED:
            return self.reject(code, dsn, f"{prefix}: Malformed DNS server reply", word)
        if status is DomainStatus.TEMPFAIL:
            return self._pending("permit", 450, dsn, f"{prefix}: Domain not found", word)
        return Status.DUNNO

    def _base_local(self, local: str) -> str:
        """The local part without its address extension (``recipient_delimiter``)."""
        delims = self.p.cfg.get("recipient_delimiter")
        cut = min((local.find(ch) for ch in delims if ch in local), default=-1)
        return local if cut < 0 else local[:cut]

    def _addr_find(self, tables: list[Table], resolved: str) -> str | None:
        """Postfix ``mail_addr_find``: full, without extension, bare local part, @domain."""
        local, _, domain = resolved.rpartition("@")
        keys = [resolved]
        base = self._base_local(local)
        if base != local:
            keys.append(f"{base}@{domain}")
        if self.p.resolver.is_local(domain) or domain == self.p.cfg.get("myorigin").lower():
            keys += [local, base] if base != local else [local]
        keys.append(f"@{domain}")
        for key in keys:
            for table in tables:
                value = table.lookup(key)
                if value is not None:
                    return value
        return None

    def _unlisted(self, addr: str, stage: Stage, implicit: bool = False) -> Status:
        res = self.p.resolve(addr)
        word = "reject_unlisted_recipient" if stage is Stage.RECIPIENT else "reject_unlisted_sender"
        if implicit:
            word = "reject_unlisted_recipient (implicit)"
        if self._addr_find(self.p.maps["virtual_alias_maps"], res.recipient) is not None:
            return Status.DUNNO
        detail = "5.1.0" if stage is Stage.SENDER else "5.1.1"
        show = self.p.flag("show_user_unknown_table_name")
        prefix = f"<{addr}>: {stage.value} rejected: User unknown"

        def unknown(param: str, table: str, dsn: str = detail) -> Status:
            text = prefix + (f" in {table} table" if show else "")
            return self.reject(self.p.code(param), dsn, text, word)

        klass = res.address_class
        if klass is AddressClass.VIRTUAL_ALIAS:
            # Postfix resolves these to the error transport with "5.1.1 User unknown ...".
            return unknown(
                "unknown_virtual_alias_reject_code", "virtual alias", _dsn_fix("5.1.1", stage)
            )
        transport, _, nexthop = self.p.cfg.get(_TRANSPORT[klass]).strip().partition(":")
        if transport == "error":
            # Mail that would go to the error transport is refused at RCPT already.
            m = _DSN.match(nexthop)
            dsn = _dsn_fix(m.group(0).strip(), stage) if m else detail
            text = (nexthop[m.end() :] if m else nexthop) or res.domain
            return self.reject(550, dsn, f"<{addr}>: {stage.value} rejected: {text}", word)
        if klass is AddressClass.LOCAL:
            maps = self.p.maps["local_recipient_maps"]
            lp = res.local_part.lower()
            exempt = lp in _EXEMPT_LOCAL or lp == self.p.cfg.get("double_bounce_sender").lower()
            listed = exempt or self._addr_find(maps, res.recipient) is not None
            if self.p.cfg.get("local_recipient_maps").strip() and not listed:
                return unknown("unknown_local_recipient_reject_code", "local recipient")
        elif klass is AddressClass.VIRTUAL_MAILBOX:
            maps = self.p.maps["virtual_mailbox_maps"]
            if maps and self._addr_find(maps, res.recipient) is None:
                return unknown("unknown_virtual_mailbox_reject_code", "virtual mailbox")
        elif klass is AddressClass.RELAY:
            maps = self.p.maps["relay_recipient_maps"]
            if maps and self._addr_find(maps, res.recipient) is None:
                return unknown("unknown_relay_recipient_reject_code", "relay recipient")
        return Status.DUNNO

    def _login_mismatch(self, word: str) -> Status:
        if not self.p.flag("smtpd_sasl_auth_enable") or not self.sender:
            return Status.DUNNO
        maps = self.p.maps["smtpd_sender_login_maps"]
        if not maps:
            return Status.DUNNO
        login = self.client.sasl_login
        owners = self._addr_find(maps, self.p.resolve(self.sender).recipient)
        prefix = f"<{self.sender}>: Sender address rejected"
        check_auth = word in (
            "reject_sender_login_mismatch",
            "reject_authenticated_sender_login_mismatch",
        )
        check_unauth = word in (
            "reject_sender_login_mismatch",
            "reject_unauthenticated_sender_login_mismatch",
        )
        if word == "reject_known_sender_login_mismatch":
            check_auth = login is not None and owners is not None
            check_unauth = login is None
        if login is not None and check_auth:
            names = [n.lower() for n in re.split(r"[,\s]+", owners or "") if n]
            if login.lower() not in names:
                return self.reject(553, "5.7.1", f"{prefix}: not owned by user {login}", word)
        if login is None and check_unauth and owners is not None:
            return self.reject(553, "5.7.1", f"{prefix}: not logged in", word)
        return Status.DUNNO

    # -- access tables -------------------------------------------------------------------

    def _access(self, word: str, table: Table, depth: int) -> Status:
        c = self.client
        if word in ("check_client_access", "check_reverse_client_hostname_access"):
            keys = _domain_keys(c.name, self.p.cfg.parent_matches("smtpd_access_maps"))
            keys += _addr_keys(str(c.ip)) if c.ip is not None else []
            return self._table(table, keys, c.namaddr, Stage.CLIENT, word, depth)
        if word == "check_helo_access":
            if c.helo is None:
                return Status.DUNNO
            keys = _domain_keys(c.helo, self.p.cfg.parent_matches("smtpd_access_maps"))
            return self._table(table, keys, c.helo, Stage.HELO, word, depth)
        if word == "check_sasl_access":
            if c.sasl_login is None:
                return Status.DUNNO
            return self._table(
                table, [(c.sasl_login, False)], c.sasl_login, Stage.SASL, word, depth
            )
        if word == "check_ccert_access":
            if c.cert_fingerprint is None:
                return Status.DUNNO
            keys = [(c.cert_fingerprint, False)]
            return self._table(table, keys, c.cert_fingerprint, Stage.CCERT, word, depth)
        is_sender = word == "check_sender_access"
        addr = self.sender if is_sender else self.recipient
        if addr is None:
            return Status.DUNNO
        stage = Stage.SENDER if is_sender else Stage.RECIPIENT
        if addr == "":
            key = self.p.cfg.get("smtpd_null_access_lookup_key")
            return self._table(table, [(key, False)], addr, stage, word, depth)
        res = self.p.resolve(addr)
        status = self._table(table, self._mail_keys(res.recipient), addr, stage, word, depth)
        if (
            status is Status.OK
            and not is_sender
            and res.routed
            and not self.p.flag("allow_untrusted_routing")
        ):
            return Status.DUNNO
        return status

    def _mail_keys(self, resolved: str) -> list[tuple[str, bool]]:
        local, _, domain = resolved.rpartition("@")
        keys = [(resolved, False)]
        base = self._base_local(local)
        if base != local:
            keys.append((f"{base}@{domain}", True))
        parent = self.p.cfg.parent_matches("smtpd_access_maps")
        keys += [(k, True) for k, _ in _domain_keys(domain, parent)]
        keys.append((f"{local}@", True))
        if base != local:
            keys.append((f"{base}@", True))
        return keys

    def _table(
        self,
        table: Table,
        keys: list[tuple[str, bool]],
        name: str,
        stage: Stage,
        word: str,
        depth: int,
    ) -> Status:
        for key, partial in keys:
            value = table.lookup(key, partial=partial)
            if value is not None:
                self.steps.append(
                    Step(self.current_list, f"{word} {table.ref}", f"{key} -> {value}")
                )
                return self._table_result(value, name, stage, f"{word} {table.ref}", depth)
        return Status.DUNNO

    def _table_result(self, value: str, name: str, stage: Stage, by: str, depth: int) -> Status:
        """Postfix ``check_table_result``: the right-hand side of an access table."""
        cmd, _, text = value.strip().partition(" ")
        text = text.strip()
        upper = cmd.upper()
        prefix = f"<{name}>: {stage.value} rejected"

        def dsn_text(default: str, fallback: str) -> tuple[str, str]:
            m = _DSN.match(text)
            if m:
                dsn, rest = m.group(0).strip(), text[m.end() :]
            else:
                dsn, rest = default, text
            return _dsn_fix(dsn, stage), f"{prefix}: {rest or fallback}"

        if upper == "DUNNO":
            return Status.DUNNO
        if upper in ("REJECT", "DEFER"):
            param = "access_map_reject_code" if upper == "REJECT" else "access_map_defer_code"
            dsn, msg = dsn_text("5.7.1" if upper == "REJECT" else "4.7.1", "Access denied")
            return self.reject(self.p.code(param), dsn, msg, by)
        if upper in ("INFO", "WARN", "HOLD", "FILTER", "REDIRECT", "BCC", "PREPEND", "HANGUP"):
            return Status.DUNNO
        if upper == "DISCARD":
            if self.sender is None:  # no mail transaction yet: Postfix ignores it
                return Status.DUNNO
            self.discard = True
            return Status.OK
        if upper in ("DEFER_IF_PERMIT", "DEFER_IF_REJECT"):
            dsn, msg = dsn_text("4.7.1", "Service unavailable")
            kind = "permit" if upper == "DEFER_IF_PERMIT" else "reject"
            return self._pending(kind, self.p.code("access_map_defer_code"), dsn, msg, by)
        if value.strip().isdigit():
            return Status.OK
        if len(cmd) == 3 and cmd.isdigit() and cmd[0] in "45" and text:
            dsn, msg = dsn_text(f"{cmd[0]}.7.1", "Access denied")
            if cmd in ("421", "521"):
                self.disconnect = True
            return self.reject(int(cmd), dsn, msg, by)
        if upper in ("OK", "RELAY"):
            return Status.OK
        if ":" in value or depth >= 100:
            return self._config_error(by)
        words = [w for w in re.split(r"[,\s]+", value) if w]
        for i, w in enumerate(words):
            lower = w.lower()
            known = w in self.p.classes or lower in _ENGINE_WORDS
            if not known and not (i > 0 and words[i - 1].lower() in ARG_RESTRICTIONS):
                return self._config_error(by)
            if w not in self.p.classes:
                words[i] = lower
        return self._generic(self.current_list, words, stage, name, depth + 1)


def _dsn_fix(dsn: str, stage: Stage) -> str:
    """Postfix ``smtpd_dsn_fix``: address DSNs follow what is being rejected."""
    if dsn[1:4] != ".1.":
        return dsn
    if stage is Stage.SENDER:
        return f"{dsn[0]}.{_DSN_FIX.get(dsn[4:], ('1.0', '1.0'))[0]}"
    if stage is Stage.RECIPIENT:
        return f"{dsn[0]}.{_DSN_FIX.get(dsn[4:], ('1.0', '1.0'))[1]}"
    return f"{dsn[0]}.0.0"


def _domain_keys(name: str | None, parent_style: bool) -> list[tuple[str, bool]]:
    """A host or domain name and its parent domains (``b.c``/``c`` or ``.b.c``/``.c``)."""
    if not name or name == "unknown":
        return []
    keys = [(name, False)]
    if _is_ip(name):
        return keys
    rest = name
    while "." in rest[1:]:
        rest = rest[rest.index(".", 1) :]
        keys.append((rest[1:] if parent_style else rest, True))
    return keys


def _addr_keys(addr: str) -> list[tuple[str, bool]]:
    """An IP address and its truncations: ``1.2.3.4``, ``1.2.3``, ``1.2``, ``1``."""
    delim = ":" if ":" in addr else "."
    keys = [(addr, False)]
    while delim in addr:
        addr = addr.rsplit(delim, 1)[0]
        if addr:
            keys.append((addr, True))
    return keys


def _strip_dot(name: str) -> str:
    """Drop one trailing dot, but not from ``..`` (Postfix leaves bogus names alone)."""
    return name[:-1] if name.endswith(".") and not name.endswith("..") else name


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

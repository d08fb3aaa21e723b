#!/usr/bin/env python3
"""Write configs/<name>/cases.jsonl: a common battery plus per-configuration extras.

Common battery, for every configuration:
* every client in CLIENTS x every recipient form in RCPTS (chunked, CHUNK per case);
* every sender form in SENDERS from three clients (outsider, insider, SASL alice),
  each followed by a few recipients.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 16

CLIENTS = {
    "out4": {"client": "198.51.100.7"},
    "out6": {"client": "2001:db8::25"},
    "in4": {"client": "10.1.2.3"},
    "in6": {"client": "::1"},
    "auth": {"client": "198.51.100.7", "sasl": "alice"},
}

RCPTS = [
    # local and remote, case, dots, subdomains, look-alikes
    "user@example.com", "USER@EXAMPLE.COM", "user@Mail.Example.Com", "user@localhost",
    "user@example.com.", "user@example.com..", "user@sub.example.com", "user@notexample.com",
    "user@example.com.victim.com", "user@victim.com", "USER@VICTIM.COM", "user@victim.com.",
    "user@sub.victim.com", "user@example.org", "user@intranet",
    # relay-domain style (inbound_mx)
    "user@backup.example.net", "user@sub.backup.example.net", "user@partner.example",
    "user@deep.sub.partner.example", "user@notpartner.example",
    # percent hack
    "user%victim.com@example.com", "user%example.com@example.com", "user%victim.com",
    "user%victim.com@backup.example.net", "user%backup.example.net@example.org",
    # bang paths
    "victim.com!user@example.com", "example.com!user", "victim.com!user",
    "victim.com!user@backup.example.net", "backup.example.net!user@example.org",
    # quoted local parts
    '"user@victim.com"@example.com', '"user"@example.com', '"us er"@example.com',
    '"user@victim.com"', '"user%victim.com"', '"user@victim.com"@backup.example.net',
    # double @
    "user@victim.com@example.com", "user@example.com@victim.com", "user@victim.com@backup.example.net",
    # source routes
    "@example.com:user@victim.com", "@victim.com:user@example.com",
    "@a.example,@b.example:user@example.com",
    # IP literals and numeric domains
    "user@[127.0.0.1]", "user@[10.20.30.40]", "user@[203.0.113.25]", "user@[300.1.2.3]",
    "user@[127.0.0.1", "user@[IPv6:::1]", "user@[IPv6:2001:db8::1]", "user@127.0.0.1",
    # empty parts
    "@example.com", '""@example.com', "user@", "@", "<>",
    # bare local parts and special users
    "user", "postmaster", "POSTMASTER", "Postmaster", "postmaster@example.com",
    "postmaster@victim.com", "MAILER-DAEMON@example.com", "double-bounce@example.com",
    "postmaster+x@example.com", "postmaster@backup.example.net",
    # tables / validation
    "blocked@example.com", "BLOCKED@EXAMPLE.COM", "blocked@example.com.", "blocked+tag@example.com",
    "alice@example.com", "alice+tag@example.com", "nobody@example.com", "root@example.com",
    "info@example.com", "alias@valias.example.com", "x@catch.valias.example.com",
    "nope@valias.example.com", "alice@vmail.example.com", "nope@vmail.example.com",
    "abuse@example.com", "remote-ok@victim.com", "user@host.example.net", "nobody@localhost",
    # UTF-8
    "üser@example.com", "user@bücher.example", "user@xn--bcher-kva.example",
    # bracket / phrase / parameter forms (sent as typed)
    "<user@example.com>", "<<user@example.com>>", " <user@example.com>", "<user@example.com",
    "User Name <user@example.com>", "<user@example.com> NOTIFY=NEVER",
    "<user@example.com> ORCPT=rfc822;user@example.com", "<user@example.com> FOO=bar",
    "<user@victim.com> NOTIFY=SUCCESS,FAILURE",
]

SENDERS = [
    ("", ""), ("sender", ""), ("sender@localhost", ""), ("sender@intranet", ""),
    ("sender@[198.51.100.7]", ""), ("sender@bad_host.example", ""), ("sender@-bad.example", ""),
    ("sender@bad..example", ""), ("sender@", ""), ("<sender@example.net", ""),
    ("sender@bücher.example", ""), ("sender@bücher.example", "SMTPUTF8"),
    ("üser@example.net", ""), ("a@example.net", "SMTPUTF8"), ("victim.com!sender", ""),
    ("sender%victim.com@example.net", ""), ("@relay.example:sender@example.net", ""),
    ("SENDER@EXAMPLE.NET", ""), ("sender@example.net.", ""),
    ("a@example.net", "SIZE=1000"), ("a@example.net", "SIZE=999999999"),
    ("a@example.net", "SIZE=abc"), ("a@example.net", "BODY=8BITMIME"),
    ("a@example.net", "BODY=7BIT"), ("a@example.net", "BODY=BINARYMIME"),
    ("a@example.net", "RET=HDRS ENVID=abc123"), ("a@example.net", "RET=FULL"),
    ("a@example.net", "RET=BOGUS"), ("a@example.net", "NOTIFY=SUCCESS"),
    ("a@example.net", "FOO=bar"), ("a@example.net", "AUTH=<>"),
    ("User Name <a@example.net>", ""), ("<a@example.net>", ""),
    ("alice@example.com", ""), ("nobody@example.com", ""), ("info@example.com", ""),
]
SENDER_CLIENTS = ("out4", "in4", "auth")
SENDER_RCPTS = ["user@example.com", "user@victim.com", "postmaster", "postmaster@example.com"]

ACCESS_SENDERS = [
    "ok@example.net", "reject@example.net", "rejtext@example.net", "rejdsn@example.net",
    "defer@example.net", "defertext@example.net", "dip@example.net", "dir@example.net",
    "dunno@example.net", "discard@example.net", "hold@example.net", "redirect@example.net",
    "warn@example.net", "prepend@example.net", "info@example.net", "c550@example.net",
    "c451@example.net", "c553@example.net", "c452@example.net", "c550dsn4@example.net",
    "bare550@example.net", "c650@example.net", "frob@example.net", "go421@example.net",
    "class@example.net", "inline@example.net", "nobody@localhost", "x@host.spam.example",
    "vip@partner.example", "OK@EXAMPLE.NET", "",
]
ACCESS_RCPTS = ["user@example.com", "user@victim.com", "remote-ok@victim.com", "postmaster",
                "postmaster@example.com", "blocked@example.com", "dip@example.com",
                "dir@example.com", "defer@example.com", "dsn@example.com",
                "user@host.example.net", "sender"]
ACCESS_CLIENTS = [
    {"client": "203.0.113.9"}, {"client": "198.51.100.66"}, {"client": "198.51.100.88"},
    {"client": "198.51.100.77"}, {"client": "198.51.100.99"}, {"client": "198.51.100.55"},
    {"client": "198.51.101.9"}, {"client": "2001:db8:bad::1"}, {"client": "2001:db8:beef::7"},
    {"client": "2001:db8:dead::9"}, {"client": "198.51.100.50", "client_name": "host.spammy.example"},
    {"client": "198.51.100.51", "client_name": "spammy.example"},
]
ACCESS_HELOS = ["friendly.example", "evil.example", "sub.example.com", "example.com",
                "tempfail.example", "EVIL.EXAMPLE"]

HELOS = ["bad_helo!", "localhost", "intranet", "[198.51.100.7]", "[1.2.3.4", "[300.1.2.3]",
         "client.example.net", "a..b", "-bad.example", "host.example.", "123.45.67.89",
         "bücher.example", "x"]


def case(client: dict, sender: str, rcpts: list[str], params: str = "", helo="client.example.net",
         greeting="EHLO") -> dict:
    c = {"client": client["client"], "client_name": client.get("client_name"), "helo": helo,
         "greeting": greeting, "sasl": client.get("sasl"), "from": sender, "rcpt": rcpts,
         "mail_params": params}
    return c


def common() -> list[dict]:
    out = []
    for cl in CLIENTS.values():
        for i in range(0, len(RCPTS), CHUNK):
            out.append(case(cl, "a@example.net", RCPTS[i:i + CHUNK]))
    for name in SENDER_CLIENTS:
        for sender, params in SENDERS:
            out.append(case(CLIENTS[name], sender, SENDER_RCPTS, params))
    return out


def access_extras() -> list[dict]:
    out = []
    for name in ("out4", "in4", "auth"):
        for s in ACCESS_SENDERS:
            out.append(case(CLIENTS[name], s, ACCESS_RCPTS))
    for cl in ACCESS_CLIENTS:
        out.append(case(cl, "a@example.net", ACCESS_RCPTS))
        out.append(case({**cl, "sasl": "alice"}, "a@example.net", ["user@victim.com", "postmaster"]))
    for h in ACCESS_HELOS:
        for name in ("out4", "in4"):
            out.append(case(CLIENTS[name], "a@example.net", ACCESS_RCPTS, helo=h))
    for name in ("out4", "in4"):  # no HELO at all
        out.append(case(CLIENTS[name], "a@example.net", ACCESS_RCPTS, helo=None))
    return out


def helo_extras() -> list[dict]:
    out = []
    for name in ("out4", "in4", "auth"):
        for h in HELOS:
            for g in ("EHLO", "HELO"):
                out.append(case(CLIENTS[name], "a@example.net", ["user@example.com", "postmaster"],
                                helo=h, greeting=g))
        out.append(case(CLIENTS[name], "a@example.net", ["user@example.com", "postmaster"], helo=None))
    return out


EXTRA = {
    "access_tables": access_extras,
    "immediate_reject": access_extras,
    "soft_bounce": access_extras,
    "helo_checks": helo_extras,
    "helo_immediate": helo_extras,
    "classic": helo_extras,
    "mynetworks_patterns": lambda: [
        case({"client": ip}, "a@example.net", ["user@example.com", "user@victim.com"])
        for ip in ("172.16.6.9", "10.9.1.1", "10.8.1.1", "192.0.2.7", "2001:db8:1::5",
                   "2001:db8:2::5", "::ffff:10.1.2.3", "0:0:0:0:0:0:0:1", "::ffff:10.9.1.1")],
    "mynetworks_bad_mask": lambda: [
        case({"client": ip}, "a@example.net", ["user@example.com", "user@victim.com"])
        for ip in ("192.168.1.7", "127.0.0.2", "10.5.5.5", "2001:db8::9")],
    "conditional": lambda: [
        case(CLIENTS[n], s, ["user+tag@example.com", "blocked+x@example.com", "alice+a+b@example.com",
                             "user@sub.partner.example", "user@partner.example", "user@sub.victim.com",
                             "user+tag@victim.com", "+tag@example.com", "user@backup.example.net"])
        for n in ("out4", "in4", "auth")
        for s in ("a@example.net", "", "x@spam.example.net", "x@sub.example.org", "x@example.org",
                  "sender", "nobody@example.com", "nobody+tag@example.com")],
    "sender_login": lambda: [
        case(cl, s, ["user@example.com", "user@victim.com"])
        for cl in (CLIENTS["out4"], CLIENTS["in4"], CLIENTS["auth"],
                   {"client": "198.51.100.7", "sasl": "bob"},
                   {"client": "198.51.100.7", "sasl": "anonymous"})
        for s in ("alice@example.com", "ALICE@EXAMPLE.COM", "bob@example.com", "shared@example.com",
                  "x@team.example", "stranger@outside.example", "", "alice")],
}


# ===================================================================== fuzzer
# A seeded, deterministic grammar fuzzer for recipient and sender forms.  Only the
# configurations in FUZZ get it, so the older configurations keep their cases.

import random
import zlib

F_LOCALS_PLAIN = ["user", "alice", "bob", "blocked", "postmaster", "Postmaster", "abuse",
                  "root", "nobody", "info", "a", "r", "m", "v", "s", "t", "bounce",
                  "MAILER-DAEMON", "double-bounce", "first.last", "x_y", "rok", "rrej", "rdip",
                  "rdir", "late", "open", "nested", "deny", "maybe", "inner", "warned",
                  "w-reject", "w-defer", "w-dip", "w-dir", "w-nonfqdn", "w-unlisted", "w-unauth",
                  "w-helo", "t-reject", "t-rejtext", "t-rejdsn", "t-defer", "t-defertext",
                  "t-550", "t-554", "t-521", "t-421", "t-450", "t-dip", "static-rej",
                  "static-ok", "rxok", "RXCASE", "exact", "EXACT", "carol", "dave"]
F_EXT = ["+tag", "+", "++", "+a+b", "-x", "-", "+-x", "-+x", "+spam", "-spam", "+ok", "-list",
         "+y"]
F_QUOTED = ['"us er"', '"a@victim.com"', '"a%victim.com"', '"victim.com!a"', '"a\\\\b"',
            '"a\\"b"', '""', '"user"', '"@"', '"a b@c"', '"alice"', '" "', '"x\\ y"', '"bl ocked"']
F_UTF8 = ["üser", "用户", "ålice", "δοκιμή"]
F_DOMAINS = [
    "example.com", "EXAMPLE.COM", "mail.example.com", "localhost", "sub.example.com",
    "partner.example", "sub.partner.example", "deep.sub.partner.example", "backup.example.net",
    "victim.com", "sub.victim.com", "example.org", "example.net", "valias.example.com",
    "vmail.example.com", "valias.example", "vmail.example", "both.example", "loc-alias.example",
    "tbl.example", "sub.tbl.example", "dottbl.example", "sub.dottbl.example", "exact.example",
    "sub.exact.example", "dotonly.example", "sub.dotonly.example", "bad.example",
    "sub.bad.example", "onlyexact.example", "sub.onlyexact.example", "onlysub.example",
    "x.onlysub.example", "hashdest.example", "sub.hashdest.example", "dothashdest.example",
    "a.dothashdest.example", "filedest.example", "a.filedest.example", "dotfiledest.example",
    "b.dotfiledest.example", "upper.filedest.example", "comma.example",
    "negated.filedest.example", "dotpartner.example", "x.dotpartner.example",
    "filerelay.example", "s.filerelay.example", "dotfilerelay.example", "y.dotfilerelay.example",
    "indented.example", "not.filerelay.example", "filerelay2.example", "filerelay3.example",
    "rx1.example", "rx.example", "a.rxsub.example", "rxsub.example", "null.example",
    "example.com.", "example.com..", "victim.com.", ".example.com", "example..com",
    "[127.0.0.1]", "[10.20.30.40]", "[203.0.113.25]", "[300.1.2.3]", "[1.2.3]",
    "[127.0.0.1", "127.0.0.1]", "[IPv6:::1]", "[ipv6:::1]", "[IPv6:2001:db8::1]", "[IPv6:zz]",
    "[::1]", "[IPv6:::ffff:127.0.0.1]", "[ 127.0.0.1 ]", "127.0.0.1", "10.20.30.40", "::1",
    "[[127.0.0.1]]", "[]", "[example.com]",
    "bad_host.example", "_dmarc.example.com", "-bad.example", "bad-.example", "ok-.victim.com",
    "xn--bcher-kva.example", "bücher.example", "例え.jp", "EXAMPLE.com",
    "a" * 63 + ".example.com", "a" * 64 + ".example.com", "a" * 64 + ".victim.com",
]


def _long_name(rng: random.Random, total: int, suffix: str) -> str:
    labels = []
    while len(".".join(labels + [suffix])) < total:
        labels.append("".join(rng.choice("abcdefghij") for _ in range(rng.randint(10, 60))))
    name = ".".join(labels + [suffix])
    # trim the first label to get the exact length
    over = len(name) - total
    if over > 0 and len(labels[0]) > over:
        labels[0] = labels[0][over:]
    return ".".join(labels + [suffix])


def f_local(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        lp = rng.choice(F_LOCALS_PLAIN)
        if rng.random() < 0.35:
            lp += rng.choice(F_EXT)
        return lp
    if r < 0.65:
        return rng.choice(F_QUOTED)
    if r < 0.72:
        return ""
    if r < 0.82:
        return "".join(rng.choice("abcxyz019.-_") for _ in range(rng.randint(65, 80))).strip(".") or "x"
    if r < 0.9:
        return rng.choice(F_UTF8)
    return rng.choice(["a.b", ".a", "a.", "a..b", "a b", "a\\@b", "a\\ b", "a(b)", "a,b", "a;b",
                       "a[b]", "a:b", "a\\b", "#x", "!x"])


def f_domain(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.85:
        return rng.choice(F_DOMAINS)
    if r < 0.9:
        return _long_name(rng, rng.choice([253, 254, 255, 256]), "example.com")
    if r < 0.95:
        return _long_name(rng, rng.choice([254, 256]), "victim.com")
    return rng.choice(F_DOMAINS).upper() + rng.choice(["", ".", ".."])


def f_address(rng: random.Random, depth: int = 0) -> str:
    """local@domain with %, !, @ nesting (up to 3 levels) and source routes."""
    lp = f_local(rng)
    r = rng.random()
    nest = depth < 3 and rng.random() < 0.45
    if nest:
        op = rng.choice(["%", "!", "@", "%%", "!!", "quoted@"])
        d1, d2 = f_domain(rng), f_domain(rng)
        if op == "%":
            inner = f"{lp}%{d1}"
        elif op == "%%":
            inner = f"{lp}%{d1}%{f_domain(rng)}"
        elif op == "!":
            inner = f"{d1}!{lp}"
        elif op == "!!":
            inner = f"{d1}!{f_domain(rng)}!{lp}"
        elif op == "@":
            inner = f"{lp}@{d1}"
        else:
            inner = '"' + f"{lp}@{d1}".replace('"', "") + '"'
        if depth + 1 < 3 and rng.random() < 0.3:
            inner = f_address_wrap_local(rng, inner)
        addr = inner if rng.random() < 0.2 else f"{inner}@{d2}"
    elif r < 0.08:
        addr = lp  # bare local part
    else:
        addr = f"{lp}@{f_domain(rng)}"
    if rng.random() < 0.1:
        route = ",".join("@" + f_domain(rng) for _ in range(rng.randint(1, 3)))
        addr = f"{route}:{addr}"
    return addr


def f_address_wrap_local(rng: random.Random, inner: str) -> str:
    return rng.choice([f"{inner}%{f_domain(rng)}", f"{f_domain(rng)}!{inner}"])


F_RCPT_PARAMS = ["NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=BOGUS",
                 "NOTIFY=NEVER,SUCCESS", "notify=never", "NOTIFY=", "NOTIFY=NEVER NOTIFY=NEVER",
                 "ORCPT=rfc822;user@example.com", "ORCPT=bogus", "ORCPT=rfc822;x+2By@z.example",
                 "orcpt=RFC822;a@b.example", "ORCPT=rfc822;", "ORCPT=utf-8;a\\x{E9}@b.example",
                 "FOO=bar", "FOO", "SIZE=10", "BODY=8BITMIME", "RET=HDRS", "SMTPUTF8",
                 "AUTH=<>", "ENVID=x", "=x", "NOTIFY=SUCCESS ORCPT=rfc822;a@b.example"]
F_MAIL_PARAMS = ["SIZE=1000", "SIZE=0", "SIZE=", "SIZE=-1", "SIZE=99999999999999999999",
                 "SIZE=10240001", "SIZE=10240000", "size=1000", "SIZE=1e3", "SIZE=1000 SIZE=2000",
                 "BODY=8BITMIME", "BODY=7bit", "BODY=BINARYMIME", "BODY=bogus", "body=8bitmime",
                 "BODY=8BITMIME BODY=7BIT", "RET=HDRS", "RET=FULL", "RET=bogus", "ret=full",
                 "RET=HDRS RET=FULL", "ENVID=abc", "ENVID=a+2Bb", "ENVID=", "ENVID=" + "e" * 101,
                 "ENVID=a+ZZb", "ENVID=x ENVID=y", "NOTIFY=NEVER", "ORCPT=rfc822;a@b.example",
                 "SMTPUTF8", "SMTPUTF8=yes", "smtputf8", "SMTPUTF8 SMTPUTF8", "AUTH=<>",
                 "AUTH=alice@example.com", "AUTH=bogus+", "AUTH=<> AUTH=<>", "FOO=bar", "FOO",
                 "XYZ", "=", "SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=q SMTPUTF8 AUTH=<>",
                 "BODY=8BITMIME SMTPUTF8", "TRANSID=x", "MT-PRIORITY=3", "REQUIRETLS",
                 "HOLDFOR=10", "BY=100;R"]


def f_wrap(rng: random.Random, addr: str, params: list[str]) -> str:
    """Brackets / phrases / comments / parameters around an address."""
    r = rng.random()
    if r < 0.5:
        form = addr  # run.py wraps it in <> (when it holds no '<')
    elif r < 0.6:
        form = f"<{addr}>"
    elif r < 0.65:
        form = f"<<{addr}>>"
    elif r < 0.68:
        form = f"<{addr}"
    elif r < 0.71:
        form = f"{addr}>"
    elif r < 0.76:
        form = f'"Name" <{addr}>'
    elif r < 0.8:
        form = f"Name Here <{addr}>"
    elif r < 0.85:
        form = f"(comment) {addr}"
    elif r < 0.88:
        form = f"<{addr}> (comment)"
    elif r < 0.91:
        form = f" <{addr}>"
    elif r < 0.94:
        form = f"<(comment){addr}>"
    elif r < 0.97:
        form = f"<{addr} >"
    else:
        form = f"< {addr}>"
    if rng.random() < 0.25:
        ps = " ".join(rng.choice(params) for _ in range(rng.randint(1, 2)))
        if "<" not in form:
            form = f"<{form}>"
        form = f"{form} {ps}"
    return form


def fuzz_recipients(rng: random.Random, n: int) -> list[str]:
    return [f_wrap(rng, f_address(rng), F_RCPT_PARAMS) for _ in range(n)]


def fuzz_senders(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            sender = rng.choice(["", "<>", "<<>>", "<> ", "< >"])
        else:
            sender = f_wrap(rng, f_address(rng), F_MAIL_PARAMS)
        params = ""
        if rng.random() < 0.45:
            params = " ".join(rng.choice(F_MAIL_PARAMS) for _ in range(rng.randint(1, 3)))
        if params and "<" not in sender and sender:
            sender = f"<{sender}>"
        out.append((sender, params))
    return out


F_HELOS = ["client.example.net", "localhost", "intranet", "[198.51.100.7]", "[IPv6:2001:db8::25]",
           "[1.2.3.4", "[300.1.2.3]", "a..b", "-bad.example", "host.example.", "host.example..",
           "123.45.67.89", "bücher.example", "x", "evil.example", "EVIL.EXAMPLE", "dip.example",
           "sub.evil.example", "bad_helo.example", "[127.0.0.1]", "[ipv6:::1]", "[::1]", "1.2.3",
           "a" * 64 + ".example", "a" * 63 + ".example", ".example.com", "host.123",
           "helo with space", "[]", "dip-permit.example", "dir-reject.example",
           "dip-reject.example", "dir-permit.example", "dip.example", "dir.example",
           "reject.example", "defer.example", "tdip.example", "tdir.example",
           "bad.example", "sub.bad.example", "onlyexact.example", "sub.onlyexact.example",
           "onlysub.example", "x.onlysub.example", "mixed.case.example", "Mixed.Case.Example",
           "dotted.example", "a.dotted.example"]

FUZZ_CLIENTS = [CLIENTS["out4"], CLIENTS["in4"], CLIENTS["auth"], CLIENTS["out6"]]


def fuzz_cases(name: str, n_rcpt: int = 320, n_send: int = 120) -> list[dict]:
    rng = random.Random(zlib.crc32(name.encode()))
    out = []
    rcpts = fuzz_recipients(rng, n_rcpt)
    for cl in FUZZ_CLIENTS[:3]:
        for i in range(0, len(rcpts), CHUNK):
            out.append(case(cl, "a@example.net", rcpts[i:i + CHUNK]))
    for k, (s, params) in enumerate(fuzz_senders(rng, n_send)):
        cl = FUZZ_CLIENTS[k % len(FUZZ_CLIENTS)]
        out.append(case(cl, s, ["user@example.com", "user@victim.com", rcpts[k % len(rcpts)]],
                        params))
    # fuzzed HELO names and greetings
    for k in range(40):
        cl = FUZZ_CLIENTS[k % 2]
        h = rng.choice(F_HELOS + [None])
        g = rng.choice(["EHLO", "HELO", "ehlo", "helo"])
        params = rng.choice(["", "", "SIZE=100", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS"])
        out.append(case(cl, rng.choice(["a@example.net", "", "sender"]),
                        ["user@example.com", "user@victim.com", "postmaster"], params,
                        helo=h, greeting=g))
    return out


# ============================================================ new configurations

def _cross(clients, senders, rcpts, helos=("client.example.net",), greet=("EHLO",)):
    return [case(cl, s, rcpts, helo=h, greeting=g)
            for cl in clients for s in senders for h in helos for g in greet]


DL_CLIENTS = [{"client": f"198.51.100.{i}"} for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)] \
    + [{"client": "10.9.9.9"}, {"client": "10.1.2.3"}]
DL_HELOS = ["client.example.net", "dip-permit.example", "dir-reject.example", "dip-reject.example",
            "dir-permit.example", "dip.example", "dir.example", "reject.example", "defer.example",
            "tdip.example", "tdir.example", None]
DL_SENDERS = ["a@example.net", "dip-permit@example.net", "dir-reject@example.net",
              "dip-reject@example.net", "dir-permit@example.net", "dip@example.net",
              "dir@example.net", "reject@example.net", "defer@example.net", "tdip@example.net",
              "tdir@example.net", "ok@example.net", ""]
DL_RCPTS = ["user@example.com", "user@victim.com", "rok@example.com", "rrej@example.com",
            "rdip@example.com", "rdir@example.com", "rdefer@example.com", "rdirrej@example.com",
            "late@example.com", "lateok@victim.com", "postmaster", "rok@victim.com"]


def defer_lists_extras() -> list[dict]:
    out = []
    out += _cross(DL_CLIENTS, DL_SENDERS, DL_RCPTS)
    out += _cross([{"client": "198.51.100.7"}, {"client": "10.1.2.3"}], DL_SENDERS, DL_RCPTS,
                  helos=DL_HELOS)
    out += _cross(DL_CLIENTS, ["a@example.net"], DL_RCPTS, helos=DL_HELOS)
    return out


PE_NAMES = ["bad.example", "sub.bad.example", "onlyexact.example", "sub.onlyexact.example",
            "onlysub.example", "x.onlysub.example", "client.example.net"]


def parent_empty_extras() -> list[dict]:
    out = []
    rc = [f"u@{d}" for d in PE_NAMES + ["partner.example", "sub.partner.example", "exact.example",
                                         "sub.exact.example", "dotonly.example",
                                         "sub.dotonly.example", "tbl.example", "sub.tbl.example",
                                         "dottbl.example", "sub.dottbl.example",
                                         "sub.example.com", "example.com"]]
    for n in PE_NAMES:
        out.append(case({"client": "198.51.100.20", "client_name": n}, "a@example.net", rc[:8]))
        out.append(case({"client": "198.51.100.20"}, "a@example.net", rc[:8], helo=n))
        out.append(case({"client": "198.51.100.20"}, f"s@{n}", rc[:8]))
    for cl in ("out4", "in4"):
        for i in range(0, len(rc), CHUNK):
            out.append(case(CLIENTS[cl], "a@example.net", rc[i:i + CHUNK]))
    out.append(case({"client": "203.0.113.9"}, "a@example.net", rc[:3]))
    return out


DT_DOMAINS = ["example.com", "sub.example.com", "mail.example.com", "localhost", "hashdest.example",
              "sub.hashdest.example", "dothashdest.example", "a.dothashdest.example",
              "filedest.example", "a.filedest.example", "dotfiledest.example",
              "b.dotfiledest.example", "upper.filedest.example", "comma.example",
              "negated.filedest.example", "partner.example", "sub.partner.example",
              "dotpartner.example", "x.dotpartner.example", "backup.example.net",
              "filerelay.example", "s.filerelay.example", "dotfilerelay.example",
              "y.dotfilerelay.example", "indented.example", "not.filerelay.example",
              "filerelay2.example", "filerelay3.example", "victim.com"]


def domains_tables_extras() -> list[dict]:
    rc = [f"user@{d}" for d in DT_DOMAINS] + [f"user%{d}@example.com" for d in DT_DOMAINS[:6]]
    out = []
    for cl in ("out4", "in4"):
        for i in range(0, len(rc), CHUNK):
            out.append(case(CLIENTS[cl], "a@example.net", rc[i:i + CHUNK]))
    return out


MN_NAMES = ["trusted.example", "TRUSTED.EXAMPLE", "sub.trusted.example", "bad.trusted.example",
            "x.bad.trusted.example", "corp.example", "a.corp.example", "b.a.corp.example",
            "hashed.example", "sub.hashed.example", "dothashed.example", "a.dothashed.example",
            "trusted.example.", "evil.example", "trusted.example.evil.example", "unknown", None]


def mynet_hostname_extras() -> list[dict]:
    out = []
    for n in MN_NAMES:
        for ip in ("198.51.100.7", "2001:db8::25"):
            out.append(case({"client": ip, "client_name": n}, "a@example.net",
                            ["user@example.com", "user@victim.com"]))
    for ip in ("203.0.113.5", "203.0.113.6"):
        out.append(case({"client": ip}, "a@example.net", ["user@victim.com"]))
    return out


def mynet_style_extras() -> list[dict]:
    ips = ["127.0.0.1", "127.0.0.2", "127.1.2.3", "::1", "10.1.2.3", "198.51.100.7", "127.255.255.255",
           "::ffff:127.0.0.1", "128.0.0.1", "126.0.0.1"]
    return [case({"client": ip}, "a@example.net", ["user@example.com", "user@victim.com"])
            for ip in ips]


VO_RCPTS = [f"{u}@{d}" for d in ("valias.example", "vmail.example", "both.example",
                                 "loc-alias.example", "partner.example")
            for u in ("a", "m", "r", "z")]


def virtual_overlap_extras() -> list[dict]:
    out = []
    for cl in ("out4", "in4", "auth"):
        for i in range(0, len(VO_RCPTS), CHUNK):
            out.append(case(CLIENTS[cl], "a@example.net", VO_RCPTS[i:i + CHUNK]))
        for s in ("a@valias.example", "z@both.example", "z@vmail.example"):
            out.append(case(CLIENTS[cl], s, ["user@victim.com", "a@both.example"]))
    return out


DELIM_LOCALS = ["alice", "alice+spam", "alice-spam", "alice+-spam", "alice-+spam", "alice+",
                "alice-", "alice++", "alice--x", "+x", "-x", "bob", "bob-x", "bob+x", "bob-x+y",
                "bob-x-y", "carol", "carol+y", "carol-y", "carol+y+z", "dave", "dave+", "dave++",
                "blocked", "blocked+x", "blocked-x", "nobody", "nobody+x"]


def delim_extras() -> list[dict]:
    rc = [f"{lp}@example.com" for lp in DELIM_LOCALS] + \
         [f"{lp}" for lp in DELIM_LOCALS[:6]] + \
         ["r@partner.example", "r+x@partner.example", "r-x@partner.example", "r-list@partner.example",
          "r-list+x@partner.example", "z+x@partner.example", "v@valias.example.com",
          "v+x@valias.example.com", "v-x@valias.example.com", "v-y@valias.example.com",
          "user+ok@victim.com", "user-ok@victim.com", "user+ok+x@victim.com"]
    out = []
    for cl in ("out4", "in4"):
        for i in range(0, len(rc), CHUNK):
            out.append(case(CLIENTS[cl], "a@example.net", rc[i:i + CHUNK]))
    for s in ("s@example.net", "s+x@example.net", "s-x@example.net", "s+y@example.net",
              "t+x@example.net", "t-x@example.net", "t@example.net", "u+@example.net"):
        out.append(case(CLIENTS["out4"], s, ["user@example.com"]))
    return out


def table_types_extras() -> list[dict]:
    rc = ["static-rej@example.com", "static-ok@victim.com", "static-rej@victim.com",
          "rxok@victim.com", "RXOK@VICTIM.COM", "RXCASE@example.com", "rxcase@example.com",
          "exact@example.com", "EXACT@example.com", "a+b@victim.com", "a+b+c@victim.com", "user",
          "postmaster", "blocked@example.com", "BLOCKED@example.com", "x@victim.com",
          "user@example.com", "user@rx1.example", "user@rx.example", "user@a.rxsub.example",
          "user@rxsub.example", "user@RX22.EXAMPLE", "user@partner.example",
          "user@sub.partner.example", "x@sub.victim.com"]
    out = []
    for cl in ("out4", "in4"):
        for i in range(0, len(rc), CHUNK):
            out.append(case(CLIENTS[cl], "a@example.net", rc[i:i + CHUNK]))
    for s in ("rej@example.net", "REJ@EXAMPLE.NET", "comma@example.net", "x@example.org",
              "x@sub.example.org", "", "x@example.net"):
        out.append(case(CLIENTS["out4"], s, ["user@example.com"]))
    for ip, nm in (("198.51.100.61", None), ("198.51.100.6", None), ("2001:db8:bad::1", None),
                   ("198.51.100.20", "spammer.example"), ("198.51.100.20", "nospam.example")):
        out.append(case({"client": ip, "client_name": nm}, "a@example.net", ["user@example.com"]))
    for h in ("evil.example", "EVIL.EXAMPLE", "mixed.case.example", "Mixed.Case.Example",
              "dotted.example", "a.dotted.example"):
        out.append(case(CLIENTS["out4"], "a@example.net", ["user@example.com"], helo=h))
    return out


RW_LOCALS = ["w-reject", "w-defer", "w-dip", "w-dir", "w-nonfqdn", "w-unlisted", "w-unauth",
             "w-helo", "t-reject", "t-rejtext", "t-rejdsn", "t-defer", "t-defertext", "t-550",
             "t-554", "t-450", "t-dip", "t-521", "t-421"]


def reply_words_extras() -> list[dict]:
    out = []
    for cl in ("out4", "in4"):
        for lp in RW_LOCALS:  # one per session: 421/521 close the connection
            out.append(case(CLIENTS[cl], "a@example.net", [f"{lp}@example.com", "user@example.com"]))
            out.append(case(CLIENTS[cl], "sender", [f"{lp}@example.com"], helo="bad_helo!"))
        out.append(case(CLIENTS[cl], "a@example.net",
                        ["nobody@example.com", "z@partner.example", "z@valias.example.com",
                         "z@vmail.example.com", "user@victim.com", "user", "user@[300.1.2.3]"]))
    for ip in ("198.51.100.66", "198.51.100.88", "198.51.100.99"):
        out.append(case({"client": ip}, "a@example.net", ["user@example.com"]))
    for s in ("rej@example.net", "r550@example.net", "r521@example.net"):
        out.append(case(CLIENTS["out4"], s, ["user@example.com"]))
    return out


def null_key_extras() -> list[dict]:
    out = []
    for cl in ("out4", "in4", "auth"):
        for s in ("", "bounce@null.example", "x@null.example", "bounce@other.example"):
            out.append(case(CLIENTS[cl], s, ["user@example.com", "bounce@null.example"]))
    return out


def helo_required_extras() -> list[dict]:
    out = []
    for name in ("out4", "in4"):
        for h in F_HELOS[:24] + [None]:
            for g in ("EHLO", "HELO"):
                for params in ("", "SIZE=100 BODY=8BITMIME"):
                    out.append(case(CLIENTS[name], "a@example.net",
                                    ["user@example.com", "user@victim.com", "postmaster"],
                                    params, helo=h, greeting=g))
    return out


def classes_extras() -> list[dict]:
    rc = ["user@example.com", "user@victim.com", "open@victim.com", "nested@victim.com",
          "deny@example.com", "maybe@victim.com", "blocked@example.com", "inner@example.com",
          "nobody@example.com", "alice@example.com", "user", "postmaster", "user@partner.example"]
    out = []
    sasl = ["alice", "bob", "carol@example.com", "carol", "dave", "dave@partner.example",
            "x@partner.example", "x@sub.partner.example", "eve", "frank", "grace",
            "alice@example.com", "ALICE", "Bob"]
    for s in sasl:
        out.append(case({"client": "198.51.100.7", "sasl": s}, "a@example.net", rc))
    for ip in ("198.51.100.66", "198.51.100.55", "198.51.100.44", "198.51.100.33", "10.1.2.3"):
        out.append(case({"client": ip}, "a@example.net", rc))
        out.append(case({"client": ip}, "warned@example.net", rc))
        out.append(case({"client": ip}, "class@example.net", rc))
        out.append(case({"client": ip}, "sender", rc))
    return out


NEW = {
    "fz_baseline": lambda: [],
    "classes_relay": classes_extras,
    "defer_lists_delay": defer_lists_extras,
    "defer_lists_now": defer_lists_extras,
    "parent_empty": parent_empty_extras,
    "domains_tables": domains_tables_extras,
    "mynet_hostname": mynet_hostname_extras,
    "mynet_hostname_noparent": mynet_hostname_extras,
    "mynet_style_subnet": mynet_style_extras,
    "mynet_style_host": mynet_style_extras,
    "mynet_style_class": mynet_style_extras,
    "virtual_overlap": virtual_overlap_extras,
    "delim_plus": delim_extras,
    "delim_plusminus": delim_extras,
    "table_types": table_types_extras,
    "reply_codes2": reply_words_extras,
    "soft_bounce_all": reply_words_extras,
    "soft_bounce_now": reply_words_extras,
    "null_key": null_key_extras,
    "helo_required_delay": helo_required_extras,
    "helo_required_now": helo_required_extras,
}
for _name, _fn in NEW.items():
    EXTRA[_name] = (lambda fn, nm: lambda: fn() + fuzz_cases(nm))(_fn, _name)


def main() -> None:
    for d in sorted((HERE / "configs").iterdir()):
        if not (d / "main.cf").exists():
            continue
        cases = common() + EXTRA.get(d.name, lambda: [])()
        with (d / "cases.jsonl").open("w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        print(f"{d.name}: {len(cases)} cases, {sum(len(c['rcpt']) for c in cases)} RCPTs")


if __name__ == "__main__":
    main()

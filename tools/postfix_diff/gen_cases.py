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

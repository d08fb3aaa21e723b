"""``relaysim policy check``: answer MAIL/RCPT as Postfix 3.7 would with a main.cf."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.policy.relay import ClientFacts, DomainStatus, RelayPolicy
from sim.smtp.session import RelayCase, SessionResult, run_session

__all__ = ["case_from_json", "register"]

_CASE_KEYS = {
    "client",
    "client_name",
    "helo",
    "greeting",
    "sasl",
    "client_cert",
    "from",
    "rcpt",
    "mail_params",
    "dns",
    "pipelined",
}


def register(sub: Any) -> None:
    """Add ``policy check`` to the top-level subcommands."""
    policy = sub.add_parser("policy", help="check mail-server policies (relay authorization)")
    psub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    psub.required = True
    check = psub.add_parser(
        "check",
        help="answer MAIL/RCPT as Postfix 3.7 would with this main.cf",
        description=(
            "Play one SMTP transaction (or a JSONL batch) against a Postfix main.cf and "
            "print the replies Postfix 3.7 would send."
        ),
    )
    check.add_argument("--main-cf", required=True, type=Path, help="the Postfix main.cf to read")
    check.add_argument("--client", help="client IP address (IPv4 or IPv6)")
    check.add_argument("--client-name", help="the client's verified host name")
    check.add_argument("--helo", help="HELO/EHLO name the client gives")
    check.add_argument("--greeting", default="EHLO", choices=["EHLO", "HELO"])
    check.add_argument("--sasl", metavar="LOGIN", help="SASL login name (client authenticated)")
    check.add_argument("--client-cert", metavar="FPR", help="TLS client certificate fingerprint")
    check.add_argument("--from", dest="sender", metavar="ADDR", help="envelope sender ('' for <>)")
    check.add_argument("--rcpt", action="append", default=[], metavar="ADDR", help="recipient")
    check.add_argument("--mail-params", default="", help="ESMTP parameters for MAIL FROM")
    check.add_argument(
        "--dns",
        action="append",
        default=[],
        metavar="DOMAIN=STATUS",
        help="what DNS says of a domain: exists, nxdomain, nullmx, tempfail, malformed",
    )
    check.add_argument("--cases", type=Path, metavar="FILE", help="JSONL batch ('-' for stdin)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--explain", action="store_true", help="show every restriction evaluated")
    check.set_defaults(handler=_check)


def _dns(mapping: dict[str, Any], where: str) -> dict[str, DomainStatus]:
    out = {}
    for domain, status in mapping.items():
        try:
            out[str(domain)] = DomainStatus.from_text(str(status))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    return out


def case_from_json(data: Any, where: str) -> RelayCase:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object per line")
    unknown = sorted(set(data) - _CASE_KEYS)
    if unknown:
        # Batteries often carry their own ids and expectations: ignore them, but say so.
        print(f"relaysim: warning: {where}: ignoring key(s) {', '.join(unknown)}", file=sys.stderr)
    if "from" not in data or "rcpt" not in data:
        expected = ", ".join(sorted(_CASE_KEYS))
        raise InputError(f"{where}: 'from' and 'rcpt' are required (keys: {expected})")
    rcpt = data["rcpt"]
    if isinstance(rcpt, str):
        rcpt = [rcpt]
    if not isinstance(rcpt, list) or not all(isinstance(r, str) for r in rcpt):
        raise InputError(f"{where}: 'rcpt' must be a list of strings")
    params = data.get("mail_params") or ""
    if isinstance(params, list):
        params = " ".join(str(p) for p in params)
    dns = data.get("dns") or {}
    if not isinstance(dns, dict):
        raise InputError(f"{where}: 'dns' must be an object of domain: status")
    return _case(
        where,
        client=data.get("client"),
        client_name=data.get("client_name"),
        helo=data.get("helo"),
        greeting=data.get("greeting") or "EHLO",
        sasl=data.get("sasl") or None,
        cert=data.get("client_cert"),
        sender=data["from"] if data["from"] is not None else "",
        rcpts=tuple(rcpt),
        params=str(params),
        dns=_dns(dns, f"{where}: dns"),
        pipelined=bool(data.get("pipelined", False)),
    )


def _case(where: str, **kw: Any) -> RelayCase:
    try:
        client = ClientFacts(
            address=kw["client"],
            name=kw["client_name"],
            helo=kw["helo"],
            greeting=str(kw["greeting"]).upper(),
            sasl_login=kw["sasl"],
            cert_fingerprint=kw["cert"],
            pipelined=kw["pipelined"],
        )
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    return RelayCase(client, kw["sender"], kw["rcpts"], kw["params"], kw["dns"])


def _print_transcript(result: SessionResult, explain: bool, out: TextIO) -> None:
    for ex in result.exchanges:
        if ex.command is not None:
            print(f"C: {ex.command}", file=out)
        if ex.reply is not None:
            for line in ex.reply.lines():
                print(f"S: {line}", file=out)
        decision = ex.decision
        if decision is not None and ex.command is not None and ex.command.startswith("RCPT"):
            if not decision.accepted and decision.by:
                print(f"   # decided by {decision.by}", file=out)
            if explain:
                for step in decision.steps:
                    print(f"   #   {step.list_name}: {step.restriction} -> {step.result}", file=out)


def _check(args: argparse.Namespace, out: TextIO) -> int:
    policy = RelayPolicy.from_main_cf(args.main_cf)
    for warning in policy.warnings:
        print(f"relaysim: warning: {warning}", file=sys.stderr)
    if args.cases is not None:
        return _batch(policy, args.cases, out)
    if args.sender is None or not args.rcpt:
        raise InputError("policy check: give --from and at least one --rcpt, or --cases FILE")
    dns: dict[str, str] = {}
    for item in args.dns:
        domain, eq, status = item.partition("=")
        if not eq:
            raise InputError(f"--dns {item!r}: expected DOMAIN=STATUS")
        dns[domain] = status
    case = _case(
        "--client",
        client=args.client,
        client_name=args.client_name,
        helo=args.helo,
        greeting=args.greeting,
        sasl=args.sasl,
        cert=args.client_cert,
        sender=args.sender,
        rcpts=tuple(args.rcpt),
        params=args.mail_params,
        dns=_dns(dns, "--dns"),
        pipelined=False,
    )
    result = run_session(policy, case)
    if args.json:
        print(json.dumps(result.as_json()), file=out)
    else:
        _print_transcript(result, args.explain, out)
    return 0


def _batch(policy: RelayPolicy, path: Path, out: TextIO) -> int:
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{name}: cannot read cases: {exc.strerror}") from None
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            where = f"{name}:{number}"
            try:
                data = json.loads(line.strip())
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            result = run_session(policy, case_from_json(data, where))
            print(json.dumps(result.as_json()), file=out, flush=True)
    return 0

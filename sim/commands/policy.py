"""``relaysim policy check``: answer MAIL/RCPT as Postfix 3.7 would with a main.cf.

``relaysim policy probe``: the open-relay scan (Nmap ``smtp-open-relay``'s forms and
two more) played against the same policy, one line per form and the total.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.policy.relay import ClientFacts, DomainStatus, RelayPolicy
from sim.policy.relay_probe import (
    DEFAULT_SENDER,
    DEFAULT_VICTIM,
    OUTSIDER,
    ProbeReport,
    default_server,
)
from sim.smtp.probe import probe
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
    scan = psub.add_parser(
        "probe",
        help="am I an open relay? try a relay scanner's 16 tricks from outside",
        description=(
            "Send the forms of a relay scanner (Nmap smtp-open-relay's 16, in its order; "
            "--extended adds two more) to a Postfix main.cf from an outside client and "
            "report which RCPT TO the server accepts. Exit code 0 whatever the result."
        ),
    )
    scan.add_argument("--main-cf", required=True, type=Path, help="the Postfix main.cf to read")
    scan.add_argument("--client", default=OUTSIDER, help=f"client IP address (default {OUTSIDER})")
    scan.add_argument("--helo", help="EHLO name (default: the probe sender's domain)")
    scan.add_argument("--server-name", help="the server's host name (default: myhostname)")
    scan.add_argument(
        "--server-ip",
        help="the server's address for the [IP] forms (default: the first address in "
        "inet_interfaces, else 192.0.2.25)",
    )
    scan.add_argument(
        "--victim", default=DEFAULT_VICTIM, help=f"third-party recipient (default {DEFAULT_VICTIM})"
    )
    scan.add_argument(
        "--probe-sender",
        default=DEFAULT_SENDER,
        help=f"sender of form 2; its local part is reused (default {DEFAULT_SENDER})",
    )
    scan.add_argument(
        "--extended",
        action="store_true",
        help='also send forms 17 ("victim@domain"@server-name) and 18 (bare victim%%domain)',
    )
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.set_defaults(handler=_probe)


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


def _probe(args: argparse.Namespace, out: TextIO) -> int:
    policy = RelayPolicy.from_main_cf(args.main_cf)
    for warning in policy.warnings:
        print(f"relaysim: warning: {warning}", file=sys.stderr)
    name, ip = default_server(policy.cfg)
    server_name = args.server_name if args.server_name is not None else name
    server_ip = args.server_ip if args.server_ip is not None else ip
    helo = args.helo if args.helo is not None else args.probe_sender.rpartition("@")[2]
    try:
        client = ClientFacts(address=args.client, helo=helo or None)
    except ValueError as exc:
        raise InputError(f"--client: {exc}") from None
    try:
        report = probe(
            policy,
            client,
            server_name,
            server_ip,
            victim=args.victim,
            probe_sender=args.probe_sender,
            extended=args.extended,
        )
    except ValueError as exc:
        raise InputError(f"policy probe: {exc}") from None
    if args.json:
        print(json.dumps(report.as_json()), file=out)
    else:
        _print_probe(report, out)
    return 0


def _print_probe(report: ProbeReport, out: TextIO) -> None:
    helo = f" (EHLO {report.helo})" if report.helo else ""
    print(
        f"relay probe of {report.server_name} [{report.server_ip}] from {report.client}{helo}, "
        f"victim <{report.victim}>",
        file=out,
    )
    rows = [
        (
            f"{r.form.number:>2}",
            r.form.label,
            f"<{r.form.mail_from}>",
            f"<{r.form.rcpt_to}>",
            "connection closed" if r.reply is None else r.reply.line(),
            "RELAYED" + (f" (stays here: {r.resolved})" if r.stays_here else "")
            if r.relayed
            else "refused",
        )
        for r in report.results
    ]
    header = ("#", "test", "MAIL FROM", "RCPT TO", "reply", "result")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [row[0].rjust(widths[0])]
        cells += [c.ljust(w) for c, w in zip(row[1:5], widths[1:], strict=True)]
        print("  ".join([*cells, row[5]]), file=out)
    print(report.summary(), file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)

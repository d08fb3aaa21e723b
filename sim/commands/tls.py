"""``relaysim tls check``: would a sending MTA deliver to this MX over TLS, in plaintext, or not?"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509

from sim.errors import InputError
from sim.policy.certs import load_pem_chain
from sim.policy.dane import DnssecStatus, TlsaAnswer, parse_tlsa
from sim.policy.mtasts import StsPolicy, parse_policy
from sim.policy.tls import (
    ConnectionFacts,
    Handshake,
    Level,
    StartTls,
    TlsPolicy,
    Verdict,
    decide,
)
from sim.policy.tls_policy_map import TlsPolicyMap

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``tls check`` to the top-level subcommands."""
    tls = sub.add_parser("tls", help="sender-side TLS policy (Postfix levels, DANE, MTA-STS)")
    tsub = tls.add_subparsers(dest="tls_command", metavar="SUBCOMMAND")
    tsub.required = True
    check = tsub.add_parser(
        "check",
        help="decide tls / plaintext / defer for one connection to one MX host",
        description=(
            "Apply a Postfix TLS security level (or an smtp_tls_policy_maps file), DANE "
            "TLSA records and an MTA-STS policy to the facts of one connection attempt, "
            "and print whether the client delivers over TLS, in plaintext, or defers, "
            "and why. Without --level or --policy-map the level is 'may' (the Postfix "
            "default from compatibility_level 3.11)."
        ),
    )
    check.add_argument("--domain", required=True, help="next-hop (recipient) domain")
    check.add_argument("--mx", required=True, metavar="HOST", help="the MX host connected to")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--level", help="security level: " + ", ".join(m.value for m in Level))
    which.add_argument(
        "--policy-map", type=Path, metavar="FILE", help="smtp_tls_policy_maps source file"
    )
    check.add_argument(
        "--starttls",
        default="offered",
        choices=[m.value for m in StartTls],
        help="STARTTLS in the EHLO reply: offered, stripped (absent/removed), refused",
    )
    check.add_argument("--handshake", default="ok", choices=[m.value for m in Handshake])
    check.add_argument("--cert", type=Path, metavar="PEM", help="presented chain, leaf first")
    check.add_argument(
        "--trusted",
        default="no",
        choices=["yes", "no"],
        help="does the chain lead to a trusted CA? (default no)",
    )
    check.add_argument(
        "--tlsa",
        action="append",
        default=[],
        metavar="RECORD",
        help='a TLSA record of the MX host, e.g. "3 1 1 HEX" (repeatable)',
    )
    check.add_argument(
        "--dnssec",
        choices=[m.value for m in DnssecStatus],
        help="DNSSEC status of the TLSA lookup (default: secure with --tlsa, else none)",
    )
    check.add_argument(
        "--mta-sts", type=Path, metavar="POLICY_FILE", help="MTA-STS policy in force"
    )
    check.add_argument(
        "--now",
        metavar="ISO8601",
        help="time of the attempt for certificate dates (default: the current time, UTC)",
    )
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(handler=_check)
    matrix = tsub.add_parser(
        "matrix",
        help="every sender setup against every STARTTLS attack: who gets read, who defers",
        description=(
            "Decide, with the real TLS policy module, each sender setup (may, encrypt, "
            "verify, dane, mta-sts-testing, mta-sts-enforce) against each man-in-the-middle "
            "attack (strip, starttls-4xx, starttls-5xx, intercept, intercept with a trusted "
            "certificate for another name); print the table, optionally draw the heatmap."
        ),
    )
    matrix.add_argument("--out", type=Path, metavar="PNG", help="also draw the heatmap here")
    matrix.set_defaults(handler=_matrix)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None


def _policy(args: argparse.Namespace) -> TlsPolicy:
    if args.policy_map is not None:
        return TlsPolicyMap.read(args.policy_map).lookup(args.domain)
    try:
        if args.level is None:
            return TlsPolicy(Level.MAY, source="default: smtp_tls_security_level = may")
        return TlsPolicy(Level.from_text(args.level), source="--level")
    except ValueError as exc:
        raise InputError(f"--level: {exc}") from None


def _sts(path: Path | None) -> StsPolicy | None:
    if path is None:
        return None
    data = _read_bytes(path, "MTA-STS policy")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: expected UTF-8 text ({exc.reason})") from None
    return parse_policy(text, source=str(path))


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--now: expected an ISO 8601 time, got {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def facts_from_args(args: argparse.Namespace) -> ConnectionFacts:
    chain: tuple[x509.Certificate, ...] = ()
    if args.cert is not None:
        chain = load_pem_chain(_read_bytes(args.cert, "certificate"), source=str(args.cert))
    records = tuple(parse_tlsa(t, source="--tlsa") for t in args.tlsa)
    status = args.dnssec or ("secure" if records else "none")
    if status == "none":
        records = ()  # no TLSA lookup answer: records given on the command line are moot
    try:
        tlsa = TlsaAnswer(DnssecStatus.from_text(status), records)
        return ConnectionFacts(
            nexthop=args.domain,
            mx=args.mx,
            now=_now(args.now),
            starttls=StartTls.from_text(args.starttls),
            handshake=Handshake.from_text(args.handshake),
            chain=chain,
            trusted=args.trusted == "yes",
            tlsa=tlsa,
            sts=_sts(args.mta_sts),
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _check(args: argparse.Namespace, out: TextIO) -> int:
    policy = _policy(args)
    facts = facts_from_args(args)
    verdict = decide(policy, facts)
    if args.json:
        print(json.dumps(verdict.as_dict()), file=out)
    else:
        _print(verdict, policy, facts, out)
    return 0


def _print(verdict: Verdict, policy: TlsPolicy, facts: ConnectionFacts, out: TextIO) -> None:
    head = f"{facts.nexthop} via {facts.mx}: {verdict.outcome.value}"
    if verdict.outcome.value == "tls":
        head += (
            f", authenticated ({verdict.via.value})"
            if verdict.via is not None
            else ", not authenticated"
        )
    elif verdict.status is not None:
        head += f" ({verdict.status})"
    print(head, file=out)
    print(f"  policy:  {policy.describe()}  [{policy.source}]", file=out)
    if verdict.level is not None and verdict.level is not policy.level:
        print(f"  applied: {verdict.level.value}", file=out)
    print(f"  why:     {verdict.reason}", file=out)
    if verdict.tlsrpt is not None:
        print(f"  TLS-RPT: {verdict.tlsrpt.value}", file=out)


def _matrix(args: argparse.Namespace, out: TextIO) -> int:
    """Test certificates from one CA: the real MX's, a forged self-signed one, and one
    the same CA issued for another name (what a trusted-CA interceptor could hold)."""
    from datetime import UTC, datetime

    from sim.policy.certs import make_ca, make_leaf, make_self_signed
    from sim.policy.tls_attacks import outcome_matrix, render_markdown

    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
    ca = make_ca(not_before=start, not_after=end)
    server = make_leaf(ca, ["mx.example.com"], not_before=start, not_after=end)
    forged = make_self_signed(["mx.example.com"], not_before=start, not_after=end)
    other = make_leaf(ca, ["mail.attacker.example"], not_before=start, not_after=end)
    cells = outcome_matrix(
        datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        server_chain=(server.certificate, ca.certificate),
        trust_anchors=(ca.certificate,),
        attacker_chain=(forged.certificate,),
        attacker_trusted_chain=(other.certificate, ca.certificate),
    )
    out.write(render_markdown(cells).rstrip() + "\n")
    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from sim.plots.attacks import plot_tls_attack_matrix

        fig = Figure(figsize=(11.0, 6.0), layout="constrained")
        plot_tls_attack_matrix(cells, ax=fig.add_subplot())
        try:
            fig.savefig(args.out, dpi=110)
        except OSError as exc:
            raise InputError(f"{args.out}: cannot write ({exc.strerror})") from None
        print(f"wrote {args.out}", file=out)
    return 0

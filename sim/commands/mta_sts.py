"""``relaysim mta-sts``: check an MTA-STS policy file (RFC 8461) and match MX hosts to it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.policy.mtasts import StsPolicy, StsRecord, parse_policy, parse_txt

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``mta-sts parse`` and ``mta-sts match`` to the top-level subcommands."""
    sts = sub.add_parser(
        "mta-sts",
        help="parse MTA-STS policies and match MX hosts against them (RFC 8461)",
        description="Check an MTA-STS policy file and its _mta-sts TXT record (RFC 8461).",
    )
    ssub = sts.add_subparsers(dest="mta_sts_command", metavar="SUBCOMMAND")
    ssub.required = True
    parse = ssub.add_parser(
        "parse",
        help="parse and validate a policy file (and optionally the TXT record)",
        description=(
            "Parse POLICY_FILE (the body of https://mta-sts.<domain>/.well-known/mta-sts.txt) "
            "and print the policy; any malformation is one error line and exit code 2."
        ),
    )
    parse.add_argument("policy", type=Path, metavar="POLICY_FILE", help="the policy file")
    parse.add_argument(
        "--txt",
        action="append",
        metavar="RECORD",
        help="a TXT record found at _mta-sts.<domain>, e.g. 'v=STSv1; id=20160831085700Z' "
        "(repeatable: one per TXT record)",
    )
    parse.add_argument("--json", action="store_true", help="print the policy as one JSON object")
    parse.set_defaults(handler=_parse)
    match = ssub.add_parser(
        "match",
        help="does an MX host match the policy's mx patterns? (exit 0 match, 1 no match)",
        description=(
            "Print 'match' and exit 0 if MX_HOST matches one of the policy's mx patterns "
            "(RFC 8461 §4.1), else print 'no match' and exit 1; exit 2 for bad input."
        ),
    )
    match.add_argument("policy", type=Path, metavar="POLICY_FILE", help="the policy file")
    match.add_argument("mx_host", metavar="MX_HOST", help="the MX host name to check")
    match.set_defaults(handler=_match)


def _load(path: Path) -> StsPolicy:
    try:
        data = path.read_bytes()  # bytes, so that CRLF reaches the parser unchanged
    except OSError as exc:
        raise InputError(f"{path}: cannot read policy file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: expected UTF-8 text ({exc.reason})") from None
    return parse_policy(text, source=str(path))


def _parse(args: argparse.Namespace, out: TextIO) -> int:
    policy = _load(args.policy)
    record: StsRecord | None = None
    if args.txt is not None:
        record = parse_txt(args.txt, source="--txt")
    if args.json:
        # Exactly version, mode, mx, max_age: other tools rely on this shape.  --txt is
        # still checked (an invalid record exits 2).
        print(json.dumps(policy.as_dict()), file=out)
        return 0
    for line in policy.policy_strings():
        print(line, file=out)
    if record is not None:
        print(f"# _mta-sts id: {record.id}", file=out)
    return 0


def _match(args: argparse.Namespace, out: TextIO) -> int:
    policy = _load(args.policy)
    if not args.mx_host.strip():
        raise InputError("MX_HOST must not be empty")
    if policy.matches(args.mx_host):
        print("match", file=out)
        return 0
    print("no match", file=out)
    return 1

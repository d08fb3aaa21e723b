"""``relaysim mx``: the hosts a client would try for a domain, answered from zone files."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any, TextIO

import dns.name

from sim.errors import InputError
from sim.policy.mx import DnsAnswer, MXResult, Query, resolve_mx
from sim.policy.zones import ZoneSet

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``mx`` to the top-level subcommands."""
    mx = sub.add_parser(
        "mx",
        help="resolve a domain's MX hosts from zone files (RFC 5321 §5.1, RFC 7505)",
        description=(
            "Resolve DOMAIN to the ordered list of hosts an SMTP client would try, or to "
            "the decision not to try (null MX, NXDOMAIN, DNS failure, mail loop), using "
            "only the zone files given. A name outside every zone is NXDOMAIN."
        ),
    )
    mx.add_argument("domain", metavar="DOMAIN", help="the recipient domain")
    mx.add_argument(
        "--zone",
        action="append",
        required=True,
        type=Path,
        metavar="FILE",
        help="a zone file; origin from $ORIGIN, else the file name without .zone (repeatable)",
    )
    mx.add_argument(
        "--seed", type=int, default=0, help="seed for the equal-preference shuffle (default 0)"
    )
    mx.add_argument("--json", action="store_true", help="print the result as one JSON object")
    mx.add_argument(
        "--local-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or IP address of this host, as a relay in the MX list (repeatable)",
    )
    mx.add_argument("--strict", action="store_true", help="refuse MX targets that are CNAMEs")
    mx.add_argument(
        "--servfail",
        action="append",
        default=[],
        metavar="NAME",
        help="every query for NAME answers SERVFAIL (repeatable)",
    )
    mx.add_argument(
        "--timeout",
        action="append",
        default=[],
        metavar="NAME",
        help="every query for NAME times out (repeatable)",
    )
    mx.set_defaults(handler=_mx)


def _read(path: Path) -> tuple[str, str]:
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read zone file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: expected UTF-8 text ({exc.reason})") from None


def _mx(args: argparse.Namespace, out: TextIO) -> int:
    zones = ZoneSet.from_texts(
        [_read(p) for p in args.zone], servfail=args.servfail, timeout=args.timeout
    )
    outside: list[dns.name.Name] = []

    def lookup(query: Query) -> DnsAnswer:
        if zones.zone_for(query.name) is None and query.name not in outside:
            outside.append(query.name)
        return zones.lookup(query)

    try:
        result = resolve_mx(
            args.domain,
            lookup,
            rng=random.Random(args.seed),
            local_names=args.local_name,
            strict=args.strict,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for name in outside:
        if name not in zones.servfail and name not in zones.timeout:
            print(
                f"relaysim: note: {name.to_text(omit_final_dot=True)} is in no loaded zone; "
                "answered NXDOMAIN",
                file=sys.stderr,
            )
    if args.json:
        data = result.as_dict()
        data["seed"] = args.seed
        print(json.dumps(data), file=out)
    else:
        _print_table(result, args.seed, out)
    return 0


def _print_table(result: MXResult, seed: int, out: TextIO) -> None:
    head = f"{result.domain}: {result.action.value}"
    if result.canonical != result.domain:
        head += f" (via alias {result.canonical})"
    if result.implicit:
        head += " (implicit MX: no MX records)"
    print(head, file=out)
    if result.reply is not None:
        print(f"  {result.outcome.value}: {result.reply}", file=out)
    if result.targets:
        width = max(len("host"), *(len(t.host) for t in result.targets))
        print(f"  {'#':>2}  {'pref':>5}  {'host':<{width}}  addresses", file=out)
        for n, t in enumerate(result.targets, 1):
            addresses = ", ".join(str(a) for a in t.addresses)
            if t.canonical is not None:
                addresses += f"  (via CNAME {t.canonical})"
            print(f"  {n:>2}  {t.preference:>5}  {t.host:<{width}}  {addresses}", file=out)
        if len({t.preference for t in result.targets}) < len(result.targets):
            print(f"  equal preferences shuffled with --seed {seed}", file=out)
    if result.skipped:
        print("skipped:", file=out)
        width = max(len(s.host) for s in result.skipped)
        for s in result.skipped:
            why = s.reason.value + (f" ({s.detail})" if s.detail else "")
            print(f"  {s.preference:>5}  {s.host:<{width}}  {why}", file=out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=out)

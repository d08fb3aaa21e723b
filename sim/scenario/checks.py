"""Checks that span sections of a scenario: names that must exist, texts that must parse.

They run on the plain data read from YAML (after ``--set`` overrides), before and
independently of the field validation, so a file with a mistyped duration *and* a
source pointing at an unknown MTA gets both reported at once.  Anything of the wrong
shape is skipped here: the field validation reports it.

Host names are compared exactly (the engine's network graph does), so a link to
``MX1.example.com`` does not reach ``mx1.example.com``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dns.exception
import dns.name

from sim.errors import RelaysimError
from sim.policy.relay import RelayPolicy
from sim.policy.retry import ScheduleKind, build_schedule
from sim.policy.zones import parse_zone
from sim.scenario.units import parse_duration
from sim.world.faults import PERMANENT_KINDS, infer_kind
from sim.world.mta import MtaSpec

__all__ = ["Found", "Loc", "check_sections", "dotted"]

Loc = tuple[str | int, ...]
Found = list[tuple[Loc, str]]


def dotted(loc: Loc) -> str:
    """``("links", 2, "b")`` -> ``links[2].b``; ``("mtas", "mx1.example.com")`` -> dotted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _names(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none declared"


def _section(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    return value if isinstance(value, kind) else kind()


def check_sections(data: Mapping[str, Any], base_dir: Path) -> Found:
    """Every cross-section problem in ``data`` as ``(location, message)`` pairs."""
    found: Found = []
    mtas: dict[Any, Any] = _section(data, "mtas", dict)
    routers = [r for r in _section(data, "routers", list) if isinstance(r, str)]
    mta_names = {str(name) for name in mtas}
    hosts = mta_names | set(routers)
    lowered: dict[str, str] = {}
    for name in sorted(mta_names):
        if name.lower() in lowered:
            found.append((("mtas", name), f"same name as {lowered[name.lower()]!r} but for case"))
        lowered[name.lower()] = name
    for i, router in enumerate(_section(data, "routers", list)):
        if router in mta_names:
            found.append((("routers", i), f"{router!r} is already an MTA"))
    for name, mta in mtas.items():
        if isinstance(mta, dict):
            found += _check_mta(("mtas", str(name)), str(name), mta, mta_names, base_dir)
    for i, link in enumerate(_section(data, "links", list)):
        if not isinstance(link, dict):
            continue
        for end in ("a", "b"):
            host = link.get(end)
            if isinstance(host, str) and host not in hosts:
                found.append(
                    (
                        ("links", i, end),
                        f"unknown host {host!r} (expected an MTA or a router: {_names(hosts)})",
                    )
                )
        if isinstance(link.get("a"), str) and link.get("a") == link.get("b"):
            found.append((("links", i, "b"), "a link joins two different hosts"))
    links = {
        frozenset((link.get("a"), link.get("b")))
        for link in _section(data, "links", list)
        if isinstance(link, dict)
    }
    for name, source in _section(data, "sources", dict).items():
        if isinstance(source, dict):
            found += _check_source(("sources", str(name)), source, mta_names)
    zones: dict[Any, Any] = _section(data, "zones", dict)
    for i, fault in enumerate(_section(data, "faults", list)):
        if isinstance(fault, dict):
            found += _check_fault(("faults", i), fault, hosts, links)
            found += _check_fault_kind(("faults", i), fault, hosts, mta_names, zones, base_dir)
    found += _check_zones(zones, base_dir)
    for name, stripper in _section(data, "strippers", dict).items():
        if isinstance(stripper, dict):
            ends = frozenset((stripper.get("a"), stripper.get("b")))
            if all(isinstance(e, str) for e in ends) and ends not in links:
                found.append(
                    (
                        ("strippers", str(name), "b"),
                        f"no link {stripper.get('a')}-{stripper.get('b')} in links "
                        "(a man in the middle sits on a link)",
                    )
                )
    for name, spammer in _section(data, "spammers", dict).items():
        if isinstance(spammer, dict):
            for i, target in enumerate(spammer.get("targets") or []):
                if isinstance(target, str) and target not in mta_names:
                    found.append(
                        (
                            ("spammers", str(name), "targets", i),
                            f"unknown MTA {target!r} (expected one of: {_names(mta_names)})",
                        )
                    )
    for name, service in _section(data, "services", dict).items():
        if isinstance(service, dict):
            found += _check_service(("services", str(name)), str(name), service, mta_names)
    return found


def _check_service(loc: Loc, name: str, service: dict[str, Any], mta_names: set[str]) -> Found:
    found: Found = []
    if name.rstrip(".").lower() in {m.lower() for m in mta_names}:
        found.append((loc, f"{name!r} is already an MTA (a service needs a name of its own)"))
    members = service.get("members")
    if isinstance(members, list):
        for i, member in enumerate(members):
            if isinstance(member, str) and member not in mta_names:
                found.append(
                    (
                        (*loc, "members", i),
                        f"unknown MTA {member!r} (expected one of: {_names(mta_names)})",
                    )
                )
        if len({str(m) for m in members}) != len(members):
            found.append(((*loc, "members"), "a member is listed twice"))
    return found


def _check_mta(
    loc: Loc, name: str, mta: dict[str, Any], mta_names: set[str], base_dir: Path
) -> Found:
    found: Found = []
    text, file = mta.get("main_cf"), mta.get("main_cf_file")
    if text is not None and file is not None:
        found.append(((*loc, "main_cf_file"), "give main_cf or main_cf_file, not both"))
    elif isinstance(file, str):
        try:
            cf = (base_dir / file).read_text(encoding="utf-8")
        except OSError as exc:
            found.append(((*loc, "main_cf_file"), f"cannot read {file}: {exc.strerror}"))
        else:
            found += _check_policy((*loc, "main_cf_file"), cf, (base_dir / file).parent)
    elif isinstance(text, str):
        found += _check_policy((*loc, "main_cf"), text, None)
    elif text is None and file is None:
        try:
            generated = MtaSpec(
                name=name,
                address=str(mta.get("address", "192.0.2.1")),
                domains=tuple(str(d) for d in mta.get("domains") or ()),
                relay_domains=tuple(str(d) for d in mta.get("relay_domains") or ()),
                mynetworks=_mynetworks(mta.get("mynetworks", "127.0.0.0/8")),
            )
        except (TypeError, ValueError):
            pass
        else:
            found += _check_policy(loc, generated.policy_text(), None)
    relayhost = mta.get("relayhost")
    if isinstance(relayhost, str) and relayhost not in mta_names:
        found.append(
            (
                (*loc, "relayhost"),
                f"unknown MTA {relayhost!r} (expected one of: {_names(mta_names)})",
            )
        )
    retry = mta.get("retry")
    if isinstance(retry, dict):
        found += _check_retry((*loc, "retry"), retry)
    return found


def _mynetworks(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _check_policy(loc: Loc, text: str, directory: Path | None) -> Found:
    """Parse the policy as the engine will (``MtaSpec`` carries text, no directory)."""
    try:
        RelayPolicy.from_text(text)
    except (RelaysimError, ValueError) as exc:
        message = f"relay policy: {exc}"
        if directory is not None and _parses(text, directory):
            message += (
                " (lookup tables beside a main_cf_file are not supported yet: the world "
                "engine reads main.cf as text, without its directory)"
            )
        return [(loc, message)]
    return []


def _parses(text: str, directory: Path) -> bool:
    try:
        RelayPolicy.from_text(text, directory=directory)
    except (RelaysimError, ValueError):
        return False
    return True


def _check_retry(loc: Loc, retry: dict[str, Any]) -> Found:
    schedule = retry.get("schedule", "postfix")
    if not isinstance(schedule, str):
        return []
    try:
        kind = ScheduleKind.from_text(schedule)
    except ValueError:
        return []  # the field validation names the valid schedules
    found: Found = []
    settings = retry.get("settings") or {}
    texts: dict[str, str] = {}
    if isinstance(settings, dict):
        for key, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                continue
            try:
                build_schedule(kind, {str(key): str(value)})
            except RelaysimError as exc:
                found.append(((*loc, "settings", str(key)), str(exc)))
            texts[str(key)] = str(value)
    rule = retry.get("rule")
    if isinstance(rule, str):
        try:
            build_schedule(kind, None, rule)
        except RelaysimError as exc:
            found.append(((*loc, "rule"), str(exc)))
    if not found and (rule is None or isinstance(rule, str)):
        try:
            build_schedule(kind, texts, rule)
        except RelaysimError as exc:
            found.append((loc, str(exc)))
    return found


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _check_source(loc: Loc, source: dict[str, Any], mta_names: set[str]) -> Found:
    found: Found = []
    mta = source.get("mta")
    if isinstance(mta, str) and mta not in mta_names:
        found.append(((*loc, "mta"), f"unknown MTA {mta!r} (expected one of: {_names(mta_names)})"))
    start, stop = _seconds(source.get("start", 0)), _seconds(source.get("stop"))
    if start is not None and stop is not None and stop <= start:
        found.append(((*loc, "stop"), f"stop ({stop:g}s) must be after start ({start:g}s)"))
    return found


def _check_fault(loc: Loc, fault: dict[str, Any], hosts: set[str], links: set[Any]) -> Found:
    found: Found = []
    host, peer = fault.get("host"), fault.get("peer")
    for key, value in (("host", host), ("peer", peer)):
        if isinstance(value, str) and value not in hosts:
            found.append(
                (
                    (*loc, key),
                    f"unknown host {value!r} (expected an MTA or a router: {_names(hosts)})",
                )
            )
    if (
        isinstance(host, str)
        and isinstance(peer, str)
        and {host, peer} <= hosts
        and frozenset((host, peer)) not in links
    ):
        found.append(((*loc, "peer"), f"no link between {host!r} and {peer!r} in links"))
    return found


# What each fault kind needs and takes besides at, kind and down_for.
_FAULT_NEEDS: dict[str, tuple[str, ...]] = {
    "host": ("host",),
    "link": ("host", "peer"),
    "dns": ("host", "dns"),
    "mx_change": ("zone",),
    "certificate": ("host",),
}
_FAULT_TAKES: dict[str, tuple[str, ...]] = {
    "host": ("host",),
    "link": ("host", "peer"),
    "dns": ("host", "dns"),
    "mx_change": ("zone", "zone_text", "zone_file"),
    "certificate": ("host", "certificate"),
}
_FAULT_KEYS = (
    "at",
    "kind",
    "host",
    "down_for",
    "peer",
    "dns",
    "zone",
    "zone_text",
    "zone_file",
    "certificate",
)


def _an(kind: str) -> str:
    return f"an {kind}" if kind == "mx_change" else f"a {kind}"  # "an em-ex change"


def _check_fault_kind(
    loc: Loc,
    fault: dict[str, Any],
    hosts: set[str],
    mta_names: set[str],
    zones: dict[Any, Any],
    base_dir: Path,
) -> Found:
    """Each kind has the keys it needs and no others; its target exists and parses."""
    kind = fault.get("kind")
    if kind is None:
        kind = infer_kind(
            zone=any(fault.get(k) is not None for k in ("zone", "zone_text", "zone_file")),
            certificate=fault.get("certificate") is not None,
            dns=fault.get("dns") is not None,
            peer=fault.get("peer") is not None,
        )
    if kind not in _FAULT_NEEDS:
        return []  # the field validation names the kinds
    found: Found = []
    takes = sorted({"at", "kind", "down_for", *_FAULT_TAKES[kind]})
    for key in _FAULT_KEYS:
        if key not in takes and fault.get(key) is not None:
            found.append(
                ((*loc, key), f"not used by {_an(kind)} fault (it takes: {', '.join(takes)})")
            )
    for key in _FAULT_NEEDS[kind]:
        if fault.get(key) is None:
            found.append(((*loc, key), f"required for {_an(kind)} fault"))
    if fault.get("down_for") is None and kind not in PERMANENT_KINDS:
        found.append(
            (
                (*loc, "down_for"),
                f"required for {_an(kind)} fault (only {' and '.join(PERMANENT_KINDS)} "
                "faults may last to the end of the run)",
            )
        )
    host = fault.get("host")
    if kind in ("dns", "certificate") and host in hosts - mta_names:
        what = "its resolver" if kind == "dns" else "its certificate"
        found.append(((*loc, "host"), f"{_an(kind)} fault needs an MTA ({what}) as host"))
    if kind == "mx_change":
        found += _check_new_zone(loc, fault, zones, base_dir)
    return found


def _check_new_zone(
    loc: Loc, fault: dict[str, Any], zones: dict[Any, Any], base_dir: Path
) -> Found:
    zone, text, file = fault.get("zone"), fault.get("zone_text"), fault.get("zone_file")
    if text is not None and file is not None:
        return [((*loc, "zone_file"), "give zone_text or zone_file, not both")]
    if text is None and file is None:
        return [((*loc, "zone_text"), "required for an mx_change fault (or zone_file)")]
    if not isinstance(zone, str):
        return []
    known = {str(key).rstrip(".").lower(): str(key) for key in zones}
    if zone.rstrip(".").lower() not in known:
        names = ", ".join(sorted(known.values())) or "none declared"
        return [((*loc, "zone"), f"unknown zone {zone!r} (expected one of the zones: {names})")]
    where: Loc = (*loc, "zone_text")
    if isinstance(file, str):
        where = (*loc, "zone_file")
        try:
            text = (base_dir / file).read_text(encoding="utf-8")
        except OSError as exc:
            return [(where, f"cannot read {file}: {exc.strerror}")]
    if not isinstance(text, str):
        return []
    # The engine parses the new text as the zone's own file (the origin comes from the
    # zone, whatever the new file is called); errors still name the file given.
    parse_as = f"{zone.rstrip('.')}.zone"
    return _zone_problems(where, text, parse_as, zone, file if isinstance(file, str) else None)


def _zone_problems(
    loc: Loc, text: str, parse_as: str, origin_text: str, shown: str | None
) -> Found:
    """Parse a zone's text as file ``parse_as``; its origin must be ``origin_text``.

    Errors name ``shown`` (a file) or, for inline text (``shown`` None), the line.
    """
    try:
        origin = dns.name.from_text(origin_text.rstrip(".") + ".")
    except dns.exception.DNSException as exc:
        return [(loc, f"not a domain name: {exc}")]
    try:
        parsed = parse_zone(text, filename=parse_as)
    except RelaysimError as exc:
        message = str(exc)
        if message.startswith(parse_as + ":"):
            rest = message[len(parse_as) + 1 :]
            message = f"{shown}:{rest}" if shown is not None else f"zone text line {rest}"
        return [(loc, message)]
    if parsed.origin != origin:
        return [(loc, f"the zone's origin is {parsed.origin}, not {origin}")]
    return []


def _check_zones(zones: dict[Any, Any], base_dir: Path) -> Found:
    found: Found = []
    seen: dict[dns.name.Name, str] = {}
    for key, zone in zones.items():
        loc: Loc = ("zones", str(key))
        try:
            origin = dns.name.from_text(str(key).rstrip(".") + ".")
        except dns.exception.DNSException as exc:
            found.append((loc, f"not a domain name: {exc}"))
            continue
        if origin in seen:
            found.append((loc, f"zone {origin} is given twice (also as {seen[origin]!r})"))
        seen[origin] = str(key)
        text: Any
        file: Any
        if isinstance(zone, str):
            text, file = zone, None
        elif isinstance(zone, dict):
            text, file = zone.get("text"), zone.get("file")
        else:
            continue
        if (text is None) == (file is None):
            found.append((loc, "give the zone as text or as {file: path}, exactly one"))
            continue
        filename = f"{str(key).rstrip('.')}.zone"
        if isinstance(file, str):
            try:
                text = (base_dir / file).read_text(encoding="utf-8")
            except OSError as exc:
                found.append(((*loc, "file"), f"cannot read {file}: {exc.strerror}"))
                continue
            filename = file
        if isinstance(text, str):
            found += _zone_problems(
                loc, text, filename, str(key), file if isinstance(file, str) else None
            )
    return found

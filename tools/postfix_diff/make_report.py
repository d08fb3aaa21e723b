#!/usr/bin/env python3
"""Group results/*/diff.jsonl into patterns; print Markdown (used for RESULTS.md)."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def norm(rep: dict | None) -> str:
    if not rep:
        return "-"
    text = re.sub(r"<[^>]*>", "<…>", rep.get("text") or "")
    return f"{rep.get('code')} {rep.get('enhanced') or ''} {text}".replace("  ", " ")


def fmt(rep: dict | None) -> str:
    if not rep:
        return "(none)"
    return " ".join(str(x) for x in (rep.get("code"), rep.get("enhanced"), rep.get("text")) if x is not None)


def main() -> None:
    import sys
    name = sys.argv[1] if len(sys.argv) > 1 else "summary.json"
    summary = json.loads((HERE / "results" / name).read_text())
    wanted = {c["config"] for c in summary["configs"]}
    print("## Per configuration\n")
    print("| config | cases | replies compared | mismatches | note |")
    print("| --- | ---: | ---: | ---: | --- |")
    for c in summary["configs"]:
        note = ""
        if "postfix_refused" in c:
            note = f"Postfix refuses (smtpd fatal); relaysim exit {c['relaysim_rc']}"
        played = c["cases"] if "postfix_refused" not in c else 0
        print(f"| {c['config']} | {played} | {c.get('compared', 0)} | {c['mismatches']} | {note} |")
    t = summary["total"]
    played = sum(c["cases"] for c in summary["configs"] if "postfix_refused" not in c)
    agree = 100.0 * (t["compared"] - t["mismatches"]) / t["compared"]
    print(f"\n**Total**: {t['configs']} configurations, {played} SMTP sessions played, "
          f"{t['compared']} replies compared (MAIL + every RCPT), {t['mismatches']} mismatches "
          f"→ agreement {agree:.2f} %. Wall time of the run: {t['seconds']} s.\n")
    groups: OrderedDict = OrderedDict()
    for f in sorted((HERE / "results").glob("*/diff.jsonl")):
        if f.parent.name not in wanted:
            continue
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            if d["kind"] == "refusal":
                k = ("refusal", d["config"], "")
            else:
                k = (d["kind"], norm(d.get("postfix")), norm(d.get("relaysim")))
            groups.setdefault(k, []).append(d)
    print("## Every mismatch, grouped\n")
    print("Grouped by (MAIL/RCPT, Postfix reply, relaysim reply) with addresses in `<…>` "
          "masked. Each group shows its configurations and up to three example cases.\n")
    for n, (k, ds) in enumerate(groups.items(), 1):
        configs = sorted({d["config"] for d in ds})
        print(f"### G{n}. {k[0].upper()}: Postfix `{k[1]}` vs relaysim `{k[2]}` ({len(ds)} replies)\n")
        print(f"Configurations: {', '.join(configs)}\n")
        print("| config | client | sasl | greeting/helo | MAIL FROM (params) | RCPT | Postfix | relaysim (decided_by) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        seen = set()
        shown = 0
        for d in ds:
            sig = (d["config"], d.get("from"), d.get("rcpt"), d.get("helo"))
            if sig in seen:
                continue
            seen.add(sig)
            shown += 1
            if shown > 3:
                break
            def e(s):
                return str(s).replace("|", "\\|")
            print(f"| {d['config']} | {d['client']} | {d.get('sasl') or ''} | "
                  f"{d.get('greeting') or ''} {e(d.get('helo'))} | `{e(d['from'])}` {e(d.get('mail_params'))} | "
                  f"`{e(d.get('rcpt') or '(MAIL reply)')}` | {e(fmt(d.get('postfix')))} | "
                  f"{e(fmt(d.get('relaysim')))} ({d.get('decided_by') or ''}) |")
        print()


if __name__ == "__main__":
    main()

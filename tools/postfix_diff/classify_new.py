#!/usr/bin/env python3
"""Attribute the mismatches of the broadened configurations to root causes (heuristic).

Usage: classify_new.py CONFIG[,CONFIG...]   (reads results/<config>/diff.jsonl)
A mismatch is given the first cause whose test matches; RCPT replies of a session
whose MAIL reply already differed are counted as consequences.
"""
from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from run import path  # noqa: E402
from sim.policy.addresses import smtpd_tokens  # noqa: E402


def unquoted(s: str) -> str:
    return re.sub(r'"(\\.|[^"\\])*"', "Q", s)


def cause(d: dict, line: str) -> str:
    p, r = d.get("postfix") or {}, d.get("relaysim") or {}
    pt, rt = p.get("text") or "", r.get("text") or ""
    if "SASL login name rejected" in pt:
        return "C01 check_sasl_access reply says 'Client host rejected'"
    if d.get("helo") == "dip-reject.example" and d["config"] == "defer_lists_now":
        return "C02 delay_reject=no: defer_if_permit of a rejected HELO survives"
    if "defer_if_reject requested" in pt and r.get("code") == 454:
        return "C03 soft_bounce applied before defer_if_reject"
    if "regexp ext" in pt and "$1" in rt:
        return "C04 regexp $n substitution"
    if d["config"] == "delim_plusminus" and re.search(r"-\+|-x\+", line):
        return "C05 recipient_delimiter with several characters"
    if "line too long" in rt or len(line) > 512:
        return "C06 command line > 512 chars (Postfix: 2048)"
    arg = line.split(":", 1)[1]
    toks = smtpd_tokens(arg)
    a = toks[0] if toks else ""
    if a.count(">") > a.count("<"):
        return "C07 extra trailing '>'"
    if re.search(r"SIZE=\d{20}", line) and "file system" in pt:
        return "C08 SIZE overflow"
    if re.search(r"ENVID=e{101}", line):
        return "C09 ENVID longer than 100"
    inner = re.sub(r"^\(.*?\)", "", a.strip("<> ")).strip()
    if inner.startswith("@") and ":" in inner:
        inner = inner.split(":", 1)[1]
    uq = unquoted(inner)
    if inner.startswith("-") or inner.startswith('"-'):
        return "C10 address starting with '-' (allow_min_user = no)"
    if "\\" in uq:
        return "C11 backslash in an unquoted local part"
    lp = uq.rsplit("@", 1)[0] if "@" in uq else uq
    if re.search(r"[ ;\[\]]", lp) and not uq.startswith("["):
        return "C12 unquoted space ; [ ] in the local part"
    last = uq.split("!")[-1].split("%")[-1]
    if any(ord(ch) > 127 for ch in inner) and "@" not in last:
        return "C13 UTF-8 local part without @domain"
    if re.search(r'"@?"@|"@[^"]*"\s*>?$|!>?$|!"@"', a):
        return "C14 empty / '@' local part, or bang path with empty user"
    if "Helo command rejected" in pt and "?" in pt:
        return "C15 HELO name with spaces shown as '?'"
    if d["config"] == "parent_empty" and "sub of mydest" in rt:
        return "C14 empty / '@' local part, or bang path with empty user"
    if d["config"] in ("domains_tables", "mynet_hostname") and p.get("code") == 554 and r.get("code") == 250:
        return "C16 '.domain' pattern matches subdomains in parent style"
    if re.search(r"AUTH=\S+.*AUTH=", line):
        return "C17 repeated AUTH="
    return "C99 other (see diff.jsonl)"


def main() -> None:
    names = sys.argv[1].split(",")
    counts: collections.Counter = collections.Counter()
    per: dict = collections.defaultdict(collections.Counter)
    examples: dict = {}
    for n in names:
        f = HERE / "results" / n / "diff.jsonl"
        diffs = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
        mailbad = {d["case"] for d in diffs if d["kind"] == "mail"}
        for d in diffs:
            if d["kind"] == "mail":
                line = path("MAIL FROM:", d["from"] or "") + (f" {d['mail_params']}" if d["mail_params"] else "")
                c = cause(d, line)
            elif d["kind"] == "rcpt" and d["case"] in mailbad:
                c = "C00 RCPT after a MAIL mismatch (consequence)"
            elif d["kind"] == "rcpt":
                line = path("RCPT TO:", d["rcpt"])
                c = cause(d, line)
            else:
                c = "C98 " + d["kind"]
                line = ""
            counts[c] += 1
            per[c][n] += 1
            examples.setdefault(c, (n, line, d.get("postfix"), d.get("relaysim")))
    print("| cause | mismatching replies | configurations | example (config: command → Postfix / relaysim) |")
    print("| --- | ---: | --- | --- |")
    for c, v in sorted(counts.items()):
        n, line, p, r = examples[c]
        fmt = lambda x: "" if not x else f"{x.get('code')} {x.get('enhanced') or ''} {(x.get('text') or '')[:70]}"
        ex = f"{n}: `{line[:90]}` → {fmt(p)} / {fmt(r)}".replace("|", "\\|")
        print(f"| {c} | {v} | {len(per[c])} | {ex} |")
    print(f"\nTotal: {sum(counts.values())}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Differential test: relaysim's policy emulation against a real local Postfix.

For every configuration directory under configs/ (a main.cf, its table source files
and a cases.jsonl), this script

1. builds a private Postfix instance under /tmp/pfdiff/<name>/ (config dir, queue,
   data dir, maillog), listening on 127.0.0.1:<free high port> only;
2. plays every case over SMTP on loopback: EHLO harness, XCLIENT ADDR=... NAME=...
   [LOGIN=...], the case's EHLO/HELO, MAIL FROM, each RCPT, RSET, QUIT (never DATA);
3. runs ``relaysim policy check --cases`` on the very main.cf Postfix read;
4. compares the MAIL reply and every RCPT reply (code, enhanced code, text);
5. stops the instance.

Results go to results/<name>/ (postfix.jsonl, relaysim.jsonl, diff.jsonl) and
results/summary.json.  Must run as root (Postfix needs it).  See README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RELAYSIM = REPO / ".venv" / "bin" / "relaysim"
WORK = Path("/tmp/pfdiff")
TIMEOUT = 10.0
MAX_CASES = 5000  # per configuration; a bound, not a target

# Settings appended only to run safely and to make XCLIENT work.  None of them
# changes a policy decision.
HARNESS = """
# ---- harness settings (tools/postfix_diff/run.py) ----
smtpd_authorized_xclient_hosts = 127.0.0.0/8 [::1]/128
smtpd_peername_lookup = no
queue_directory = {work}/queue
data_directory = {work}/data
maillog_file = {work}/maillog
maillog_file_prefixes = /tmp
smtpd_error_sleep_time = 0
in_flow_delay = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
alias_database =
"""

SASL_CONF = """pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: {sasldb}
mech_list: PLAIN LOGIN
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_params(text: str) -> dict[str, str]:
    """main.cf name = value with continuation lines (enough to find a few names)."""
    out: dict[str, str] = {}
    name = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and name:
            out[name] += " " + raw.strip()
            continue
        key, eq, val = raw.partition("=")
        if eq:
            name = key.strip()
            out[name] = val.strip()
    return out


# ------------------------------------------------------------------- instance


class Instance:
    def __init__(self, name: str, src: Path) -> None:
        self.name = name
        self.src = src
        self.work = WORK / name
        self.conf = self.work / "conf"
        self.port = 0
        self.maillog = self.work / "maillog"

    def build(self) -> Path:
        if self.work.exists():
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True)
            shutil.rmtree(self.work)
        self.conf.mkdir(parents=True)
        (self.work / "queue").mkdir()
        (self.work / "data").mkdir()
        shutil.chown(self.work / "data", "postfix", "postfix")
        self.work.chmod(0o755)
        # Tables: copy next to the config; /etc/postfix/ paths point there.
        for f in sorted(self.src.iterdir()):
            if f.name in ("main.cf", "cases.jsonl") or f.is_dir():
                continue
            shutil.copy(f, self.conf / f.name)
        main = (self.src / "main.cf").read_text()
        main = main.replace("/etc/postfix/", f"{self.conf}/")
        params = parse_params(main)
        self.port = free_port()
        extra = HARNESS.format(work=self.work)
        if "inet_interfaces" not in params:
            extra += "inet_interfaces = 127.0.0.1\n"
        if "alias_maps" not in params:
            extra += "alias_maps =\n"
        if params.get("smtpd_sasl_auth_enable", "no").lower() == "yes":
            sasl = self.conf / "sasl"
            sasl.mkdir()
            db = self.conf / "sasldb2"
            subprocess.run(
                ["saslpasswd2", "-c", "-p", "-f", str(db), "-u", "example.com", "alice"],
                input=b"secret\n", check=True,
            )
            shutil.chown(db, "postfix", "postfix")
            (sasl / "smtpd.conf").write_text(SASL_CONF.format(sasldb=db))
            extra += f"cyrus_sasl_config_path = {sasl}\nsmtpd_sasl_type = cyrus\nsmtpd_sasl_path = smtpd\n"
        (self.conf / "main.cf").write_text(main.rstrip("\n") + "\n" + extra)
        # master.cf: the package's, no chroot, smtpd only on loopback:PORT.
        lines = []
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            f = line.split()
            if f and not line[0].isspace() and not line.startswith("#") and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = f"127.0.0.1:{self.port}"
                f[4] = "n"
                line = "\t".join(f[:8]) + ("\t" + " ".join(f[8:]) if len(f) > 8 else "")
            lines.append(line)
        (self.conf / "master.cf").write_text("\n".join(lines) + "\n")
        # postmap every indexed table the main.cf names.
        for typ, path in set(re.findall(r"\b(hash|btree|cdb):(/[^\s,]+)", main)):
            r = subprocess.run(["postmap", "-c", str(self.conf), f"{typ}:{path}"],
                               capture_output=True, text=True)
            if r.returncode:
                log(f"[{self.name}] postmap {path}: {r.stderr.strip()}")
        return self.conf / "main.cf"

    def start(self) -> tuple[bool, str]:
        r = subprocess.run(["postfix", "-c", str(self.conf), "start"],
                           capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        if r.returncode:
            return False, out
        for _ in range(50):  # wait until the port listens
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True, out
            except OSError:
                time.sleep(0.1)
        return False, out + " (port never opened)"

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True)

    def fatal_lines(self) -> list[str]:
        if not self.maillog.exists():
            return []
        return [l for l in self.maillog.read_text(errors="replace").splitlines() if "fatal:" in l]


# ------------------------------------------------------------------------ SMTP


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.transcript: list[str] = []

    def reply(self) -> str:
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    raise Closed("timeout") from None
                except OSError as exc:
                    raise Closed(f"recv: {exc}") from None
                if not data:
                    raise Closed("eof")
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                break
        self.transcript.append("S: " + " | ".join(lines))
        return lines[-1]

    def cmd(self, line: str) -> str:
        self.transcript.append("C: " + line)
        try:
            self.sock.sendall(line.encode("utf-8") + b"\r\n")
        except OSError:
            raise Closed("send") from None
        return self.reply()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def split_reply(line: str) -> dict:
    m = re.match(r"^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3}) )?(.*)$", line)
    if not m:
        return {"code": None, "enhanced": None, "text": line}
    return {"code": int(m.group(1)), "enhanced": m.group(2), "text": m.group(3)}


CLOSED_MAIL = {"code": 421, "enhanced": "4.4.2", "text": "connection closed"}
CLOSED_RCPT = {"code": None, "enhanced": None, "text": "connection closed"}


def path(prefix: str, value: str) -> str:
    # exactly as relaysim's session.py builds its commands
    return f"{prefix}{value}" if "<" in value else f"{prefix}<{value}>"


def xclient_addr(addr: str) -> str:
    ip = ipaddress.ip_address(addr)
    return f"IPV6:{addr}" if ip.version == 6 else addr


def play(port: int, case: dict) -> dict:
    rcpts = case["rcpt"] if isinstance(case["rcpt"], list) else [case["rcpt"]]
    sender = case["from"] if case["from"] is not None else ""
    params = case.get("mail_params") or ""
    if isinstance(params, list):
        params = " ".join(params)
    result: dict = {"mail": dict(CLOSED_MAIL), "rcpt": [], "transcript": []}
    conn = Conn(port)
    try:
        conn.reply()
        conn.cmd("EHLO harness.example")
        xc = f"XCLIENT ADDR={xclient_addr(case['client'])} NAME={case.get('client_name') or '[UNAVAILABLE]'}"
        if case.get("sasl"):
            xc += f" LOGIN={case['sasl']}"
        result["xclient"] = conn.cmd(xc)
        if case.get("helo") is not None:
            result["helo"] = conn.cmd(f"{(case.get('greeting') or 'EHLO').upper()} {case['helo']}")
        mail = path("MAIL FROM:", sender) + (f" {params}" if params else "")
        result["mail"] = split_reply(conn.cmd(mail))
        for r in rcpts:
            try:
                result["rcpt"].append({"address": r, **split_reply(conn.cmd(path("RCPT TO:", r)))})
            except Closed:
                result["rcpt"].append({"address": r, **CLOSED_RCPT})
                raise
        conn.cmd("RSET")
        conn.cmd("QUIT")
    except Closed as exc:
        result["closed"] = str(exc)
        done = len(result["rcpt"])
        for r in rcpts[done:]:
            result["rcpt"].append({"address": r, **CLOSED_RCPT})
    finally:
        result["transcript"] = conn.transcript
        conn.close()
    return result


# ---------------------------------------------------------------------- compare


def relaysim(main_cf: Path, cases: Path) -> tuple[int, list[dict], str]:
    r = subprocess.run([str(RELAYSIM), "policy", "check", "--main-cf", str(main_cf),
                        "--cases", str(cases)], capture_output=True, text=True, timeout=600)
    results = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    return r.returncode, results, r.stderr


def key(rep: dict) -> tuple:
    return (rep.get("code"), rep.get("enhanced"), rep.get("text"))


def run_config(name: str, src: Path, out: Path) -> dict:
    cases = [json.loads(l) for l in (src / "cases.jsonl").read_text().splitlines() if l.strip()]
    cases = cases[:MAX_CASES]
    inst = Instance(name, src)
    main_cf = inst.build()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ok, msg = inst.start()
    summary: dict = {"config": name, "cases": len(cases),
                     "rcpts": sum(len(c["rcpt"]) if isinstance(c["rcpt"], list) else 1 for c in cases)}
    pf_results: list[dict] = []
    refused = None
    try:
        if not ok:
            refused = f"postfix start failed: {msg}"
        else:
            # Probe: does smtpd greet at all? (fatal config errors: no greeting)
            try:
                c = Conn(inst.port)
                c.sock.settimeout(6)
                c.reply()
                c.close()
            except (Closed, OSError):
                time.sleep(0.5)
                refused = "smtpd sends no greeting; " + " | ".join(inst.fatal_lines()[:2])
        if refused is None:
            for case in cases:
                try:
                    pf_results.append(play(inst.port, case))
                except OSError as exc:
                    pf_results.append({"error": str(exc), "mail": dict(CLOSED_MAIL), "rcpt": []})
    finally:
        inst.stop()
    summary["postfix_seconds"] = round(time.time() - t0, 1)
    summary["fatal"] = inst.fatal_lines()[:3]
    shutil.copy(main_cf, out / "main.cf.effective")
    if inst.maillog.exists():
        shutil.copy(inst.maillog, out / "maillog")
    rc, rs_results, rs_err = relaysim(main_cf, src / "cases.jsonl")
    summary["relaysim_rc"] = rc
    summary["relaysim_stderr"] = [l for l in rs_err.splitlines() if l][:5]
    if refused is not None:
        summary["postfix_refused"] = refused
        cfg_err = rc == 2 and "error" in rs_err
        summary["mismatches"] = 0 if cfg_err else 1
        summary["compared"] = 1
        (out / "diff.jsonl").write_text(
            "" if cfg_err else json.dumps({"config": name, "kind": "refusal",
                                           "postfix": refused, "relaysim_rc": rc,
                                           "relaysim_stderr": rs_err[-500:]}) + "\n")
        return summary
    with (out / "postfix.jsonl").open("w") as f:
        for r in pf_results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with (out / "relaysim.jsonl").open("w") as f:
        for r in rs_results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    diffs = []
    compared = 0
    for i, case in enumerate(cases):
        pf = pf_results[i]
        rs = rs_results[i] if i < len(rs_results) else None
        base = {"config": name, "case": i + 1, "client": case["client"], "sasl": case.get("sasl"),
                "helo": case.get("helo"), "greeting": case.get("greeting"),
                "from": case["from"], "mail_params": case.get("mail_params") or ""}
        if rs is None:
            diffs.append({**base, "kind": "relaysim-missing", "postfix": pf["mail"]})
            continue
        compared += 1
        if key(pf["mail"]) != key(rs["mail"]):
            diffs.append({**base, "kind": "mail", "postfix": pf["mail"], "relaysim": rs["mail"],
                          "transcript": pf.get("transcript")})
        for j, prc in enumerate(pf["rcpt"]):
            compared += 1
            rrc = rs["rcpt"][j] if j < len(rs["rcpt"]) else {}
            if key(prc) != key(rrc):
                diffs.append({**base, "kind": "rcpt", "rcpt": prc["address"],
                              "postfix": {k: prc[k] for k in ("code", "enhanced", "text")},
                              "relaysim": {k: rrc.get(k) for k in ("code", "enhanced", "text")},
                              "decided_by": rrc.get("decided_by"),
                              "transcript": pf.get("transcript")})
    with (out / "diff.jsonl").open("w") as f:
        for d in diffs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    summary["compared"] = compared
    summary["mismatches"] = len(diffs)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=Path, default=HERE / "configs")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--only", default="", help="comma-separated configuration names")
    ap.add_argument("--summary", default="",
                    help="also write results/<SUMMARY> (summary of this run, even with --only)")
    ap.add_argument("--jobs", type=int, default=1, help="configurations run in parallel")
    args = ap.parse_args()
    if os.geteuid() != 0:
        log("run.py: must run as root (Postfix instances)")
        return 2
    names = sorted(p.name for p in args.configs.iterdir() if (p / "main.cf").exists())
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    WORK.mkdir(exist_ok=True)
    summaries = []
    t0 = time.time()
    def one(name: str) -> dict:
        s = run_config(name, args.configs / name, args.results / name)
        log(f"{name}: {s['cases']} cases, {s.get('compared')} replies compared, "
            f"{s['mismatches']} mismatches ({s['postfix_seconds']}s)"
            + (f" [postfix refused: {s['postfix_refused'][:80]}]" if "postfix_refused" in s else ""))
        return s

    if args.jobs > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=args.jobs) as ex:
            summaries = list(ex.map(one, names))
    else:
        summaries = [one(name) for name in names]
    total = {"configs": len(summaries), "cases": sum(s["cases"] for s in summaries),
             "compared": sum(s.get("compared", 0) for s in summaries),
             "mismatches": sum(s["mismatches"] for s in summaries),
             "seconds": round(time.time() - t0, 1)}
    if not args.only:
        (args.results / "summary.json").write_text(
            json.dumps({"total": total, "configs": summaries}, indent=1) + "\n")
    if args.summary:
        (args.results / args.summary).write_text(
            json.dumps({"total": total, "configs": summaries}, indent=1) + "\n")
    log(json.dumps(total))
    return 0


if __name__ == "__main__":
    sys.exit(main())

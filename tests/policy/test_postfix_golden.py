"""relaysim against answers recorded from a real Postfix 3.7.11 (tools/postfix_diff).

Each folder of tests/data/postfix holds a main.cf with its tables, the cases, and what
Postfix answered to MAIL and every RCPT.  Every reply must match code, enhanced status
code and text.  Regenerate with tools/postfix_diff/{run,export_golden}.py.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sim.commands.policy import case_from_json
from sim.errors import PolicyConfigError
from sim.policy.relay import RelayPolicy
from sim.smtp.session import run_session

DATA = Path(__file__).resolve().parent.parent / "data" / "postfix"
CONFIGS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def _strip(result: dict[str, object]) -> dict[str, object]:
    rcpts = [{k: v for k, v in r.items() if k != "decided_by"} for r in result["rcpt"]]  # type: ignore[attr-defined]
    return {"mail": result["mail"], "rcpt": rcpts}


def test_the_recording_covers_many_configurations() -> None:
    assert len(CONFIGS) >= 25


@pytest.mark.parametrize("config", CONFIGS)
def test_relaysim_answers_as_postfix_did(config: str) -> None:
    folder = DATA / config
    if (folder / "REFUSED").exists():
        with pytest.raises(PolicyConfigError, match="specify at least one working instance"):
            RelayPolicy.from_main_cf(folder / "main.cf")
        return
    policy = RelayPolicy.from_main_cf(folder / "main.cf")
    with gzip.open(folder / "cases.jsonl.gz", "rt", encoding="utf-8") as fh:
        cases = [line for line in fh if line.strip()]
    with gzip.open(folder / "expected.jsonl.gz", "rt", encoding="utf-8") as fh:
        expected = [json.loads(line) for line in fh if line.strip()]
    assert len(cases) == len(expected) > 0
    mismatches = []
    for number, (line, want) in enumerate(zip(cases, expected, strict=True), 1):
        got = _strip(
            run_session(policy, case_from_json(json.loads(line), f"case {number}")).as_json()
        )
        if got != want:
            mismatches.append((number, line.strip(), want, got))
    assert mismatches == [], (
        f"{len(mismatches)} of {len(cases)} cases differ; first: {mismatches[0]}"
    )

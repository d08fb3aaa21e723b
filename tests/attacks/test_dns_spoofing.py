"""scenarios/attacks/dns-spoofing.yaml: diverted without DNSSEC, deferred with it."""

from __future__ import annotations

from pathlib import Path

from sim import load_scenario, run
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "attacks" / "dns-spoofing.yaml"
HOUR = 3600.0


def play(validate: bool) -> RunResult:
    overrides = [f"mtas.out.sender.org.dnssec_validate={str(validate).lower()}"]
    return run(load_scenario(SCENARIO, overrides=overrides))


def test_a_poisoned_resolver_diverts_mail_to_the_attacker() -> None:
    result = play(validate=False)
    m = result.messages
    evil = m[(m.host == "mx.evil.example") & (m.fate == "delivered")]
    assert result.summary["attack"]["diverted_to_attacker"] == len(evil) > 150
    assert evil.final_at.min() >= HOUR  # nothing before the poisoning
    assert evil.final_at.max() <= 3 * HOUR + HOUR  # the forged record's TTL at most
    assert result.summary["lost"] == 0


def test_a_validating_resolver_turns_the_forgery_into_a_wait() -> None:
    result = play(validate=True)
    assert result.summary["attack"].get("diverted_to_attacker", 0) == 0
    m = result.messages
    assert set(m.loc[m.fate == "delivered", "host"]) == {"mx.example.com"}
    during = m[(m.injected_at > HOUR + 600) & (m.injected_at < 3 * HOUR - 600)]
    assert (during.final_at >= 3 * HOUR).all()  # deferred (SERVFAIL) until the attack ends
    events = result.events
    deferred = events[(events.kind == "deferred") & events.msg_id.isin(set(during.msg_id))]
    assert deferred.detail.str.contains("4.4.3").all()  # a DNS failure, never a bounce

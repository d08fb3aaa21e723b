"""Backscatter and the backup-MX bypass: bounces of forged spam, and their defences."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.world.engine import RunResult

FOLDER = Path(__file__).resolve().parents[2] / "scenarios" / "attacks"
INNOCENT = "mx.innocent.example"


def play(name: str, *overrides: str) -> RunResult:
    return run(load_scenario(FOLDER / name, overrides=list(overrides)), until=3600)


def bounces_at_the_innocent(result: RunResult) -> int:
    m = result.messages
    return int(((m.host == INNOCENT) & m.is_dsn.astype(bool) & (m.fate == "delivered")).sum())


@pytest.mark.parametrize(
    ("scenario", "defence"),
    [
        ("backscatter.yaml", ["mtas.mx.example.com.mailboxes=500"]),
        (
            "backup-mx-bypass.yaml",
            ["mtas.mx2.example.com.mailboxes=500", "mtas.mx2.example.com.spam_filter=true"],
        ),
    ],
)
def test_accept_then_bounce_floods_the_innocent_and_validation_stops_it(
    scenario: str, defence: list[str]
) -> None:
    weak = play(scenario)
    counts = weak.summary["attack"]
    assert counts["backscatter_bounces"] == bounces_at_the_innocent(weak) > 1000
    assert weak.summary["lost"] == 0
    # Every bounce is a real DSN to the forged sender.
    dsns = weak.messages[weak.messages.is_dsn.astype(bool) & (weak.messages.host == INNOCENT)]
    assert len(dsns) == counts["backscatter_bounces"]
    strong = play(scenario, *defence)
    assert strong.summary["attack"].get("backscatter_bounces", 0) == 0
    assert bounces_at_the_innocent(strong) == 0
    assert strong.summary["rejected_in_session"] > 1000  # refused at RCPT or DATA
    assert strong.summary["attack"]["spam_refused"] == strong.summary["rejected_in_session"]


def test_the_backup_takes_what_the_primary_refuses() -> None:
    result = play("backup-mx-bypass.yaml")
    counts = result.summary["attack"]
    assert counts["spam_accepted"] > 2500  # mx2 took all of it (1/s for 50 minutes)
    assert (
        counts["spam_filtered"] + counts["spam_rejected_unknown_user"]
        == (counts["backscatter_bounces"])
    )
    m = result.messages
    replies = set(m.loc[(m.fate == "bounced") & ~m.is_dsn.astype(bool), "reply"])
    assert "554 5.7.1 Message content rejected: spam" in replies
    assert any(
        r.startswith(
            "550 5.1.1 <user9001@example.com>: Recipient address rejected: "
            "User unknown in local recipient table"
        )
        for r in replies
    )
    assert counts.get("spam_delivered", 0) == 0  # mx1's filter caught every spam


def test_the_gateway_without_a_recipient_table_passes_valid_users_spam_on() -> None:
    result = play("backscatter.yaml")
    counts = result.summary["attack"]
    assert counts["spam_delivered"] > 100  # user7 exists: that spam lands in a mailbox
    m = result.messages
    unknown = m[(m.fate == "bounced") & ~m.is_dsn.astype(bool)]
    assert unknown.reply.str.contains("User unknown in local recipient table").all()
    assert set(unknown.host) == {"mx.example.com"}  # the gateway bounces, not the store

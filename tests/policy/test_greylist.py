"""Greylisting (postgrey 1.37 semantics): one test per rule, with concrete times."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.policy.greylist
from sim.policy.greylist import (
    DAY,
    ClientPasses,
    GreylistConfig,
    GreylistDb,
    GreylistReason,
    Seen,
    check,
    client_network,
    expire,
    greylist_action,
    normalize_sender,
    postfix_reply,
    record_delivery,
    triplet,
)
from sim.policy.replies import Reply

CLIENT = "198.51.100.7"
SENDER = "alice@example.org"
RCPT = "bob@example.com"
T0 = 1_000_000.0
NO_AWL = GreylistConfig(auto_whitelist_clients=0)
R450_GREYLISTED = Reply(
    450,
    "4.2.0",
    "<bob@example.com>: Recipient address rejected: "
    "Greylisted, see http://postgrey.schweikert.ch/help/example.com.html",
)


def attempt(
    db: GreylistDb,
    now: float,
    client: str = CLIENT,
    sender: str = SENDER,
    rcpt: str = RCPT,
    config: GreylistConfig = NO_AWL,
) -> GreylistReason:
    return check(db, triplet(client, sender, rcpt, config), client, now, config).reason


# -- the rules ---------------------------------------------------------------------------


def test_first_sighting_defers_with_postgreys_reply_as_postfix_sends_it() -> None:
    db = GreylistDb()
    decision = check(db, triplet(CLIENT, SENDER, RCPT), CLIENT, T0)
    assert decision.defer and decision.reason is GreylistReason.NEW
    assert decision.reply == R450_GREYLISTED
    assert decision.reply.line() == (
        "450 4.2.0 <bob@example.com>: Recipient address rejected: "
        "Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"
    )
    assert decision.action == (
        "DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"
    )
    assert decision.retry_in == 300
    assert db.triplets[triplet(CLIENT, SENDER, RCPT)] == Seen(T0, T0)


def test_early_retry_defers_and_keeps_first_seen() -> None:
    db = GreylistDb()
    attempt(db, T0)
    key = triplet(CLIENT, SENDER, RCPT, NO_AWL)
    decision = check(db, key, CLIENT, T0 + 120, NO_AWL)
    assert decision.reason is GreylistReason.EARLY_RETRY
    assert decision.retry_in == 180
    assert db.triplets[key] == Seen(T0, T0 + 120)
    assert attempt(db, T0 + 299) is GreylistReason.EARLY_RETRY
    assert attempt(db, T0 + 300) is GreylistReason.PASSED  # delay counted from T0


def test_retry_after_delay_passes_and_the_triplet_stays_passed() -> None:
    db = GreylistDb()
    attempt(db, T0)
    key = triplet(CLIENT, SENDER, RCPT, NO_AWL)
    first_pass = check(db, key, CLIENT, T0 + 600, NO_AWL)
    assert not first_pass.defer and first_pass.reply is None
    assert first_pass.reason is GreylistReason.PASSED and first_pass.delayed == 600
    assert first_pass.action == "DUNNO"
    assert attempt(db, T0 + 10 * DAY) is GreylistReason.KNOWN
    assert attempt(db, T0 + 10 * DAY + 35 * DAY) is GreylistReason.KNOWN  # exactly max_age
    assert db.triplets[key] == Seen(T0, T0 + 45 * DAY)


def test_passed_triplet_expires_max_age_after_it_was_last_seen() -> None:
    db = GreylistDb()
    attempt(db, T0)
    attempt(db, T0 + 600)
    assert attempt(db, T0 + 600 + 35 * DAY + 1) is GreylistReason.EXPIRED
    assert attempt(db, T0 + 600 + 35 * DAY + 301) is GreylistReason.PASSED


def test_first_retry_after_the_retry_window_starts_again() -> None:
    db = GreylistDb()
    attempt(db, T0)
    assert attempt(db, T0 + 2 * DAY) is GreylistReason.PASSED  # exactly the window
    db = GreylistDb()
    attempt(db, T0)
    key = triplet(CLIENT, SENDER, RCPT, NO_AWL)
    assert check(db, key, CLIENT, T0 + 2 * DAY + 1, NO_AWL).reason is GreylistReason.RETRY_WINDOW
    assert db.triplets[key] == Seen(T0 + 2 * DAY + 1, T0 + 2 * DAY + 1)
    assert attempt(db, T0 + 2 * DAY + 100) is GreylistReason.EARLY_RETRY
    assert attempt(db, T0 + 2 * DAY + 301) is GreylistReason.PASSED


def test_early_retries_do_not_stretch_the_retry_window() -> None:
    db = GreylistDb()
    attempt(db, T0)
    attempt(db, T0 + 60)
    assert attempt(db, T0 + 2 * DAY + 1) is GreylistReason.RETRY_WINDOW  # from first, not last


def test_null_sender_is_greylisted_with_an_empty_sender() -> None:
    db = GreylistDb()
    key = triplet(CLIENT, "", RCPT)
    assert key.sender == "" and key.key == "198.51.100.0//bob@example.com"
    assert triplet(CLIENT, "<>", RCPT) == key
    assert attempt(db, T0, sender="") is GreylistReason.NEW
    assert attempt(db, T0 + 300, sender="<>") is GreylistReason.PASSED


# -- the key ----------------------------------------------------------------------------


def test_clients_in_one_slash_24_share_a_triplet() -> None:
    db = GreylistDb()
    assert attempt(db, T0, client="198.51.100.7") is GreylistReason.NEW
    assert attempt(db, T0 + 400, client="198.51.100.200") is GreylistReason.PASSED
    assert attempt(db, T0 + 500, client="198.51.101.7") is GreylistReason.NEW


def test_ipv6_clients_are_grouped_by_slash_64() -> None:
    assert client_network("2001:db8:1:2:aaaa::1") == client_network("2001:db8:1:2:bbbb::2")
    assert client_network("2001:db8:1:2::1") == "2001:db8:1:2::"
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")


def test_lookup_by_host_and_other_prefixes() -> None:
    by_host = GreylistConfig(lookup_by_subnet=False)
    assert client_network("198.51.100.7", by_host) == "198.51.100.7"
    assert client_network("198.51.100.7", GreylistConfig(ipv4_prefix=16)) == "198.51.0.0"
    with pytest.raises(ValueError, match="client_ip: not an IP address"):
        client_network("mail.example.org")


def test_key_is_lower_case_but_the_reply_keeps_the_recipient_as_given() -> None:
    db = GreylistDb()
    upper = triplet(CLIENT, "Alice@Example.ORG", "Bob@Example.COM")
    assert upper == triplet(CLIENT, SENDER, RCPT)
    assert upper.key == "198.51.100.0/alice@example.org/bob@example.com"
    reply = check(db, upper, CLIENT, T0).reply
    assert reply is not None and reply.text.startswith("<Bob@Example.COM>: Recipient")
    assert reply.text.endswith("/help/Example.COM.html")
    assert attempt(db, T0 + 300) is GreylistReason.PASSED


@pytest.mark.parametrize(
    ("sender", "normalised"),
    [
        ("alice+lists@example.org", "alice@example.org"),  # address extension
        ("bounce-123-4567@lists.example.org", "bounce-#-#@lists.example.org"),  # VERP
        ("user123@example.org", "user123@example.org"),  # not a free-standing number
        ("prvs=0123abcdef=alice@example.org", "alice@example.org"),  # BATV
        ("prvs=alice=0123abcdef@example.org", "alice@example.org"),  # BATV, swapped
        ("MAILER-DAEMON", "MAILER-DAEMON"),  # no domain: as is
        ("", ""),
    ],
)
def test_sender_substitutions(sender: str, normalised: str) -> None:
    assert normalize_sender(sender) == normalised


# -- auto-whitelist ------------------------------------------------------------------


def _pass_greylisting(db: GreylistDb, now: float, rcpt: str, config: GreylistConfig) -> None:
    assert attempt(db, now, rcpt=rcpt, config=config).defers
    assert attempt(db, now + 300, rcpt=rcpt, config=config) is GreylistReason.PASSED


def test_client_is_auto_whitelisted_after_five_passes_an_hour_apart() -> None:
    config = GreylistConfig()
    db = GreylistDb()
    for i in range(5):
        _pass_greylisting(db, T0 + i * 3600, f"user{i}@example.com", config)
    assert db.clients[CLIENT] == ClientPasses(5, T0 + 4 * 3600 + 300)
    key = triplet(CLIENT, SENDER, "new@example.com", config)
    decision = check(db, key, CLIENT, T0 + 5 * 3600, config)
    assert decision.reason is GreylistReason.CLIENT_AWL and not decision.defer
    assert key not in db.triplets  # no triplet lookup for a whitelisted client
    # The whitelist is per address: a neighbour in the same /24 is still greylisted.
    assert attempt(db, T0 + 5 * 3600, client="198.51.100.8", config=config).defers


def test_only_one_pass_an_hour_counts_and_known_triplets_do_not_count() -> None:
    config = GreylistConfig()
    db = GreylistDb()
    for i in range(5):
        _pass_greylisting(db, T0 + i * 60, f"user{i}@example.com", config)
    assert db.clients[CLIENT].count == 1
    assert attempt(db, T0 + 7200, rcpt="user0@example.com", config=config) is GreylistReason.KNOWN
    assert db.clients[CLIENT].count == 1
    assert attempt(db, T0 + 7200, rcpt="fresh@example.com", config=config).defers


def test_auto_whitelist_off_and_expired_counts() -> None:
    db = GreylistDb()
    assert record_delivery(db, CLIENT, T0, NO_AWL) == 0 and db.clients == {}
    config = GreylistConfig(auto_whitelist_clients=1)
    assert record_delivery(db, CLIENT, T0, config) == 1
    assert attempt(db, T0 + 35 * DAY, config=config) is GreylistReason.CLIENT_AWL
    assert attempt(db, T0 + 70 * DAY + 1, rcpt="x@example.com", config=config).defers


def test_expire_drops_what_postgreys_maintenance_drops() -> None:
    db = GreylistDb()
    attempt(db, T0, rcpt="never-retried@example.com")
    attempt(db, T0, rcpt="passed@example.com")
    attempt(db, T0 + 300, rcpt="passed@example.com")
    record_delivery(db, CLIENT, T0, GreylistConfig())
    assert expire(db, T0 + 2 * DAY, NO_AWL) == 0
    assert expire(db, T0 + 2 * DAY + 1, NO_AWL) == 1
    assert [k.recipient for k in db.triplets] == ["passed@example.com"]
    assert expire(db, T0 + 300 + 35 * DAY + 1, NO_AWL) == 2
    assert db == GreylistDb()


# -- reply and configuration ------------------------------------------------------------


def test_custom_text_with_seconds_left_and_its_own_status() -> None:
    config = GreylistConfig(text="Come back in %s seconds (%r)", delay=60)
    assert greylist_action("bob@example.com", 59.2, config) == (
        "DEFER_IF_PERMIT 4.2.0 Come back in 60 seconds (example.com)"
    )
    coded = GreylistConfig(text="4.7.1 Greylisted")
    assert greylist_action(RCPT, 300, coded) == "DEFER_IF_PERMIT 4.7.1 Greylisted"
    assert postfix_reply("DEFER_IF_PERMIT Greylisted", RCPT) == Reply(
        450, "4.7.1", "<bob@example.com>: Recipient address rejected: Greylisted"
    )
    assert postfix_reply("DEFER_IF_PERMIT", RCPT, 451) == Reply(
        451, "4.7.1", "<bob@example.com>: Recipient address rejected: Service unavailable"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": -1}, "delay must be >= 0"),
        ({"retry_window": 0}, "retry_window must be > 0"),
        ({"ipv6_prefix": 129}, "ipv6_prefix must be 0..128"),
        ({"auto_whitelist_clients": -1}, "auto_whitelist_clients must be >= 0"),
        ({"defer_code": 550}, "defer_code must be a 4xx code"),
    ],
)
def test_config_validation_names_the_argument(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GreylistConfig(**kwargs)  # type: ignore[arg-type]


def test_reason_vocabulary_and_module_examples() -> None:
    assert GreylistReason.from_text(" Early-Retry ") is GreylistReason.EARLY_RETRY
    assert doctest.testmod(sim.policy.greylist).failed == 0


# -- property ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    delay=st.integers(1, 3600),
    window_extra=st.integers(1, 3 * 86400),
    data=st.data(),
)
def test_sender_retrying_at_a_fixed_interval_passes_on_its_second_attempt(
    delay: int, window_extra: int, data: st.DataObject
) -> None:
    config = GreylistConfig(delay=delay, retry_window=delay + window_extra)
    interval = data.draw(st.floats(delay, config.retry_window, exclude_min=True), "interval")
    db = GreylistDb()
    key = triplet(CLIENT, SENDER, RCPT, config)
    outcomes = [check(db, key, CLIENT, T0 + n * interval, config) for n in range(4)]
    first_pass = next(n for n, d in enumerate(outcomes) if not d.defer)
    assert first_pass == 1
    assert T0 + first_pass * interval <= T0 + delay + interval
    assert all(not d.defer for d in outcomes[first_pass:])

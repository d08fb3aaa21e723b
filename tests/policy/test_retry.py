"""Retry policy: reply classification, the five schedules, Exim rule text, properties.

Worked numbers come from retry.md §2.3 (Postfix), §3.5 (Exim) and
postfix-queue-observed.md (the real Postfix 3.7 run with short timers); qmail's from
``qmail-send.c`` ``nextretry``; the table's from the seed.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.policy.replies import Reply
from sim.policy.retry import (
    SEED_TABLE_DELAYS,
    ConnectionFailure,
    ErrorScope,
    EximAlgorithm,
    EximSchedule,
    GiveUp,
    History,
    Outcome,
    PostfixSchedule,
    QmailSchedule,
    RetryAt,
    Rfc5321Schedule,
    Schedule,
    ScheduleKind,
    Stage,
    TableSchedule,
    Timeline,
    WarnDelayed,
    build_schedule,
    classify_failure,
    classify_reply,
    format_duration,
    parse_duration,
    parse_exim_rule,
    schedule_settings,
    simulate,
)

DAY = 86400
HOST, MESSAGE, RECIPIENT = ErrorScope.HOST, ErrorScope.MESSAGE, ErrorScope.RECIPIENT
TEMP, PERM, OK = Outcome.TEMPORARY, Outcome.PERMANENT, Outcome.SUCCESS

# -- classification ---------------------------------------------------------------------

REPLIES = [
    # reply, stage, outcome, reported status, scope
    (Reply(250, "2.1.5", "Ok"), Stage.RCPT, OK, "2.1.5", RECIPIENT),
    (Reply(354, None, "End data"), Stage.DATA, OK, "2.0.0", MESSAGE),
    (
        Reply(450, "4.2.0", "Greylisted"),
        Stage.RCPT,
        TEMP,
        "4.2.0",
        RECIPIENT,
    ),
    (Reply(421, "4.4.2", "Bye"), Stage.CONNECT, TEMP, "4.4.2", HOST),
    (Reply(451, "4.3.0", "Try later"), Stage.DOT, TEMP, "4.3.0", MESSAGE),
    (
        Reply(550, "5.1.1", "User unknown"),
        Stage.RCPT,
        PERM,
        "5.1.1",
        RECIPIENT,
    ),
    (
        Reply(554, "5.7.1", "Relay denied"),
        Stage.RCPT,
        PERM,
        "5.7.1",
        RECIPIENT,
    ),
    (Reply(554, None, "No service"), Stage.CONNECT, PERM, "5.0.0", HOST),
    (Reply(552, "5.3.4", "Too big"), Stage.DOT, PERM, "5.3.4", MESSAGE),
    # the basic code wins over a disagreeing enhanced class, which takes its class
    (Reply(451, "5.1.1", "odd"), Stage.RCPT, TEMP, "4.1.1", RECIPIENT),
    (Reply(550, "4.2.2", "odd"), Stage.RCPT, PERM, "5.2.2", RECIPIENT),
    (Reply(250, "5.0.0", "odd"), Stage.MAIL, OK, "2.0.0", MESSAGE),
    # Postfix keeps 552 to RCPT permanent (RFC 5321 §4.5.3.1.10 would allow 452)
    (Reply(552, "5.2.2", "Mailbox full"), Stage.RCPT, PERM, "5.2.2", RECIPIENT),
]


@pytest.mark.parametrize(("reply", "stage", "outcome", "status", "scope"), REPLIES)
def test_classify_reply(
    reply: Reply, stage: Stage, outcome: Outcome, status: str, scope: ErrorScope
) -> None:
    verdict = classify_reply(reply, stage)
    assert (verdict.outcome, verdict.status, verdict.scope) == (outcome, status, scope)
    assert verdict.retry is (outcome is Outcome.TEMPORARY)


def test_classify_notes_flag_inconsistent_replies() -> None:
    assert classify_reply(Reply(250, "2.0.0", "Ok")).notes == ()
    odd = classify_reply(Reply(451, "5.1.1", "odd")).notes
    assert any("disagrees with 451" in n for n in odd)
    assert any("X.1.1 for permanent failures only" in n for n in odd)
    assert any("X.4.1 for transient" in n for n in classify_reply(Reply(550, "5.4.1", "x")).notes)
    assert any("X.2.2" in n for n in classify_reply(Reply(552, "5.2.2", "full"), Stage.DOT).notes)
    assert any("4.5.3.1.10" in n for n in classify_reply(Reply(552, None, "x"), Stage.RCPT).notes)


@pytest.mark.parametrize(
    ("failure", "stage", "status", "scope"),
    [
        (ConnectionFailure.REFUSED, Stage.CONNECT, "4.4.1", ErrorScope.HOST),
        (ConnectionFailure.TIMEOUT, Stage.CONNECT, "4.4.1", ErrorScope.HOST),
        (ConnectionFailure.LOST, Stage.RCPT, "4.4.2", ErrorScope.HOST),
        (ConnectionFailure.LOST, Stage.DOT, "4.4.2", ErrorScope.MESSAGE),
        (ConnectionFailure.DNS_TEMPFAIL, Stage.CONNECT, "4.4.3", ErrorScope.HOST),
        (ConnectionFailure.TLS_FAILURE, Stage.STARTTLS, "4.7.5", ErrorScope.HOST),
    ],
)
def test_connection_failures_are_temporary(
    failure: ConnectionFailure, stage: Stage, status: str, scope: ErrorScope
) -> None:
    verdict = classify_failure(failure, stage=stage)
    assert (verdict.outcome, verdict.status, verdict.scope) == (Outcome.TEMPORARY, status, scope)


def test_tls_policy_can_make_a_tls_failure_permanent() -> None:
    tls = ConnectionFailure.TLS_FAILURE
    verdict = classify_failure(tls, tls_failure=Outcome.PERMANENT)
    assert (verdict.outcome, verdict.status) == (Outcome.PERMANENT, "5.7.5")
    # the TLS policy only decides TLS failures
    refused = classify_failure(ConnectionFailure.REFUSED, tls_failure=Outcome.PERMANENT)
    assert refused.outcome is Outcome.TEMPORARY
    with pytest.raises(ValueError, match="temporary or permanent"):
        classify_failure(tls, tls_failure=Outcome.SUCCESS)


def test_vocabularies_from_text() -> None:
    assert Stage.from_text("HELO") is Stage.EHLO
    assert ConnectionFailure.from_text("TLS-Failure") is ConnectionFailure.TLS_FAILURE
    assert ScheduleKind.from_text(" Exim ") is ScheduleKind.EXIM
    assert EximAlgorithm.from_text("g") is EximAlgorithm.GEOMETRIC
    with pytest.raises(ValueError, match="expected one of: postfix, exim, qmail, table, rfc5321"):
        ScheduleKind.from_text("postfx")


# -- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "seconds"),
    [
        ("300", "s", 300),
        ("300s", "d", 300),
        ("5m", "s", 300),
        ("5", "d", 5 * DAY),
        ("4", "h", 4 * 3600),
        ("1w", "s", 7 * DAY),
        ("1h30m", "s", 5400),
        ("1.5h", "s", 5400),
    ],
)
def test_parse_duration(text: str, unit: str, seconds: int) -> None:
    assert parse_duration(text, default_unit=unit) == seconds


def test_parse_duration_error_names_the_parameter() -> None:
    with pytest.raises(InputError, match=r"^maximal_backoff_time: bad time '1x'.*s, m, h, d or w"):
        parse_duration("1x", name="maximal_backoff_time")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (300, "5m"), (3600, "1h"), (4000, "1h 6m 40s"), (432800, "5d 0h 13m 20s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# -- Postfix -------------------------------------------------------------------------------


def test_postfix_defaults_without_scan_grid_match_retry_md() -> None:
    # retry.md §2.3: defaults, instant failures, ignoring the scan phase
    tl = simulate(PostfixSchedule(queue_run_delay=0))
    assert tl.attempts[:9] == (0, 300, 600, 1200, 2400, 4800, 8800, 12800, 16800)
    assert all(b - a == 4000 for a, b in pairwise(tl.attempts[6:]))
    assert tl.give_up == 432_800 and format_duration(tl.give_up) == "5d 0h 13m 20s"
    assert len(tl.attempts) == 113


def test_postfix_defaults_on_the_scan_grid_match_retry_md() -> None:
    # deferred scans at 150 + 300k s (the default phase: half a queue_run_delay)
    tl = simulate(PostfixSchedule())
    assert tl.attempts[:7] == (0, 450, 1050, 2250, 4650, 8850, 13050)
    assert tl.give_up == 432_000 + 17 * 60 + 30  # 5 d 0 h 17 min 30 s
    assert len(tl.attempts) == 107
    assert "status=expired, returned to sender" in tl.reason


def test_postfix_delay_warning_goes_out_at_the_first_attempt_after_it() -> None:
    assert simulate(PostfixSchedule(queue_run_delay=0, delay_warning_time=4 * 3600)).warnings == (
        16_800,
    )
    assert simulate(PostfixSchedule(delay_warning_time=4 * 3600)).warnings == (17_250,)
    assert simulate(PostfixSchedule(delay_warning_time=4 * 3600), null_sender=True).warnings == ()


def test_postfix_one_decision_stamps_and_rounds_up_to_a_scan() -> None:
    assert PostfixSchedule().next_attempt(History(0.0), 0.0) == RetryAt(450.0, due=300.0)
    # the back-off counts the message's age, not the time since the last try
    assert PostfixSchedule(queue_run_delay=0).next_attempt(History(0.0), 3000.0) == RetryAt(
        6000.0, due=6000.0
    )
    # a stamp up to 1 s after a scan is due at that scan
    on_grid = PostfixSchedule(scan_phase=0)
    assert on_grid.next_attempt(History(0.0), 1.0).t == 300.0


@pytest.mark.parametrize("phase", range(15))
def test_postfix_matches_the_observed_short_timer_run(phase: int) -> None:
    # postfix-queue-observed.md: backoff 15..60 s, scans every 15 s, lifetime 6 min,
    # delay_warning_time 2 min; first retry 14..28 s later, expiry at ages 360..419 s,
    # delay notices at ages 118..178 s, at most one per message.
    schedule = PostfixSchedule(
        minimal_backoff_time=15,
        maximal_backoff_time=60,
        queue_run_delay=15,
        maximal_queue_lifetime=360,
        bounce_queue_lifetime=360,
        delay_warning_time=120,
        scan_phase=phase,
    )
    tl = simulate(schedule)
    gaps = [b - a for a, b in pairwise(tl.attempts)]
    assert 14 <= gaps[0] <= 28
    assert all(g <= 60 + 15 for g in gaps)
    assert 360 <= tl.give_up <= 419
    assert len(tl.warnings) == 1 and 118 <= tl.warnings[0] <= 178


def test_postfix_lifetimes() -> None:
    schedule = PostfixSchedule(bounce_queue_lifetime=10 * DAY)
    assert schedule.lifetime(null_sender=True) == 5 * DAY  # clamped to maximal_queue_lifetime
    short = PostfixSchedule(bounce_queue_lifetime=DAY)
    assert simulate(short, null_sender=True).give_up < 2 * DAY
    # maximal_queue_lifetime = 0: try once
    once = simulate(PostfixSchedule(maximal_queue_lifetime=0))
    assert once.attempts == (0.0,) and once.give_up == 0.0


# -- Exim ------------------------------------------------------------------------------------

EXIM_MINUTES = [
    *range(0, 136, 15),  # F,2h,15m: the attempt at 120 min still has failing <= 2h
    195,
    285,
    420,
    622.5,
    926.25,
    1381.87,  # G,16h,1h,1.5 (Exim keeps whole seconds: 27337 s, not 27337.5)
    *(1381.87 + 360 * k for k in range(1, 14)),  # F,4d,6h
]


def test_exim_default_rule_matches_retry_md() -> None:
    tl = simulate(EximSchedule())
    assert [round(t / 60, 2) for t in tl.attempts] == pytest.approx(EXIM_MINUTES, abs=0.01)
    assert len(tl.attempts) == 29
    assert tl.give_up == 363_712 and format_duration(tl.give_up) == "4d 5h 1m 52s"
    assert "retry timeout exceeded" in tl.reason


def test_exim_g_rule_multiplies_the_smaller_of_predicted_and_actual_gap() -> None:
    schedule = EximSchedule(rule=parse_exim_rule("G,1d,1h,2"))
    history = History.of(0.0, (0.0,), retry_at=3600.0)
    # tried late (at 5000 s, predicted gap 3600): the predicted gap is doubled
    assert schedule.next_attempt(history, 5000.0) == RetryAt(5000.0 + 7200)
    # tried early (forced, at 1000 s < 1h): the initial interval again
    assert schedule.next_attempt(history, 1000.0) == RetryAt(1000.0 + 3600)


def test_exim_retry_interval_max_caps_every_gap() -> None:
    schedule = EximSchedule(rule=parse_exim_rule("G,10d,1h,10"), retry_interval_max=6 * 3600)
    tl = simulate(schedule)
    gaps = [b - a for a, b in pairwise(tl.attempts)]
    assert gaps[:3] == [3600, 21600, 21600]
    with pytest.raises(InputError, match="retry_interval_max must be in"):
        build_schedule(ScheduleKind.EXIM, {"retry_interval_max": "2d"})


def test_exim_h_rule_draws_between_the_bounds() -> None:
    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    schedule = EximSchedule(rule=parse_exim_rule("H,1d,1h,3"))
    history = History.of(0.0, (0.0,), retry_at=3600.0)  # lastgap 1h -> ng 3h
    low = schedule.next_attempt(history, 3600.0, Fixed(0.0))
    high = schedule.next_attempt(history, 3600.0, Fixed(0.9999))
    mid = schedule.next_attempt(history, 3600.0)
    assert isinstance(low, RetryAt) and isinstance(high, RetryAt) and isinstance(mid, RetryAt)
    assert low.t == 3600 + 3600 + 3600  # initial + (ng - initial)/2
    assert 3600 + 3600 + 3600 < high.t < 3600 + 3 * 3600
    assert low.t < mid.t < high.t


def test_exim_queue_runs_skip_until_the_retry_time_and_force_the_final_try() -> None:
    schedule = EximSchedule(queue_run_interval=1800)
    tl = simulate(schedule)
    minutes = [t / 60 for t in tl.attempts]
    assert minutes[:7] == [0, 30, 60, 90, 120, 150, 210]  # 15 min retries, 30 min runs
    # the first run after the message outlived the final cutoff (4d) tries and times out
    assert tl.give_up == 4 * DAY + 1800
    history = History.of(0.0, (0.0,), retry_at=900.0)
    assert not schedule.retry_time_reached(history, 600.0)  # "retry time not reached"
    assert schedule.retry_time_reached(history, 900.0)
    assert schedule.retry_time_reached(History.of(0.0, (0.0,), retry_at=5 * DAY), 4 * DAY + 1)


def test_exim_host_and_message_errors() -> None:
    schedule = EximSchedule()
    # a host that has been failing for 5 days: a new message times out at once
    old = History(10 * DAY, host_failing_since=5 * DAY)
    assert isinstance(schedule.next_attempt(old, 10 * DAY), GiveUp)
    # a message error uses the message's age when that is longer than the failing time
    late = History(0.0, scope=ErrorScope.MESSAGE)
    assert schedule.next_attempt(late, 3 * 3600.0) == RetryAt(3 * 3600.0 + 3600)  # G rule
    host = History(0.0, scope=ErrorScope.HOST)
    assert schedule.next_attempt(host, 3 * 3600.0) == RetryAt(3 * 3600.0 + 900)  # F rule


def test_exim_rule_without_parameter_sets_never_retries() -> None:
    tl = simulate(EximSchedule(rule=parse_exim_rule("*  *")))
    assert tl.attempts == (0.0,) and "no parameter sets" in tl.reason


def test_exim_delay_warnings() -> None:
    tl = simulate(EximSchedule())  # delay_warning = 24h, repeating
    assert tl.warnings == (104_512, 190_912, 277_312)
    assert simulate(EximSchedule(), null_sender=True).warnings == ()
    assert simulate(EximSchedule(delay_warning=(0.0,))).warnings == ()
    listed = EximSchedule(delay_warning=(4 * 3600.0, 8 * 3600.0, 24 * 3600.0))
    due = [listed._warnings_due(h * 3600.0) for h in (3, 4, 8, 23, 24, 39, 40, 56)]
    assert due == [0, 1, 2, 2, 3, 3, 4, 5]  # after the list, every last gap (16h)
    decision = EximSchedule().next_attempt(History.of(0.0, (0.0,), retry_at=0.0), 3 * DAY)
    assert isinstance(decision, WarnDelayed) and decision.number == 3


# -- Exim rule text ---------------------------------------------------------------------------


def test_parse_the_default_rule() -> None:
    rule = parse_exim_rule("*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h")
    assert rule == parse_exim_rule("F,2h,15m; G,16h,1h,1.5; F,4d,6h")
    assert [(p.algorithm.value, p.cutoff, p.interval, p.multiplier) for p in rule.params] == [
        ("F", 7200, 900, None),
        ("G", 57600, 3600, 1.5),
        ("F", 345600, 21600, None),
    ]
    assert rule.final_cutoff == 4 * DAY
    assert rule.text() == "* * F,2h,15m; G,16h,1h,1.5; F,4d,6h"


@pytest.mark.parametrize(
    "text",
    [
        "example.com rcpt_452 senders=a@b.example F,1h,5m",
        "*.example timeout_connect_MX F,1h,5m;",
        "* quota_7d f,1h30m,5m",
        "* mail_45x g , 2h , 10m , 2",
        "^\\N.*\\N$ lost_connection H,1d,1h,1.5",
    ],
)
def test_parse_rule_forms(text: str) -> None:
    assert parse_exim_rule(text).params


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("F,2h,15m; G,16h,1h", "column 19: expected ',' and a multiplier"),
        ("X,2h,15m", "column 1: expected a retry algorithm letter F, G or H, found 'X'"),
        ("F,2x,15m", "column 3: expected a cutoff time such as 15m, 2h or 4d, found '2x'"),
        ("F,2h", "column 5: expected ',' and an interval, found end of text"),
        ("F,2h,15m,3", "column 9: expected ';' or end of rule (F takes a cutoff and an interval"),
        ("F,2h,15m G,16h,1h,1.5", "column 10: expected ';' between parameter sets, found 'G'"),
        ("G,16h,1h,0.5", "column 10: expected a multiplier of at least 1, found '0.5'"),
        ("G,16h,1h,1.2345", "column 10: expected a multiplier such as 1.5 (at most 3 decimals)"),
        ("F,0s,15m", "column 3: expected a cutoff time greater than zero"),
        ("* bogus F,2h,15m", "column 3: expected an error name"),
        ("F 2h", "column 2: expected ',' after the retry algorithm letter F"),
        ("", "column 1: expected retry parameter sets"),
    ],
)
def test_bad_rule_text_names_the_column_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InputError, match="^retry rule .*: " + _escape(message)):
        parse_exim_rule(text)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# -- qmail, the seed's table, RFC 5321 ------------------------------------------------------------


def test_qmail_quadratic_schedule() -> None:
    tl = simulate(QmailSchedule())
    assert tl.attempts == tuple(float((20 * k) ** 2) for k in range(40))
    assert tl.give_up == 608_400  # first attempt past queuelifetime (7 days)
    assert "in the queue too long" in tl.reason
    local = simulate(QmailSchedule(chanskip=10))
    assert local.attempts[:5] == (0, 100, 400, 900, 1600)
    # qmail compares with '>': a try exactly at the lifetime is still a deferral
    assert simulate(QmailSchedule(queuelifetime=400)).attempts == (0, 400, 1600)


def test_seed_table() -> None:
    tl = simulate(TableSchedule())
    assert TableSchedule().delays == SEED_TABLE_DELAYS
    # the seed: 5 min, 15 min, 45 min, 1.75 h, 3.75 h cumulative, then every 4 h
    assert tl.attempts[:7] == (0, 300, 900, 2700, 6300, 13500, 27900)
    assert 5 * DAY <= tl.give_up <= 7 * DAY  # "Final: 5-7 days"
    assert tl.give_up == 445_500


def test_rfc5321_schedule() -> None:
    tl = simulate(Rfc5321Schedule())
    gaps = [b - a for a, b in pairwise(tl.attempts)]
    assert min(gaps) >= 1800  # SHOULD be at least 30 minutes
    assert tl.attempts[:4] == (0, 1800, 3600, 3600 + 7200)  # two retries in the first hour
    assert 4 * DAY <= tl.give_up <= 5 * DAY + 7200
    with pytest.raises(InputError, match=r"retry_interval SHOULD be >= 30m \(RFC 5321"):
        build_schedule(ScheduleKind.RFC5321, {"retry_interval": "10m"})


# -- building schedules from text ---------------------------------------------------------------


def test_build_schedule_from_settings() -> None:
    schedule = build_schedule(
        ScheduleKind.POSTFIX, {"maximal_backoff_time": "1h", "maximal_queue_lifetime": "2"}
    )
    assert isinstance(schedule, PostfixSchedule)
    assert schedule.maximal_backoff_time == 3600 and schedule.maximal_queue_lifetime == 2 * DAY
    assert build_schedule(ScheduleKind.POSTFIX, {"delay_warning_time": "4"}).delay_warning_time == (
        4 * 3600
    )
    table = build_schedule(ScheduleKind.TABLE, rule="1m,2m")
    assert isinstance(table, TableSchedule) and table.delays == (60, 120)
    exim = build_schedule(ScheduleKind.EXIM, {"delay_warning": "4h:8h"}, rule="F,1d,1h")
    assert isinstance(exim, EximSchedule) and exim.delay_warning == (14400, 28800)
    assert schedule_settings(PostfixSchedule())["maximal_backoff_time"] == "4000s"
    assert schedule_settings(PostfixSchedule())["maximal_queue_lifetime"] == "5d"
    assert schedule_settings(EximSchedule())["rule"] == "* * F,2h,15m; G,16h,1h,1.5; F,4d,6h"


def test_build_schedule_errors() -> None:
    with pytest.raises(InputError) as err:
        build_schedule(ScheduleKind.POSTFIX, {"maximal_backoff": "1h"})
    assert str(err.value) == (
        "unknown postfix parameter 'maximal_backoff' (expected one of: bounce_queue_lifetime, "
        "delay_warning_time, maximal_backoff_time, maximal_queue_lifetime, "
        "minimal_backoff_time, queue_run_delay, scan_phase)"
    )
    with pytest.raises(InputError, match="postfix minimal_backoff_time: bad time 'soon'"):
        build_schedule(ScheduleKind.POSTFIX, {"minimal_backoff_time": "soon"})
    with pytest.raises(InputError, match="--rule applies to the exim and table schedules"):
        build_schedule(ScheduleKind.QMAIL, rule="F,1h,1m")
    with pytest.raises(InputError, match="chanskip: expected a whole number"):
        build_schedule(ScheduleKind.QMAIL, {"chanskip": "1.5"})


def test_history_is_validated_and_recorded() -> None:
    with pytest.raises(ValueError, match="must not come before first_failure"):
        History.of(0.0, (10.0, 5.0))
    with pytest.raises(ValueError, match="before the message arrived"):
        History.of(100.0, (5.0,))
    with pytest.raises(ValueError, match="go together"):
        History(0.0, failures=2)
    history = History(0.0).record(0.0, WarnDelayed(450.0, due=300.0))
    assert history == History(0.0, 1, 0.0, 0.0, retry_at=300.0, warnings_sent=1)
    later = history.record(450.0, GiveUp("x"))
    assert (later.failures, later.first_failure, later.last_failure) == (2, 0.0, 450.0)
    assert later.retry_at is None and later.warnings_sent == 1


# -- properties --------------------------------------------------------------------------------

minutes = st.integers(min_value=1, max_value=24 * 60).map(lambda m: m * 60.0)


@st.composite
def postfix_schedules(draw: st.DrawFn) -> Schedule:
    low = draw(st.integers(min_value=60, max_value=3600))
    return PostfixSchedule(
        minimal_backoff_time=low,
        maximal_backoff_time=draw(st.integers(min_value=600, max_value=6 * 3600)),
        queue_run_delay=draw(st.sampled_from([0, 60, 300, 1000])),
        maximal_queue_lifetime=draw(st.integers(min_value=0, max_value=7 * DAY)),
        bounce_queue_lifetime=draw(st.integers(min_value=0, max_value=7 * DAY)),
        delay_warning_time=draw(st.integers(min_value=0, max_value=2 * DAY)),
        scan_phase=draw(st.integers(min_value=0, max_value=999)),
    )


@st.composite
def exim_schedules(draw: st.DrawFn) -> Schedule:
    count = draw(st.integers(min_value=1, max_value=4))
    cutoffs = sorted(draw(st.sets(st.integers(1, 120), min_size=count, max_size=count)))
    sets = []
    for cutoff in cutoffs:
        letter = draw(st.sampled_from("FGH"))
        interval = draw(st.integers(min_value=15, max_value=600))
        text = f"{letter},{cutoff}h,{interval}m"
        if letter != "F":
            text += f",{draw(st.sampled_from(['1', '1.5', '2', '3.25']))}"
        sets.append(text)
    return EximSchedule(
        rule=parse_exim_rule("; ".join(sets)),
        retry_interval_max=draw(st.integers(min_value=3600, max_value=DAY)),
        queue_run_interval=draw(st.sampled_from([0, 300, 1800])),
    )


@st.composite
def other_schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(["qmail", "table", "rfc5321"]))
    if kind == "qmail":
        return QmailSchedule(
            queuelifetime=draw(st.integers(0, 14 * DAY)), chanskip=draw(st.integers(1, 40))
        )
    if kind == "table":
        delays = draw(st.lists(minutes, min_size=1, max_size=8))
        return TableSchedule(delays=tuple(delays), queue_lifetime=draw(st.integers(0, 7 * DAY)))
    return Rfc5321Schedule(
        retry_interval=draw(st.integers(1800, 3 * 3600)),
        later_interval=draw(st.integers(3 * 3600, 6 * 3600)),
        early_period=draw(st.integers(0, 6 * 3600)),
        give_up=draw(st.integers(4 * DAY, 7 * DAY)),
    )


def _check_timeline(schedule: Schedule, tl: Timeline, arrival: float, null: bool) -> None:
    attempts = tl.attempts
    assert attempts[0] == arrival
    assert all(b > a for a, b in pairwise(attempts)), "strictly increasing"
    assert tl.give_up == attempts[-1], "the give-up is noticed at an attempt"
    lifetime = schedule.lifetime(null)
    assert tl.give_up - arrival >= lifetime, "no give-up before the queue lifetime"
    if len(attempts) > 1:
        assert attempts[-2] - arrival <= lifetime, "no attempt after the queue lifetime"
    assert all(arrival <= w <= tl.give_up for w in tl.warnings)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    schedule=st.one_of(postfix_schedules(), exim_schedules(), other_schedules()),
    arrival=st.integers(min_value=0, max_value=10 * DAY),
    null=st.booleans(),
)
def test_retry_times_increase_and_stop_at_the_queue_lifetime(
    schedule: Schedule, arrival: int, null: bool
) -> None:
    tl = simulate(schedule, arrival=float(arrival), null_sender=null)
    _check_timeline(schedule, tl, float(arrival), null)
    if isinstance(schedule, PostfixSchedule):
        gap = max(schedule.maximal_backoff_time, schedule.minimal_backoff_time)
        late = gap + schedule.queue_run_delay + 1
        assert tl.give_up - arrival < schedule.lifetime(null) + late
        assert len(tl.warnings) <= (0 if null else 1)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(schedule=exim_schedules())
def test_exim_gaps_respect_retry_interval_max(schedule: Schedule) -> None:
    assert isinstance(schedule, EximSchedule)
    tl = simulate(schedule)
    grid = schedule.queue_run_interval
    gaps = [b - a for a, b in pairwise(tl.attempts)]
    assert all(g <= schedule.retry_interval_max + grid for g in gaps)

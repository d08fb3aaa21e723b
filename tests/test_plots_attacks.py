"""The STARTTLS attack matrix plot: one coloured square per (setup, attack) cell."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.plots.attacks import EXPOSURE_COLOURS, EXPOSURE_WORDS, plot_tls_attack_matrix
from sim.policy.certs import make_ca, make_leaf, make_self_signed
from sim.policy.tls_attacks import SENDER_SETUPS, Attack, Cell, Exposure, outcome_matrix, to_frame

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cells() -> list[Cell]:
    ca = make_ca(not_before=START, not_after=END)
    server = make_leaf(ca, ["mx.example.com"], not_before=START, not_after=END)
    forged = make_self_signed(["mx.example.com"], not_before=START, not_after=END)
    other = make_leaf(ca, ["mail.attacker.example"], not_before=START, not_after=END)
    return outcome_matrix(
        NOW,
        (server.certificate, ca.certificate),
        (ca.certificate,),
        (forged.certificate,),
        attacker_trusted_chain=(other.certificate, ca.certificate),
    )


def squares(ax: Axes) -> dict[str, Rectangle]:
    return {
        str(p.get_gid()): p
        for p in ax.patches
        if isinstance(p, Rectangle) and p.get_gid() is not None
    }


def test_returns_axes_with_title_labels_and_legend(cells: list[Cell], tmp_path: Path) -> None:
    ax = plot_tls_attack_matrix(cells)
    assert isinstance(ax, Axes)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(SENDER_SETUPS)
    assert len(ax.get_xticklabels()) == len(Attack)
    legend = ax.get_legend()
    assert legend is not None and len(legend.get_texts()) == len(Exposure)
    assert "bounces at once" in legend.get_title().get_text()  # the 5xx footnote
    path = tmp_path / "matrix.png"
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    figure.savefig(path)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_draws_on_the_axes_it_is_given(cells: list[Cell]) -> None:
    ax = Figure().add_subplot()
    assert plot_tls_attack_matrix(cells, ax=ax) is ax
    assert len(squares(ax)) == len(cells)


def test_each_square_has_the_colour_and_word_of_its_exposure(cells: list[Cell]) -> None:
    ax = plot_tls_attack_matrix(cells)
    drawn = squares(ax)
    texts = [t.get_text() for t in ax.texts]
    for cell in cells:
        square = drawn[f"{cell.setup}|{cell.attack.value}"]
        assert to_hex(square.get_facecolor()) == EXPOSURE_COLOURS[cell.exposure]
    # the key stories, by colour
    red = EXPOSURE_COLOURS[Exposure.PLAINTEXT_EXPOSED]
    grey = EXPOSURE_COLOURS[Exposure.DEFERRED]
    assert to_hex(drawn["may|strip"].get_facecolor()) == red
    assert to_hex(drawn["dane|intercept"].get_facecolor()) == grey
    assert texts.count(EXPOSURE_WORDS[Exposure.AUTHENTICATED]) == 4  # verify, dane, 2 x sts
    assert "defer 4.7.4" in texts and "tls, dane" in texts
    assert EXPOSURE_WORDS[Exposure.DEFERRED] + "*" in texts  # 5xx: Postfix bounces


def test_colours_are_distinct() -> None:
    assert len(set(EXPOSURE_COLOURS.values())) == len(Exposure)
    assert set(EXPOSURE_COLOURS) == set(Exposure) == set(EXPOSURE_WORDS)


@pytest.mark.parametrize("as_text", [False, True])
def test_accepts_a_frame_of_exposures(cells: list[Cell], as_text: bool) -> None:
    frame = to_frame(cells)
    if as_text:
        frame = frame.map(lambda e: e.value)
    ax = plot_tls_attack_matrix(frame)
    drawn = squares(ax)
    assert len(drawn) == frame.size
    colour = EXPOSURE_COLOURS[Exposure.ENCRYPTED_TO_ATTACKER]
    assert to_hex(drawn["encrypt|intercept"].get_facecolor()) == colour
    legend = ax.get_legend()
    assert legend is not None and not legend.get_title().get_text()  # no verdicts, no note


def test_a_partial_frame() -> None:
    frame = pd.DataFrame(
        {"strip": [Exposure.PLAINTEXT_EXPOSED, None], "custom": ["deferred", "authenticated"]},
        index=["may", "verify"],
    )
    ax = plot_tls_attack_matrix(frame)
    assert set(squares(ax)) == {"may|strip", "may|custom", "verify|custom"}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["strip\nSTARTTLS", "custom"]

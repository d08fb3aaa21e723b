"""The STARTTLS attack matrix: sender TLS setups against an on-path attacker, as a heatmap.

One coloured square per (setup, attack) cell of
:func:`sim.policy.tls_attacks.outcome_matrix`: red when the message goes out in
plaintext, dark orange when it goes over TLS the attacker terminated, amber for TLS to
the real server without authentication, green for authenticated TLS and grey when the
policy refuses to send.  Object-oriented matplotlib only: without ``ax`` the plot makes
its own :class:`~matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import ScaledTranslation

from sim.policy.tls import Outcome, Verdict
from sim.policy.tls_attacks import Attack, Cell, Exposure, to_frame

__all__ = ["EXPOSURE_COLOURS", "EXPOSURE_WORDS", "plot_tls_attack_matrix"]

#: Fill colour of each exposure (red, dark orange, amber, green, grey).
EXPOSURE_COLOURS: dict[Exposure, str] = {
    Exposure.PLAINTEXT_EXPOSED: "#cc3311",
    Exposure.ENCRYPTED_TO_ATTACKER: "#a6520a",
    Exposure.ENCRYPTED_UNAUTHENTICATED: "#f2b134",
    Exposure.AUTHENTICATED: "#1b7837",
    Exposure.DEFERRED: "#9e9e9e",
}
#: The word written in each cell.
EXPOSURE_WORDS: dict[Exposure, str] = {
    Exposure.PLAINTEXT_EXPOSED: "exposed",
    Exposure.ENCRYPTED_TO_ATTACKER: "to attacker",
    Exposure.ENCRYPTED_UNAUTHENTICATED: "unauth. TLS",
    Exposure.AUTHENTICATED: "safe",
    Exposure.DEFERRED: "not sent",
}
_LEGEND: dict[Exposure, str] = {
    Exposure.PLAINTEXT_EXPOSED: "exposed: sent in plaintext, the attacker reads it",
    Exposure.ENCRYPTED_TO_ATTACKER: "to attacker: TLS ended by the attacker, who reads it",
    Exposure.ENCRYPTED_UNAUTHENTICATED: "unauth. TLS: to the real server, not authenticated",
    Exposure.AUTHENTICATED: "safe: TLS to the authenticated real server",
    Exposure.DEFERRED: "not sent: the policy refused (deferred; bounces if the attack lasts)",
}
_FOOTNOTE = (
    "* STARTTLS refused with 5xx: Postfix fails the host with the server's own status, so the "
    "message\nbounces at once instead of waiting in the queue (unless soft_bounce = yes)"
)
_DARK = {Exposure.PLAINTEXT_EXPOSED, Exposure.ENCRYPTED_TO_ATTACKER, Exposure.AUTHENTICATED}
_ATTACK_TICKS = {
    Attack.NONE: "no attacker",
    Attack.STRIP: "strip\nSTARTTLS",
    Attack.STARTTLS_4XX: "STARTTLS\n→ 454 4.7.0",
    Attack.STARTTLS_5XX: "STARTTLS\n→ 5xx",
    Attack.INTERCEPT: "intercept\n(own cert)",
    Attack.INTERCEPT_TRUSTED_OTHER_NAME: "intercept\n(trusted CA,\nother name)",
}


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def _exposure(value: object) -> Exposure:
    if isinstance(value, Exposure):
        return value
    if isinstance(value, Cell):
        return value.exposure
    return Exposure.from_text(str(value))


def _attack_tick(column: object) -> str:
    try:
        attack = column if isinstance(column, Attack) else Attack.from_text(str(column))
    except ValueError:
        return str(column)
    return _ATTACK_TICKS[attack]


def _detail(verdict: Verdict) -> str:
    """The verdict under the word: ``defer 4.7.4``, ``plaintext``, ``tls, dane``."""
    if verdict.outcome is Outcome.DEFER:
        return f"defer {verdict.status}"
    if verdict.outcome is Outcome.PLAINTEXT:
        return "plaintext"
    return f"tls, {verdict.via.value}" if verdict.via is not None else "tls, no auth"


def _write(ax: Axes, xy: tuple[float, float], text: str, colour: str, *, bold: bool) -> None:
    ax.text(
        *xy,
        text,
        ha="center",
        va="center",
        color=colour,
        fontsize=10 if bold else 7.5,
        fontweight="bold" if bold else "normal",
    )


def plot_tls_attack_matrix(data: Sequence[Cell] | pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Heatmap of sender setups (rows) against attacks (columns), coloured by exposure.

    ``data`` is the list of cells of :func:`~sim.policy.tls_attacks.outcome_matrix`, or
    a frame of :func:`~sim.policy.tls_attacks.to_frame` (values :class:`Exposure`,
    their text, or cells).  With cells, each square also shows the verdict (``defer
    4.7.4``, ``tls, dane``, ...) and a ``*`` where real Postfix does more than the
    verdict says (explained under the plot).  Each square is a
    :class:`~matplotlib.patches.Rectangle` whose ``gid`` is ``"<setup>|<attack>"``.
    """
    frame = data if isinstance(data, pd.DataFrame) else to_frame(list(data), value="cell")
    rows = [str(r) for r in frame.index]
    columns = list(frame.columns)
    ax = _axes(ax, (2.0 + 1.55 * len(columns), 1.6 + 0.62 * len(rows)))
    notes: list[str] = []
    for i, setup in enumerate(rows):
        for j, column in enumerate(columns):
            value = frame.iat[i, j]
            if value is None or (isinstance(value, float) and pd.isna(value)):
                continue
            exp = _exposure(value)
            ax.add_patch(
                Rectangle(
                    (j, i),
                    1,
                    1,
                    facecolor=EXPOSURE_COLOURS[exp],
                    edgecolor="white",
                    linewidth=2,
                    gid=f"{setup}|{column}",
                )
            )
            colour = "white" if exp in _DARK else "black"
            word = EXPOSURE_WORDS[exp]
            if isinstance(value, Cell):
                if value.note:
                    word += "*"
                    if value.note not in notes:
                        notes.append(value.note)
                _write(ax, (j + 0.5, i + 0.42), word, colour, bold=True)
                _write(ax, (j + 0.5, i + 0.72), _detail(value.verdict), colour, bold=False)
            else:
                _write(ax, (j + 0.5, i + 0.5), word, colour, bold=True)
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)  # first setup at the top
    ticks = [_attack_tick(c) for c in columns]
    ax.set_xticks([j + 0.5 for j in range(len(columns))], ticks)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows)
    ax.tick_params(length=0)
    ax.tick_params(axis="x", labelsize=9)
    ax.tick_params(axis="y", labelsize=10)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("what the attacker on the path between sender and MX does")
    ax.set_ylabel("sender TLS setup")
    ax.set_title("STARTTLS stripping and interception: where the message ends up")
    below = 11 * max(t.count("\n") + 1 for t in ticks) + 24  # points: tick labels, x label
    handles = [Patch(facecolor=EXPOSURE_COLOURS[e], label=_LEGEND[e]) for e in Exposure]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        # below the tick labels and the x label, whatever the height of the axes
        bbox_transform=ax.transAxes + ScaledTranslation(0, -below / 72, ax.figure.dpi_scale_trans),
        ncol=2,
        fontsize=8.5,
        frameon=False,
        title=_FOOTNOTE if notes else None,  # in the legend, so the layout makes room
        title_fontsize=8,
    )
    return ax

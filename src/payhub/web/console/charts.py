"""Charts for the console, drawn as SVG on the server (no chart script in the browser).

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that say in words what
it shows, so a screen reader gets the figures too; bars and points carry their own
`<title>` (the tooltip). Colours are presentation attributes, not `style`: the CSP allows
no inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28
PALETTE = ("#1f6feb", "#137333", "#b3261e", "#8a5a00", "#6f42c1", "#0b7285")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float | None]


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> Markup:
    # Every text in `body` went through `escape` and every number was formatted here: the
    # markup is ours alone.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _axis(labels: Sequence[str], top_label: str) -> list[str]:
    plot_w = WIDTH - LEFT - RIGHT
    base = HEIGHT - BOTTOM
    out = [
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#d5dbe3"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#d5dbe3"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{escape(top_label)}</text>',
        f'<text x="{LEFT - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    step = max(1, len(labels) // 8)
    slot = plot_w / max(1, len(labels))
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            x = LEFT + slot * (i + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    return out


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    shown: Sequence[str],
    top_label: str,
) -> Markup:
    """One bar per label; `shown` is each value as text (the bar's tooltip)."""
    peak = max(values, default=0) or 1
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(values))
    body = _axis(labels, top_label)
    for i, value in enumerate(values):
        h = plot_h * value / peak
        x = LEFT + slot * i + slot * 0.15
        y = HEIGHT - BOTTOM - h
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(labels[i])}: {escape(shown[i])}</title></rect>'
        )
    desc = "; ".join(f"{labels[i]}: {shown[i]}" for i in range(len(values)))
    return _frame(chart_id, title, desc, body)


def rate_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    """Lines of rates (0..1) per day, one per series; a day without data is a gap."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    body = _axis(labels, "100%")
    legend_x = LEFT + 8
    descs = []
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = LEFT + slot * (i + 0.5)
            y = HEIGHT - BOTTOM - plot_h * v
            points.append((x, y, i, v))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y, i, v in points:
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(s.label)} {escape(labels[i])}: {v:.0%}</title></circle>"
            )
        body.append(
            f'<rect x="{legend_x}" y="{TOP + 2}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{TOP + 11}">{escape(s.label)}</text>'
        )
        legend_x += 14 + 8 * len(s.label) + 16
        shown = [f"{labels[i]} {v:.0%}" for _, _, i, v in points]
        descs.append(f"{s.label}: " + (", ".join(shown) if shown else "no attempts"))
    return _frame(chart_id, title, "; ".join(descs), body)

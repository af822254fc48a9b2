"""The learning curve as SVG geometry: metric per model version against labels, with axes; the
audit sample's accuracy beside the cross-validated figures, with its 95 % interval as whiskers."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 32


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    points: str  # "x,y x,y ..." for an SVG polyline
    dots: list[tuple[float, float, str]]  # (x, y, title)
    whiskers: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y_lo, y_hi)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[Series]
    plot: tuple[int, int, int, int]  # left, top, right, bottom
    note: str | None = None  # said under the chart when one point cannot make a curve
    dot_radius: float = 3.0


def _nice_ticks(maximum: float, count: int = 5) -> list[float]:
    if maximum <= 0:
        return [0.0]
    raw = maximum / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = max(1.0, round(raw / magnitude) * magnitude)
    ticks, value = [], 0.0
    while value <= maximum + 1e-9:
        ticks.append(value)
        value += step
    return ticks


AUDIT = "audit_accuracy"  # as stored by app.training.audit
SERIES = (
    ("accuracy", "accuracy", "acc"),
    ("macro_f1", "macro-F1", "f1"),
    (AUDIT, "audit accuracy", "audit"),
)


def learning_curve(points: list[tuple[int, dict[str, float]]]) -> Chart | None:
    """``points``: (labels, metrics) per model version with metrics; None if fewer than one."""
    points = [(n, m) for n, m in points if m]
    if not points:
        return None
    x_max: float = max(max(n for n, _ in points), 1)
    if len(points) == 1:
        x_max *= 2  # the axis runs to twice the labels, so a lone point sits in the middle
    ticks = _nice_ticks(x_max)
    x_max = max(x_max, ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(n: float) -> float:
        return round(LEFT + plot_w * n / x_max, 1)

    def sy(v: float) -> float:
        return round(TOP + plot_h * (1 - v), 1)

    series = []
    for key, name, css in SERIES:
        coords = [
            (sx(n), sy(m[key]), f"{n} labels: {name} {m[key]:.3f}") for n, m in points if key in m
        ]
        if key == AUDIT and not coords:
            continue  # no audit sample labelled yet: no empty legend entry
        whiskers = [
            (sx(n), sy(m[f"{key}_low"]), sy(m[f"{key}_high"]))
            for n, m in points
            if f"{key}_low" in m and f"{key}_high" in m
        ]
        points_text = " ".join(f"{x},{y}" for x, y, _ in coords)
        series.append(Series(name, css, points_text, coords, whiskers))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        x_ticks=[(sx(t), f"{int(t)}") for t in ticks],
        y_ticks=[(sy(v), f"{v:.1f}") for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)],
        series=series,
        plot=(LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM),
        note=_single_note(points[0]) if len(points) == 1 else None,
        dot_radius=5.0 if len(points) == 1 else 3.0,
    )


def _single_note(point: tuple[int, dict[str, float]]) -> str:
    """What one model's point says, and that the curve comes with the next retrains."""
    n, metrics = point
    figures = [f"{name} {metrics[key]:.3f}" for key, name, _ in SERIES if key in metrics]
    return (
        f"One model so far, trained on {n} labels: {', '.join(figures)}. "
        "The curve grows with every retrain."
    )

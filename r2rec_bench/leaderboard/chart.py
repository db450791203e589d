"""The index's accuracy-against-faithfulness chart: points in SVG pixels, drawn by the
template with no script or external asset."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from r2rec_bench.leaderboard.site import Board

CHART = {"width": 640, "height": 400, "left": 64, "right": 24, "top": 20, "bottom": 52}


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / count for i in range(count + 1)]


def chart(board: Board, metric: str, title: str) -> dict | None:
    """Points (in SVG pixels) of HR@1 against one faithfulness metric; None when no entry
    reports it."""
    points = [(e, e.cell(metric), e.cell("hr@1")) for e in board.entries]
    points = [(e, x.value, y.value) for e, x, y in points if x.value is not None]
    if not points:
        return None
    geometry = CHART
    x_low = min(0.0, *(x for _, x, _ in points))
    x_high = max(1.0, *(x for _, x, _ in points))
    y_high = max(1.0, *(y for _, _, y in points))
    plot_w = geometry["width"] - geometry["left"] - geometry["right"]
    plot_h = geometry["height"] - geometry["top"] - geometry["bottom"]

    def px(x: float) -> float:
        return round(geometry["left"] + (x - x_low) / (x_high - x_low) * plot_w, 1)

    def py(y: float) -> float:
        return round(geometry["top"] + (1 - y / y_high) * plot_h, 1)

    return {
        "metric": metric,
        "title": title,
        "geometry": geometry,
        "x_axis": {"y": py(0.0), "x0": px(x_low), "x1": px(x_high)},
        "x_ticks": [(px(t), f"{t:.2f}") for t in _ticks(x_low, x_high)],
        "y_ticks": [(py(t), f"{t:.2f}") for t in _ticks(0.0, y_high)],
        "points": [
            {"x": px(x), "y": py(y), "label": e.model, "page": e.page, "hr1": y, "value": x}
            for e, x, y in points
        ],
    }

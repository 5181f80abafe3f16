"""A trend as a small inline SVG drawn on the server: no chart library, no script, nothing
fetched (the console's CSP and closed operator networks need neither)."""
from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["sparkline"]


def sparkline(values: list[int | None], *, label: str, width: int = 120, height: int = 28) -> Markup:
    """``values`` oldest first (None: that report had no figure) as a polyline with a dot on
    the newest point; fewer than two figures draw nothing (a trend needs two)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return Markup("")
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or 1
    last = max(len(values) - 1, 1)
    pad = 3

    def xy(i: int, v: int) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * i / last
        # a flat series sits in the middle, not on the floor
        y = height / 2 if high == low else pad + (height - 2 * pad) * (1 - (v - low) / span)
        return round(x, 1), round(y, 1)

    coords = [xy(i, v) for i, v in points]
    line = " ".join(f"{x},{y}" for x, y in coords)
    x, y = coords[-1]
    title = f"{label}: " + " → ".join(f"{v:,}" for _, v in points)
    return Markup(
        f'<svg class="backoffice-sparkline" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{line}"/>'
        f'<circle cx="{x}" cy="{y}" r="2.5" fill="currentColor"/></svg>')

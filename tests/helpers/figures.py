"""A comparison round's figures as the GPU tests print them for the closing notes."""

from __future__ import annotations


def interval(figures: dict | None) -> str:
    """A round (as `round_summary` records it): its change, the 95% interval and how many pairs it took."""
    if not figures or not (ratio := figures.get("ratio")):
        return "not measured"
    return f"{ratio['change']:+.2%} [{ratio['low']:+.2%}, {ratio['high']:+.2%}] over {figures['pairs']} pairs"

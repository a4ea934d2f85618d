"""What a run's model calls cost, per role, from its llm.jsonl: calls, cache hits, tokens and seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RoleUsage:
    calls: int = 0  # answers from the model
    cache_hits: int = 0  # answers taken from the summary cache
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def add(self, other: "RoleUsage") -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.seconds += other.seconds


def role_usage(records: list[dict]) -> dict[str, RoleUsage]:
    """Answered calls per role (failed attempts, which carry no response, are not counted)."""
    usage: dict[str, RoleUsage] = {}
    for r in records:
        if "response" not in r:
            continue
        row = usage.setdefault(r["role"], RoleUsage())
        if r.get("cache") == "hit":
            row.cache_hits += 1
        else:
            row.calls += 1
        row.tokens_in += r.get("tokens_in") or 0
        row.tokens_out += r.get("tokens_out") or 0
        row.seconds += r.get("latency_s") or 0.0
    return usage


def calls_by_server(records: list[dict]) -> dict[str, dict]:
    """Where the answered calls went: per model and server (`vllm:m @ http://...`), the roles and the count.
    A run moved to another server at a resume shows both."""
    places: dict[str, dict] = {}
    for r in records:
        if "response" in r and r.get("cache") != "hit":
            place = places.setdefault(r["model"], {"roles": set(), "calls": 0})
            place["roles"].add(r["role"])
            place["calls"] += 1
    return places


def total_usage(usage: dict[str, RoleUsage]) -> RoleUsage:
    """All roles together."""
    total = RoleUsage()
    for row in usage.values():
        total.add(row)
    return total


def tokens_estimated(records: list[dict]) -> bool:
    """Scripted answers carry estimated token counts (characters / 4), not a server's figures."""
    return any(r.get("tokens_estimated") for r in records)

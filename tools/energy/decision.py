"""When a candidate is better than the best so far: the rule, stated once, and its measuring.

1. Screening. Candidate and incumbent run alternately (candidate, incumbent, candidate, …) in one
   time window, and the decision uses those pairs, so a drift of the machine falls on both alike.
   After each pair from `min_pairs` on, the 95% interval of the paired ratio of their mean
   objectives (log scale, tools/energy/stats.py) settles it: *promising* when it lies wholly below
   zero and the saving is at least `min_improvement`; *not better* when it lies wholly above
   −min_improvement (clearly worse, or clearly too small a saving), when it is tight (half-width at
   most `target_ci`), at `max_pairs`, or once `budget_s` is spent.
2. Confirmation. A promising candidate is measured again on `max_pairs` fresh alternating pairs
   (stopped early only when they show it cannot be the saving asked for, which makes the rule only
   stricter). It is *better* when, on those runs alone, the one-sided upper bound of the change at
   level 1 − α_k lies below zero and the saving is at least min_improvement, where k counts the
   run's valid confirmed candidates and α_k = error_budget / 2^k.
3. Why the budget holds. Screening may look as often as it likes: it only picks which candidates
   are confirmed. A confirmation is a test on runs of its own, so a candidate equal to the best
   passes the k-th with probability at most α_k, and the chance that a run declares any such
   candidate better is at most α_1 + α_2 + … = error_budget, however many candidates it makes.

The same pairs give the host-shift check: a candidate that saves GPU energy while its host CPU time
grows by more than a factor has likely moved work to the CPU, where the GPU meter cannot see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.energy.measurement import Measurement, Pairs, Reading, measure_pairs
from tools.energy.stats import Ratio, paired_ratio, summarize
from tools.sandbox.runner import RunResult

PROMISING, NOT_BETTER = "promising", "not_better"


@dataclass(frozen=True)
class Rule:
    min_pairs: int = 3
    max_pairs: int = 10
    target_ci: float = 0.02
    min_improvement: float = 0.02
    error_budget: float = 0.05
    budget_s: float = 300.0

    def alpha(self, round_number: int) -> float:
        """The one-sided level of the run's `round_number`-th confirmation (1, 2, …): half of what is left."""
        return self.error_budget / 2 ** round_number


@dataclass
class Comparison:
    """What the measuring of a candidate against the incumbent found, before validity is known."""

    objective: str
    screening: Pairs
    verdict: str  # promising or not_better
    reason: str
    confirmation: Pairs | None = None

    @property
    def failed(self) -> Pairs | None:
        """The round in which a run failed, if one did."""
        return next((p for p in (self.screening, self.confirmation) if p and p.failed), None)

    @property
    def rounds(self) -> list[Pairs]:
        return [r for r in (self.screening, self.confirmation) if r]

    @property
    def last_run(self) -> RunResult | None:
        """The candidate's latest run: its output is the one judged."""
        return self.rounds[-1].last_new

    def measurement(self, meter, incumbent: str) -> Measurement:
        """The candidate's measurement over both rounds, carrying the comparison with the incumbent's key."""
        return Measurement(method=meter.method, objective=meter.objective, device=meter.device(),
                           readings=[r for pairs in self.rounds for r in pairs.new], stop_reason=self.reason,
                           wall_s=sum(r.wall_s for r in self.rounds), comparison={"incumbent": incumbent, **self.summary()})

    def summary(self) -> dict:
        """JSON-able: each round's objective values of both programs, its ratio, and the screening's verdict."""
        rounds = {"screening": self.screening, "confirmation": self.confirmation}
        data = {"objective": self.objective, "verdict": self.verdict, "reason": self.reason}
        for name, pairs in rounds.items():
            data[name] = round_summary(pairs, self.objective) if pairs else None
        if failed := self.failed:
            data["failed_side"] = failed.failed_side
        return data


def round_summary(pairs: Pairs, objective: str) -> dict:
    new, old = _values(pairs.new, objective), _values(pairs.old, objective)
    ratio = paired_ratio(new, old) if new else None
    return {"pairs": len(new), "new": new, "old": old, "stop_reason": pairs.stop_reason,
            "new_cpu_s": _values(pairs.new, "cpu_s"), "old_cpu_s": _values(pairs.old, "cpu_s"),
            "ratio": ratio.to_dict() if ratio else None, "wall_s": round(pairs.wall_s, 3)}


def _values(readings: list[Reading], name: str) -> list:
    return [getattr(r, name) for r in readings]


def screening_verdict(rule: Rule, new: list[float], old: list[float], elapsed_s: float) -> tuple[str, str] | None:
    """(verdict, why) once the screening is settled; None while more pairs are needed."""
    if len(new) < rule.min_pairs:
        return None
    ratio = paired_ratio(new, old)
    if ratio is None:
        return NOT_BETTER, "an objective that is not positive gives no ratio"
    change = ratio.change()
    figures = f"{change.change:+.1%} [{change.low:+.1%}, {change.high:+.1%}] over {len(new)} pairs"
    if change.high < 0 and -change.change >= rule.min_improvement:
        return PROMISING, f"{figures}: a saving, to be confirmed on fresh runs"
    if change.low > -rule.min_improvement:
        return NOT_BETTER, f"{figures}: the whole interval lies above −{rule.min_improvement:.1%}"
    if (change.high - change.low) / 2 <= rule.target_ci:
        return NOT_BETTER, f"{figures}: the interval is within ±{rule.target_ci:.1%} and shows no saving of {rule.min_improvement:.1%}"
    if len(new) >= rule.max_pairs:
        return NOT_BETTER, f"{figures}: {rule.max_pairs} pairs, the most allowed"
    if elapsed_s >= rule.budget_s:
        return NOT_BETTER, f"{figures}: time budget of {rule.budget_s:g} s spent"
    return None


def confirmation_stop(rule: Rule, new: list[float], old: list[float], elapsed_s: float) -> str | None:
    """Why the confirmation round ends: its pairs are all measured, its time is spent, or it cannot succeed."""
    if len(new) >= rule.max_pairs:
        return f"{rule.max_pairs} pairs"
    if elapsed_s >= rule.budget_s:
        return f"time budget of {rule.budget_s:g} s spent"
    if len(new) >= rule.min_pairs and (ratio := paired_ratio(new, old)) and ratio.change().low > -rule.min_improvement:
        return "stopped early: the interval shows no saving of the size asked for"
    return None


def compare(meter, run_new: Callable[[], RunResult], run_old: Callable[[], RunResult], rule: Rule,
            kept: dict[str, Pairs] | None = None,
            on_pair: Callable[[str, Reading, Reading, float], None] | None = None) -> Comparison:
    """Screen the candidate against the incumbent, and confirm it on fresh pairs when it looks better.

    `on_pair(round, new, old, elapsed_s)` hears of each pair as it ends ("screening" or
    "confirmation"), to keep it; `kept` gives back each round's pairs finished before a kill. They
    are counted again, in the order they were made and with the time they took, and the round goes
    on from them under the same rule, as an unbroken round would have. That keeps the decision fair:
    a kept pair is never drawn again, so no kill and resume, at whatever moment, can trade an
    unfavourable run for a fresh one, as measuring again from scratch would let a user do by killing
    until the figures please. The one difference from an unbroken round is the pause the kill made
    between two pairs, and a pause, like any drift, falls on both programs of a pair alike. A screening
    settled before the kill is not measured again, and the confirmation's pairs are still runs made
    after it. Where kept pairs settled every round, the candidate runs once more, unmeasured, for the
    output that is judged.
    """
    objective, kept = meter.objective, kept or {}
    found: dict = {}

    def screened(pairs: Pairs, elapsed: float) -> str | None:
        settled = screening_verdict(rule, _values(pairs.new, objective), _values(pairs.old, objective), elapsed)
        if settled:
            found["verdict"], found["reason"] = settled
        return settled and settled[1]

    def keeping(name: str):
        return None if on_pair is None else lambda new, old, elapsed: on_pair(name, new, old, elapsed)

    screening = measure_pairs(meter, run_new, run_old, screened, kept.get("screening"), keeping("screening"))
    if screening.failed:
        return Comparison(objective, screening, NOT_BETTER, f"the {screening.failed_side} program failed")
    comparison = Comparison(objective, screening, found["verdict"], found["reason"])
    if comparison.verdict == PROMISING:
        comparison.confirmation = measure_pairs(
            meter, run_new, run_old,
            lambda pairs, elapsed: confirmation_stop(rule, _values(pairs.new, objective), _values(pairs.old, objective), elapsed),
            kept.get("confirmation"), keeping("confirmation"))
    last = comparison.rounds[-1]
    if last.last_new is None and not last.failed:  # every pair was kept: a run for the output to judge
        with meter.session():  # as measured runs are made: no other measurement on this GPU meanwhile
            result = run_new()
        if result.ok:
            last.last_new = result
        else:
            last.failed, last.failed_side = result, "new"
    return comparison


def confirmed_ratio(summary: dict) -> Ratio | None:
    """The confirmation round's ratio, recomputed from its recorded values."""
    confirmation = summary.get("confirmation")
    if not confirmation or not confirmation["new"]:
        return None
    return paired_ratio(confirmation["new"], confirmation["old"])


def decide(summary: dict, rule: Rule, round_number: int) -> tuple[bool, str]:
    """Better or not, with the figures in words, from a comparison's summary (the k-th confirmation of the run)."""
    screening = summary["screening"]
    if summary["verdict"] != PROMISING:
        return False, f"screening: {summary['reason']}"
    ratio = confirmed_ratio(summary)
    if ratio is None or summary.get("failed_side"):
        return False, f"screening: {summary['reason']}; the confirmation runs did not complete"
    alpha = rule.alpha(round_number)
    change, bound = ratio.change(), ratio.upper(alpha)
    figures = (f"screening {screening['ratio']['change']:+.1%} over {screening['pairs']} pairs; confirmation "
               f"{change.change:+.1%} [{change.low:+.1%}, {change.high:+.1%}] over {ratio.n} fresh pairs, one-sided "
               f"bound {bound:+.1%} at level {1 - alpha:.2%} (confirmation {round_number} of the run)")
    if not bound < 0:
        return False, f"{figures}; not confirmed"
    if -change.change < rule.min_improvement:
        return False, f"{figures}; a saving of at least {rule.min_improvement:.1%} is needed"
    return True, figures


def host_shift(summary: dict, factor: float) -> str:
    """Words when the candidate's objective fell while its host CPU time grew by more than `factor`; else ''."""
    rounds = [r for r in (summary.get("confirmation"), summary.get("screening")) if r and r["pairs"]]
    if not rounds or summary.get("objective") != "net_energy_j":
        return ""
    latest = rounds[0]
    new_cpu, old_cpu = latest["new_cpu_s"], latest["old_cpu_s"]
    if not new_cpu or None in new_cpu or None in old_cpu:
        return ""
    grown = summarize(new_cpu).mean / max(summarize(old_cpu).mean, 1e-6)
    if latest["ratio"] is None or latest["ratio"]["change"] >= 0 or grown <= factor:
        return ""
    return (f"host CPU time grew {grown:.2f}× (more than {factor:g}×) while GPU energy fell "
            f"{-latest['ratio']['change']:.1%}: work may have moved to the host, where the GPU meter does not see it")


def confirm_result(meter, run_best: Callable[[], RunResult], run_source: Callable[[], RunResult], pairs: int) -> dict:
    """After the search: `pairs` fresh alternating pairs of the best and the source.

    The best was chosen as the most saving of many noisy candidates, so its search figures lean
    toward more saved; runs made after the choice do not, and the report's headline comes from them.
    """
    measured = measure_pairs(meter, run_best, run_source, lambda p, _: f"{pairs} pairs" if len(p.new) >= pairs else None)
    summary = round_summary(measured, meter.objective)
    if measured.failed:
        summary["failed"] = f"the {'best' if measured.failed_side == 'new' else 'source'} failed when run again"
    return summary

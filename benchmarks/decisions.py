"""Decision benchmark: the comparator's rule over simulated noise, beside the rule it replaced.

    python -m benchmarks.decisions [--runs 600] [--seed 1]     # about a minute

Each simulated run is an optimization of 11 candidates. The project's own code decides
(tools/energy/decision.py's `compare` and the comparator's `assess`, with its count of
confirmations), over the time meter and stand-in programs whose runtimes follow a noise model:

  iid 1% / 3% / 10%   independent run-to-run noise of that coefficient of variation
  drift 2%            3% noise, and the machine's pace moves by 2% (sd) from one measuring time to
                      the next: each candidate is measured in a window of its own
  heavy tails         3% noise from Student's t with 3 degrees of freedom (rare large outliers)

For each it prints: the share of A/A runs (every candidate equal to the source) that declare any
candidate better; the share of runs that find a true 3%, 5%, 10% saving (one candidate among the
11 has it; found = it ends as the best); the coverage of the reported 95% intervals (each
candidate's interval against the best, and the headline: Stage 4's fresh pairs of source and best);
and the program runs spent per candidate (both programs' runs counted). Beside it, the rule that was
used before: each candidate measured alone, 3 to 10 runs until its interval is within ±2%, Welch's
interval of the difference divided by the old mean, a t table rounded down, one test per candidate at
2.5% on either side, against the incumbent's runs measured in its own window.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass

from nodes.comparator import assess
from tools.energy.decision import PROMISING, Rule, compare, confirm_result
from tools.energy.meters import TimeMeter
from tools.sandbox.runner import RunResult

CANDIDATES = 11
SAVINGS = (0.03, 0.05, 0.10)
RULE = Rule()  # the defaults: 3 to 10 pairs, ±2%, 2% at least, 5% run-wide
STAGE4_PAIRS = 10


@dataclass(frozen=True)
class Noise:
    name: str
    cv: float
    drift: float = 0.0  # sd of the machine's pace from one measuring window to the next
    heavy: bool = False

    def run(self, rng: random.Random, mean: float, pace: float) -> float:
        if self.heavy:  # t with 3 dof has variance 3: scaled to the same sd
            shock = rng.gauss(0, 1) / math.sqrt(rng.gammavariate(1.5, 2.0) / 3) * self.cv / math.sqrt(3)
        else:
            shock = rng.gauss(0, self.cv)
        return max(mean * pace * (1 + shock), 1e-3 * mean)

    def pace(self, rng: random.Random) -> float:
        return 1 + rng.gauss(0, self.drift) if self.drift else 1.0


NOISES = (Noise("iid 1%", 0.01), Noise("iid 3%", 0.03), Noise("iid 10%", 0.10), Noise("drift 2%", 0.03, drift=0.02),
          Noise("heavy tails", 0.03, heavy=True))


class Window:
    """One measuring time: every run made in it shares the machine's pace."""

    def __init__(self, noise: Noise, rng: random.Random):
        self.noise, self.rng, self.pace, self.runs = noise, rng, noise.pace(rng), 0

    def program(self, mean: float):
        def run() -> RunResult:
            self.runs += 1
            return RunResult(exit_code=0, stdout="", stderr="", seconds=self.noise.run(self.rng, mean, self.pace))
        return run


def new_rule_run(means: list[float], noise: Noise, rng: random.Random, meter: TimeMeter) -> dict:
    """One optimization under the project's rule: returns the best's index, intervals, runs spent."""
    best, confirmations, runs, covered = 0, 0, 0, []
    for k, mean in enumerate(means[1:], start=1):
        window = Window(noise, rng)
        comparison = compare(meter, window.program(mean), window.program(means[best]), RULE)
        summary = comparison.summary()
        record = {"status": "judged", "validation": {"valid": True}, "measurement": {"comparison": summary}}
        outcome, _, spent = assess(record, RULE, confirmations + 1)
        confirmations += bool(spent)
        runs += window.runs
        shown = summary["confirmation"] if comparison.verdict == PROMISING else summary["screening"]
        covered.append(_covers(shown["ratio"], mean / means[best]))
        if outcome == "better":
            best = k
    headline = None
    if best:
        window = Window(noise, rng)
        final = confirm_result(meter, window.program(means[best]), window.program(means[0]), STAGE4_PAIRS)
        headline = _covers(final["ratio"], means[best] / means[0])
    return {"best": best, "covered": covered, "headline": headline, "runs": runs}


def _covers(ratio: dict | None, truth: float) -> bool:
    return ratio is not None and ratio["high"] is not None and ratio["low"] <= truth - 1 <= ratio["high"]


# ---- the rule that was used before, for comparison only ----------------------------------------------------

_OLD_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
            10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def _old_t95(dof: float) -> float:
    return math.inf if dof < 1 else 1.96 if dof > 30 else _OLD_T95[max(d for d in _OLD_T95 if d <= dof)]


def _old_measure(window: Window, mean: float) -> list[float]:
    run, values = window.program(mean), []
    while True:
        values.append(run().seconds)
        n = len(values)
        if n >= 3:
            m = sum(values) / n
            sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
            if _old_t95(n - 1) * sd / math.sqrt(n) / m <= 0.02 or n >= 10:
                return values


def _old_change(new: list[float], old: list[float]) -> tuple[float, float, float]:
    na, nb = len(new), len(old)
    ma, mb = sum(new) / na, sum(old) / nb
    va = sum((v - ma) ** 2 for v in new) / (na - 1) / na
    vb = sum((v - mb) ** 2 for v in old) / (nb - 1) / nb
    dof = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    half = _old_t95(dof) * math.sqrt(va + vb)
    diff = ma - mb
    return diff / mb, (diff - half) / mb, (diff + half) / mb


def old_rule_run(means: list[float], noise: Noise, rng: random.Random) -> dict:
    best_values = _old_measure(Window(noise, rng), means[0])
    best, runs, covered = 0, 0, []
    for k, mean in enumerate(means[1:], start=1):
        values = _old_measure(Window(noise, rng), mean)
        runs += len(values)
        change, low, high = _old_change(values, best_values)
        covered.append(low <= mean / means[best] - 1 <= high)
        if high < 0 and -change >= 0.02:
            best, best_values = k, values
    return {"best": best, "covered": covered, "headline": None, "runs": runs}


# ---- the table ---------------------------------------------------------------------------------------------

def scenario(noise: Noise, runs: int, seed: int) -> dict:
    rng, meter = random.Random(f"{seed}-{noise.name}"), TimeMeter()
    figures = {}
    for rule_name, one_run in (("new", lambda m: new_rule_run(m, noise, rng, meter)),
                               ("old", lambda m: old_rule_run(m, noise, rng))):
        aa = [one_run([1.0] * (CANDIDATES + 1)) for _ in range(runs)]
        every, found = list(aa), {}
        for saving in SAVINGS:
            hits = 0
            for _ in range(runs // 2):
                means = [1.0] * (CANDIDATES + 1)
                true_one = rng.randint(1, CANDIDATES)
                means[true_one] = 1 - saving
                every.append(one_run(means))
                hits += every[-1]["best"] == true_one
            found[saving] = hits / (runs // 2)
        covered = [c for r in every for c in r["covered"]]
        headlines = [r["headline"] for r in every if r["headline"] is not None]
        figures[rule_name] = {"false": sum(r["best"] != 0 for r in aa) / runs, "found": found,
                              "coverage": sum(covered) / len(covered),
                              "headline": sum(headlines) / len(headlines) if headlines else None,
                              "runs_per_candidate": sum(r["runs"] for r in aa) / (runs * CANDIDATES)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=600, help="simulated 11-candidate A/A runs per noise model")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    header = (f"{'noise':<12} {'rule':<4} {'false better':>12} {'finds 3%':>9} {'5%':>6} {'10%':>6} "
              f"{'coverage':>9} {'headline':>9} {'runs/cand':>9}")
    print(header)
    print("-" * len(header))
    for noise in NOISES:
        figures = scenario(noise, args.runs, args.seed)
        for rule_name, f in figures.items():
            headline = f"{f['headline']:.1%}" if f["headline"] is not None else "—"
            print(f"{noise.name if rule_name == 'new' else '':<12} {rule_name:<4} {f['false']:>12.1%} "
                  f"{f['found'][0.03]:>9.0%} {f['found'][0.05]:>6.0%} {f['found'][0.10]:>6.0%} "
                  f"{f['coverage']:>9.1%} {headline:>9} {f['runs_per_candidate']:>9.1f}")
    print(f"\n{args.runs} A/A runs and {args.runs // 2} runs per saving, 11 candidates each, per noise model;"
          f" {time.perf_counter() - start:.0f} s.")
    print("new: alternating pairs, screening then confirmation on fresh pairs, 5% run-wide (tools/energy/decision.py);"
          " old: each candidate alone, one Welch test at 2.5% per candidate. coverage: the candidates' 95% intervals"
          " against the truth; headline: Stage 4's interval of source against best. runs/cand counts the best's runs"
          " made beside a candidate too.")


if __name__ == "__main__":
    main()

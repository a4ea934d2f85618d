"""Host meters: RAPL package energy where the counters are readable (with wraparound), else time."""

from pathlib import Path

from tools.energy import host
from tools.energy.meters import RaplMeter, TimeMeter, choose_meter
from tools.sandbox.runner import RunResult


def fake_rapl(root: Path, packages: dict[str, tuple[int, int]]) -> None:
    """packages: name -> (energy_uj, max_energy_range_uj); a sub-domain is added to show it is ignored."""
    for name, (energy, wrap) in packages.items():
        (root / name).mkdir(parents=True)
        (root / name / "energy_uj").write_text(f"{energy}\n")
        (root / name / "max_energy_range_uj").write_text(f"{wrap}\n")
    (root / "intel-rapl:0:0").mkdir()
    (root / "intel-rapl:0:0" / "energy_uj").write_text("5\n")


def test_rapl_sums_package_energy_across_a_counter_wraparound(tmp_path, monkeypatch):
    fake_rapl(tmp_path, {"intel-rapl:0": (999_000_000, 1_000_000_000), "intel-rapl:1": (10_000_000, 1_000_000_000)})
    monkeypatch.setattr(host, "RAPL_ROOT", tmp_path)
    meter = RaplMeter.available()
    assert meter is not None and [d.name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]

    def run() -> RunResult:  # package 0 wraps past its range; package 1 counts 20 J
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("4000000\n")
        (tmp_path / "intel-rapl:1" / "energy_uj").write_text("30000000\n")
        return RunResult(exit_code=0, stdout="", stderr="", seconds=2.0)

    _, reading = meter.measure(run)
    assert reading.gross_energy_j == 25.0 and reading.avg_power_w == 12.5  # 5 J across the wrap + 20 J
    assert meter.objective == "gross_energy_j"


def test_without_readable_counters_cpu_programs_are_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(host, "RAPL_ROOT", tmp_path / "absent")
    choose_meter.cache_clear()
    try:
        meter = choose_meter("cpp")
        assert isinstance(meter, TimeMeter) and meter.objective == "duration_s"
    finally:
        choose_meter.cache_clear()

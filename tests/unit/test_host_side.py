"""The host side of every run: its CPU time, RAPL package and DRAM energy, and the host-shift flag."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from nodes.comparator import assess, with_host_check
from tools.energy import host
from tools.energy.decision import PROMISING, Rule, compare, host_shift
from tools.energy.host import ACCESS_HINT, Rapl, rapl_access_hint
from tools.energy.measurement import metered
from tools.energy.meters import TimeMeter
from tools.sandbox import containment
from tools.sandbox.containment import Containment, Limits
from tools.sandbox.isolation import bwrap_problem, choose_sandbox
from tools.sandbox.runner import RunResult, run_program

BUSY = [os.path.realpath(sys.executable), "-c", "n = 0\nfor i in range(3_000_000): n += i\nprint('gpu_joules=50')"]  # ~0.2 s of CPU
IDLE = ["sh", "-c", "sleep 0.2; echo gpu_joules=100"]


class StandInGpuMeter(TimeMeter):
    """A GPU meter for a machine without a GPU: each program prints the GPU energy it 'used'."""

    objective = "net_energy_j"

    def __init__(self):
        self.joules = None

    @contextmanager
    def window(self):
        with super().window() as window:
            yield window
        window.reading.net_energy_j = self.joules

    def runner(self, argv: list[str], folder: Path, sandbox=None):
        run = runner(argv, folder, sandbox)

        def told() -> RunResult:
            result = run()
            self.joules = float(result.stdout.strip().rpartition("=")[2])
            return result

        return told


def runner(argv: list[str], folder: Path, sandbox=None):
    folder.mkdir(exist_ok=True)
    return lambda: run_program(argv, folder, 60, sandbox=sandbox)


NEEDS_BWRAP = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")
MODES = ["none", pytest.param("bwrap", marks=NEEDS_BWRAP)]
LEFT_TO_ITSELF = [os.path.realpath(sys.executable), "-c", """
import os, time
r, w = os.pipe()
if os.fork() == 0:  # a child starts the busy loop in a grandchild and leaves it, orphaned
    worker = os.fork()
    if worker == 0:
        n = 0
        for i in range(3_000_000): n += i
        os._exit(0)
    os.write(w, str(worker).encode())
    os._exit(0)
os.wait()
worker = int(os.read(r, 32))

def ended():  # reaped by the namespace's init, or a zombie for the tool's reaper: never waited for by us
    try:
        with open(f"/proc/{worker}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True

while not ended():
    time.sleep(0.01)
"""]
IGNORES_SIGCHLD = [os.path.realpath(sys.executable), "-c", """
import os, signal
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # its children are reaped by no one: rusage never hears of them
r, w = os.pipe()
if os.fork() == 0:
    n = 0
    for i in range(3_000_000): n += i
    os._exit(0)
os.close(w)
os.read(r, 1)  # returns once the worker has ended (its end of the pipe closed)
"""]
FORGER = [os.path.realpath(sys.executable), "-c", (  # says "no CPU time" on every descriptor it might share with the tool
    "import os\nfor fd in range(3, 256):\n    try: os.write(fd, b'0.0\\n999\\n')\n    except OSError: pass\n"
    "n = 0\nfor i in range(3_000_000): n += i")]


def plain_cpu_s(argv: list[str]) -> float:
    """The CPU time the same work takes run as a plain child of this process, with no tool in between."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def cgroup_counts_cpu() -> bool:
    with Containment(Limits()) as box:
        return box.cpu_cgroup is not None


@pytest.fixture(params=["cgroup2", "cpuacct", "rusage"])
def counted_by(request, monkeypatch):
    """Each way the CPU time is counted: by a cgroup of v2 or of v1's cpuacct where one can be made here, else
    by what the reaper reaped."""
    mounts = containment._cgroup_mounts()
    monkeypatch.setattr(containment, "_cgroup_mounts", lambda: {k: v for k, v in mounts.items() if k == request.param})
    if request.param == "rusage":
        monkeypatch.setattr(containment, "cgroup_cpu_s", lambda folder: None)  # as where no cgroup counts it
    containment.cpu_cgroup_parent.cache_clear()
    if request.param != "rusage" and not cgroup_counts_cpu():
        pytest.skip(f"no {request.param} cgroup that counts CPU time can be made here")
    yield request.param
    containment.cpu_cgroup_parent.cache_clear()


def near(cpu_s: float, plain_s: float) -> bool:
    """Within a factor of two of the plain run's: the same work, though the machine is shared and its pace varies."""
    return plain_s / 2 <= cpu_s <= plain_s * 2


@pytest.mark.parametrize("mode", MODES)
def test_every_run_records_the_programs_cpu_time_under_either_sandbox(tmp_path, mode, counted_by):
    sandbox = choose_sandbox(mode)
    busy, idle = runner(BUSY, tmp_path / "busy", sandbox)(), runner(IDLE, tmp_path / "idle", sandbox)()
    assert busy.ok and idle.ok and busy.sandbox == mode
    assert near(busy.cpu_s, plain_cpu_s(BUSY))  # the busy loop's own time, not bwrap's (a hundredth of it)
    assert busy.cpu_s <= busy.seconds * 1.05  # one thread cannot use more CPU than its runtime
    assert idle.cpu_s < busy.cpu_s / 5  # the sleeper waits 0.2 s but uses almost no CPU
    assert busy.to_dict()["cpu_s"] == busy.cpu_s


@pytest.mark.parametrize("mode", MODES)
def test_work_left_to_an_orphaned_grandchild_is_counted(tmp_path, mode, counted_by):
    """Under bubblewrap the namespace's init reaps it; without, the tool's reaper, a subreaper, does."""
    left = runner(LEFT_TO_ITSELF, tmp_path / "left", choose_sandbox(mode))()
    assert left.ok and near(left.cpu_s, plain_cpu_s(BUSY))


@pytest.mark.parametrize("mode", MODES)
def test_a_program_cannot_tell_the_tool_a_smaller_cpu_time(tmp_path, mode, counted_by):
    forged = runner(FORGER, tmp_path / "forger", choose_sandbox(mode))()
    assert forged.ok and near(forged.cpu_s, plain_cpu_s(FORGER))


@pytest.mark.parametrize("mode", MODES)
def test_workers_reaped_by_no_one_are_counted_where_the_run_has_a_cgroup_that_counts_cpu(tmp_path, mode):
    if not cgroup_counts_cpu():
        pytest.skip("no cgroup that counts CPU time can be made here: such workers' time is lost, as with any rusage")
    hidden = runner(IGNORES_SIGCHLD, tmp_path / "hidden", choose_sandbox(mode))()
    assert hidden.ok and near(hidden.cpu_s, plain_cpu_s(BUSY))


def test_a_run_stopped_at_its_time_limit_has_no_cpu_time(tmp_path):
    (tmp_path / "spin").mkdir()
    spun = run_program(["sh", "-c", "while :; do :; done"], tmp_path / "spin", 0.5)
    assert spun.timed_out and spun.cpu_s is None


def test_a_reading_carries_the_cpu_time_whatever_the_meter(tmp_path):
    _, reading = metered(TimeMeter(), runner(BUSY, tmp_path / "busy"))
    assert reading.cpu_s > 0.05 and reading.to_dict()["cpu_s"] == reading.cpu_s


def fake_powercap(root: Path, readable: bool = True) -> None:
    for name, label, energy in (("intel-rapl:0", "package-0", 1_000_000), ("intel-rapl:0:0", "dram", 500_000),
                                ("intel-rapl:0:1", "core", 7)):
        (root / name).mkdir(parents=True)
        (root / name / "name").write_text(label + "\n")
        (root / name / "max_energy_range_uj").write_text("1000000000\n")
        if readable:
            (root / name / "energy_uj").write_text(f"{energy}\n")
        else:  # a file only root may read behaves, for a reader, like one that cannot be opened
            (root / name / "energy_uj").mkdir()


def test_package_and_dram_energy_over_the_runs_window(tmp_path, monkeypatch):
    fake_powercap(tmp_path)
    rapl = Rapl.found(tmp_path)
    assert [d.name for d in rapl.packages] == ["intel-rapl:0"] and [d.name for d in rapl.dram] == ["intel-rapl:0:0"]
    monkeypatch.setattr(host, "host_rapl", lambda: rapl)
    import tools.energy.measurement as measurement

    monkeypatch.setattr(measurement, "host_rapl", lambda: rapl)

    def run():
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("4000000\n")  # 3 J of package
        (tmp_path / "intel-rapl:0:0" / "energy_uj").write_text("1500000\n")  # 1 J of DRAM
        return run_program(IDLE, tmp_path, 60)

    meter = StandInGpuMeter()
    meter.joules = 100.0
    _, reading = metered(meter, run)
    assert reading.host_energy_j == 3.0 and reading.dram_energy_j == 1.0 and reading.net_energy_j == 100.0


def test_root_only_counters_get_one_line_on_granting_access(tmp_path, monkeypatch):
    fake_powercap(tmp_path, readable=False)
    assert Rapl.found(tmp_path) is None and rapl_access_hint(tmp_path) == ACCESS_HINT
    assert "chmod a+r" in ACCESS_HINT and "\n" not in ACCESS_HINT
    monkeypatch.setattr(host, "RAPL_ROOT", tmp_path)
    assert TimeMeter().device()["hint"] == ACCESS_HINT


def test_a_machine_without_counters_gets_no_hint(tmp_path):
    assert rapl_access_hint(tmp_path / "absent") == ""


def host_shifted(tmp_path: Path, candidate: list[str], incumbent: list[str], mode: str = "none") -> dict:
    rule = Rule(min_pairs=2, max_pairs=2)
    meter, sandbox = StandInGpuMeter(), choose_sandbox(mode)
    found = compare(meter, meter.runner(candidate, tmp_path / "new", sandbox),
                    meter.runner(incumbent, tmp_path / "old", sandbox), rule)
    return found.summary()


def judged(summary: dict) -> dict:
    return {"status": "judged", "measurement": {"comparison": summary},
            "validation": {"valid": True, "checks": [{"name": "judge", "ok": True, "reason": "VALID"}]}}


@pytest.mark.parametrize("mode", MODES)
def test_a_gpu_saving_bought_with_host_cpu_time_is_flagged_and_rejected_when_strict(tmp_path, mode):
    summary = host_shifted(tmp_path, BUSY, IDLE, mode)  # half the GPU energy, far more CPU time
    assert summary["verdict"] == PROMISING and None not in summary["confirmation"]["new_cpu_s"]
    assert "host CPU time grew" in host_shift(summary, 1.5)
    flagged = with_host_check(judged(summary), 1.5, strict=False)
    check = flagged["validation"]["checks"][-1]
    assert check["name"] == "host-share" and check["flagged"] and check["ok"] is None
    assert assess(flagged, Rule(min_pairs=2, max_pairs=2), 1)[0] == "better"  # flagged, not rejected
    rejected = with_host_check(judged(summary), 1.5, strict=True)
    outcome, why, _ = assess(rejected, Rule(min_pairs=2, max_pairs=2), 1)
    assert outcome == "invalid" and why.startswith("host-share: host CPU time grew")


def test_no_flag_when_the_cpu_time_stays_within_the_factor(tmp_path):
    summary = host_shifted(tmp_path, ["sh", "-c", "sleep 0.2; echo gpu_joules=50"], IDLE)
    assert summary["verdict"] == PROMISING and host_shift(summary, 1.5) == ""


def test_no_flag_when_the_objective_is_not_gpu_energy():
    summary = {"objective": "duration_s", "screening": {"pairs": 2, "new_cpu_s": [9.0, 9.0], "old_cpu_s": [1.0, 1.0],
                                                       "ratio": {"change": -0.5}}, "confirmation": None}
    assert host_shift(summary, 1.5) == ""  # a CPU program's meter already counts its CPU work

"""Where a bench's trials run side by side: disjoint core sets, each GPU once, and locks that keep one
user per GPU and per core across processes while nesting inside one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.slots import Slot, core_slots, gpu_slots, spans
from app.slurm import sbatch_parameters
from app.suite import load_suite
from tests.helpers import ROOT
from tools.energy.gpu_lock import cpu_lock, gpu_lock
from tools.errors import LassiError


def test_cores_are_cut_into_disjoint_sets_of_the_size_asked_and_the_rest_left_idle():
    slots = core_slots(2, {0, 1, 2, 3, 4})
    assert [s.cores for s in slots] == [(0, 1), (2, 3)]
    assert [s.cores for s in core_slots(None, {3, 1})] == [(1, 3)]  # one slot of every core when none asked
    assert spans((0, 1, 2, 5)) == "0-2,5" and Slot(cores=(2, 3)).label == "cores 2-3"


@pytest.mark.parametrize("per_trial", [0, 3])
def test_more_cores_per_trial_than_the_bench_has_is_refused(per_trial):
    with pytest.raises(LassiError, match=r"--cpus-per-trial must be between 1 and the 2 cores this bench may use"):
        core_slots(per_trial, {0, 1})


def test_gpus_that_cannot_be_found_are_refused_before_any_trial(monkeypatch):
    from tools import gpu

    monkeypatch.setattr(gpu, "nvml", lambda: (_ for _ in ()).throw(LassiError("no NVIDIA GPU available")))
    with pytest.raises(LassiError, match="no NVIDIA GPU available"):
        gpu_slots("0,1")
    with pytest.raises(LassiError, match="takes GPU indices or UUIDs"):
        gpu_slots(" , ")


def test_one_gpu_named_twice_is_refused_as_two_trials_would_share_it(monkeypatch):
    import app.slots

    monkeypatch.setattr(app.slots, "find_gpu", lambda s: type("G", (), {"uuid": "GPU-same"})())
    with pytest.raises(LassiError, match="names GPU GPU-same twice"):
        gpu_slots("0,GPU-same")


def test_a_measurement_inside_a_trial_that_holds_its_gpu_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("LASSI_LOCK_DIR", str(tmp_path))
    with gpu_lock("GPU-x"), gpu_lock("GPU-x"), cpu_lock([0, 1]), cpu_lock([1]):
        pass  # would wait for ever if the inner locks did not nest
    with gpu_lock("GPU-x"):  # and the outer block released it
        pass


def test_a_core_set_waits_while_another_process_holds_one_of_its_cores(tmp_path, monkeypatch):
    monkeypatch.setenv("LASSI_LOCK_DIR", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, '.')\n"
        "from tools.energy.gpu_lock import cpu_lock\n"
        "with cpu_lock([1]):\n    print('held', flush=True); sys.stdin.read()")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={"LASSI_LOCK_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert holder.stdout.readline().strip() == "held"
    waiter = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, '.')\n"
        "from tools.energy.gpu_lock import cpu_lock\n"
        "with cpu_lock([0, 1]):\n    print('got both', flush=True)")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"LASSI_LOCK_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert "waiting for CPU core 1: another run is using it" in waiter.stderr.readline()
    assert waiter.poll() is None  # still waiting: the holder has not let go
    holder.communicate("")
    assert waiter.stdout.read().strip() == "got both" and waiter.wait() == 0


def test_the_suites_slurm_table_becomes_submitits_sbatch_parameters(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.cpp").write_text("int main() {}\n")
    path = tmp_path / "s.toml"
    path.write_text('[slurm]\npartition = "gpu"\naccount = "proj"\ntime-limit = 90\ngpus-per-trial = 1\n'
                    'cpus-per-trial = 8\nsbatch = ["--qos=high", "--exclusive"]\n\n[[program]]\nfolder = "p"\n')
    table = load_suite(path).slurm
    assert sbatch_parameters(table, None) == {
        "partition": "gpu", "account": "proj", "time": 90, "gpus_per_node": 1, "cpus_per_task": 8,
        "additional_parameters": {"qos": "high", "exclusive": True}}
    assert sbatch_parameters(table, 2)["cpus_per_task"] == 2  # the command line's --cpus-per-trial wins


@pytest.mark.parametrize("table, message", [
    ('partitoin = "gpu"', r"s.toml: \[slurm\]: unknown key 'partitoin' \(did you mean 'partition'\?\)"),
    ("time-limit = 0", r"s.toml: \[slurm\]: time-limit must be at least 1, not 0"),
    ('sbatch = ["qos=high"]', r"s.toml: \[slurm\]: sbatch takes sbatch's long options"),
])
def test_a_mistake_in_the_slurm_table_is_one_line_naming_it(table, message, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.cpp").write_text("int main() {}\n")
    path = tmp_path / "s.toml"
    path.write_text(f'[slurm]\n{table}\n\n[[program]]\nfolder = "p"\n')
    with pytest.raises(LassiError, match=message):
        load_suite(path)

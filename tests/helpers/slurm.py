"""A one-node Slurm on this machine for a test: Debian's slurm-wlm and munge (installed when absent), a
slurm.conf for localhost with no cgroups and no GRES, munged, slurmctld and slurmd started in a tmp
folder and stopped by their PIDs. Where a daemon cannot start, `start` raises Unavailable with why."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
START_S = 60  # how long the daemons get to answer


class Unavailable(Exception):
    """Slurm cannot run here; the message says why."""


class OneNodeSlurm:
    def __init__(self, folder: Path):
        self.folder = folder
        self.host = socket.gethostname().split(".")[0]
        self.daemons: list[subprocess.Popen] = []
        self.env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}

    def start(self) -> OneNodeSlurm:
        _install()
        self.folder.mkdir(parents=True, exist_ok=True)
        for sub in ("state", "spool", "munge"):
            (self.folder / sub).mkdir(exist_ok=True)
        (self.folder / "munge").chmod(0o700)
        key = self.folder / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        socket_path = self.folder / "munge" / "munge.socket"
        self._daemon("munged", ["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={socket_path}",
                                f"--pid-file={self.folder / 'munge' / 'munged.pid'}",
                                f"--log-file={self.folder / 'munge' / 'munged.log'}",
                                f"--seed-file={self.folder / 'munge' / 'munged.seed'}"])
        self._wait(lambda: socket_path.exists(), "munged did not open its socket", self.folder / "munge" / "munged.log")
        (self.folder / "slurm.conf").write_text(self._config(socket_path))
        self._daemon("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait(lambda: self._answers(["scontrol", "ping"], "UP"), "slurmctld did not answer",
                   self.folder / "slurmctld.log")
        self._daemon("slurmd", ["slurmd", "-D", "-N", self.host])
        self._wait(lambda: self._answers(["sinfo", "-h", "-o", "%T"], "idle"), "slurmd's node did not become idle",
                   self.folder / "slurmd.log")
        return self

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            if daemon.poll() is None:
                os.kill(daemon.pid, 15)
                try:
                    daemon.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.kill(daemon.pid, 9)
                    daemon.wait()
        self.daemons.clear()

    def completed_jobs(self) -> dict[str, str]:
        """Job id -> final state, from Slurm's job completion log."""
        log = self.folder / "jobcomp.txt"
        jobs = {}
        for line in log.read_text().splitlines() if log.is_file() else []:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            jobs[fields.get("JobId", "")] = fields.get("JobState", "")
        return jobs

    def _config(self, munge_socket: Path) -> str:
        f = self.folder
        cpus = os.cpu_count() or 1
        return f"""ClusterName=lassitest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldPidFile={f / 'slurmctld.pid'}
SlurmdPidFile={f / 'slurmd.pid'}
SlurmctldLogFile={f / 'slurmctld.log'}
SlurmdLogFile={f / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={f / 'jobcomp.txt'}
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=2
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""

    def _daemon(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.out").open("w")
        self.daemons.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True))

    def _answers(self, command: list[str], expected: str) -> bool:
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=30)
        return done.returncode == 0 and expected in done.stdout

    def _wait(self, ready, what: str, log: Path) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if ready():
                return
            if any(d.poll() is not None for d in self.daemons):
                break
            time.sleep(0.5)
        self.stop()
        said = log.read_text().strip().splitlines()[-3:] if log.is_file() else []
        out = sorted(self.folder.glob("*.out"))
        said += [line for o in out for line in o.read_text().strip().splitlines()[-2:]]
        raise Unavailable(f"{what} within {START_S} s: {' | '.join(said) or 'no log'}")


def _install() -> None:
    if all(shutil.which(tool) for tool in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue")):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise Unavailable("slurm-wlm and munge are not installed, and apt-get (as root) is not here to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""A suite's trials as Slurm jobs, one job per trial, submitted through submitit (`pip install
'lassi-ee[slurm]'`), sized by the suite's [slurm] table. The command waits for them where it runs and
assembles the suite report from the trial directories, which must lie on a file system the nodes share.

A job that Slurm preempts, or whose time limit nears, is requeued by submitit with the same trial, which
resumes from its last checkpoint. A command stopped while its jobs wait or run leaves them be: running
it again submits only the trials that are neither finished nor in the queue, and waits for all.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.bench import Ledger, run_trial, trial_label, trial_state
from app.slots import Slot
from app.suite import Suite, SuiteProgram
from tools.errors import LassiError
from tools.gpu import find_gpu

POLL_S = 5.0  # how often the queue is read while the command waits
QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "PREEMPTED",
          "RESV_DEL_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT"}


class SlurmTrial:
    """What a trial's job runs. submitit calls `checkpoint` when Slurm signals a preemption or the time
    limit, and requeues the job with what it returns: the same trial, which resumes where it stopped."""

    def __call__(self, suite_path: str, out: str, program_name: str, number: int) -> str:
        from app.progress import Progress

        return run_trial(suite_path, out, program_name, number, job_slot(), say=lambda line: print(line, flush=True),
                         progress=lambda: Progress(sys.stdout))

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def job_slot() -> Slot:
    """The cores Slurm gave the job, and the GPU (SLURM_JOB_GPUS names it by index) when it gave one."""
    gpus = os.environ.get("SLURM_STEP_GPUS") or os.environ.get("SLURM_JOB_GPUS")
    return Slot(gpu=find_gpu(gpus.split(",")[0]).uuid if gpus else None, cores=tuple(sorted(os.sched_getaffinity(0))))


def run_on_slurm(suite: Suite, out: Path, waiting: list[tuple[SuiteProgram, int]], say: Callable[[str], None],
                 cpus_per_trial: int | None = None) -> None:
    """Submit the trials not already in the queue, then wait until every one has left it."""
    executor = slurm_ready().SlurmExecutor(folder=out / ".slurm" / "%j")
    queue = queue_states()
    jobs: dict[str, tuple[SuiteProgram, int]] = {}
    for program, number in waiting:
        label, ledger = trial_label(program, number), Ledger.open(out / program.name, program, suite)
        job_id = ledger.trial(number).get("job", "")
        if job_id in queue:
            say(f"== {label}: {queue[job_id]} as Slurm job {job_id}")
        else:
            executor.update_parameters(job_name=f"lassi-ee-{program.name}-{number}",
                                       **sbatch_parameters(suite.slurm, cpus_per_trial))
            try:
                job_id = executor.submit(SlurmTrial(), str(suite.path), str(out), program.name, number).job_id
            except (subprocess.CalledProcessError, OSError) as exc:
                raise LassiError(f"{label}: sbatch refused the job: {_said(exc)}") from None
            ledger.update(number, job=job_id)
            say(f"== {label}: submitted as Slurm job {job_id}")
        jobs[job_id] = (program, number)
    _wait(jobs, suite, out, say)


def slurm_ready():
    """submitit, once it and Slurm's commands are known to be here."""
    try:
        import submitit
    except ImportError:
        raise LassiError("the slurm executor needs submitit: pip install 'lassi-ee[slurm]'") from None
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        raise LassiError("the slurm executor needs Slurm's sbatch and srun on PATH: run the bench on a machine"
                         " of the cluster")
    return submitit


def sbatch_parameters(table: dict, cpus_per_trial: int | None) -> dict:
    """submitit's SlurmExecutor parameters from the suite's [slurm] table."""
    params = {"partition": table.get("partition"), "account": table.get("account"),
              "time": table.get("time-limit"), "gpus_per_node": table.get("gpus-per-trial"),
              "cpus_per_task": cpus_per_trial or table.get("cpus-per-trial")}
    extra = {}
    for option in table.get("sbatch", []):
        key, _, value = option.removeprefix("--").partition("=")
        extra[key] = value if value else True
    return {k: v for k, v in params.items() if v is not None} | ({"additional_parameters": extra} if extra else {})


def queue_states() -> dict[str, str]:
    """This user's jobs in the Slurm queue, by id: queued or running. Empty without Slurm."""
    if shutil.which("squeue") is None:
        return {}
    try:
        done = subprocess.run(["squeue", "--noheader", "--user", getpass.getuser(), "--format", "%i %T"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LassiError(f"squeue did not answer: {exc}") from None
    if done.returncode != 0:
        raise LassiError(f"squeue failed: {done.stderr.strip() or done.returncode}")
    states = (line.split()[:2] for line in done.stdout.splitlines() if line.strip())
    return {job: "queued" if state in QUEUED else "running" for job, state in states}


def _wait(jobs: dict[str, tuple[SuiteProgram, int]], suite: Suite, out: Path, say: Callable[[str], None]) -> None:
    said: dict[str, str] = {}
    while True:
        queue = queue_states()
        for job_id, (program, number) in jobs.items():
            now = queue.get(job_id, "ended")
            if said.get(job_id) == now:
                continue
            said[job_id] = now
            label = trial_label(program, number)
            if now != "ended":
                say(f"== {label}: Slurm job {job_id} {now}")
            elif trial_state(out / program.name / f"trial-{number}") == "finished":
                say(f"== {label}: Slurm job {job_id} ended, the trial finished")
            else:
                error = Ledger.open(out / program.name, program, suite).trial(number)["error"]
                say(f"== {label}: Slurm job {job_id} ended before the trial finished"
                    f"{': ' + error if error else ''}; its log: {out / '.slurm' / job_id}")
        if all(state == "ended" for state in said.values()):
            return
        time.sleep(POLL_S)


def _said(exc: Exception) -> str:
    output = getattr(exc, "output", None) or getattr(exc, "stderr", None) or b""
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    return text.strip() or str(exc)

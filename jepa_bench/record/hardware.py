"""Where a run ran: hardware, software versions and the git state of the code."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from jepa_bench.workers import usable_cores


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware_info(device: Any = None) -> dict[str, Any]:
    """cpu, cores, gpu, torch, python, platform, threads of this process.

    ``gpu`` names the accelerator of ``device`` (the first CUDA device when ``device`` is None and
    one is available); it is None for a CPU run.
    """
    import torch

    dev = torch.device(device) if device is not None else None
    gpu = None
    if dev is None or dev.type == "cuda":
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(dev if dev is not None else 0)
    elif dev.type == "mps":
        gpu = "Apple MPS"
    return {
        "cpu": _cpu_name(),
        "cores": usable_cores(),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }


def _git(repo_dir: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None


def git_info(repo_dir: str | Path) -> dict[str, Any] | None:
    """{commit, dirty} of the checkout holding ``repo_dir``; None when it is not a git checkout.

    ``commit`` is None in a repository without commits; ``dirty`` is True when tracked files have
    uncommitted changes (untracked files are ignored).
    """
    inside = _git(Path(repo_dir), "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    head = _git(Path(repo_dir), "rev-parse", "--verify", "--quiet", "HEAD")
    commit = head.stdout.strip() if head is not None and head.returncode == 0 else None
    status = _git(Path(repo_dir), "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status.stdout.strip()) if status is not None and status.returncode == 0 else True
    return {"commit": commit or None, "dirty": dirty}


def hardware_short(hw: dict[str, Any] | None) -> str:
    """A few words for tables: the GPU's name, else the CPU's name and thread count."""
    if not hw:
        return "?"
    if hw.get("gpu"):
        return str(hw["gpu"]).replace("NVIDIA ", "")
    cpu = str(hw.get("cpu") or "CPU")
    for noise in ("(R)", "(TM)", "(tm)", " CPU", " Processor", "-Core"):
        cpu = cpu.replace(noise, "")
    cpu = " ".join(cpu.split("@")[0].split())
    threads = hw.get("threads")
    return f"{cpu} x{threads}" if threads else cpu

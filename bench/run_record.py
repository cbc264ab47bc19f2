"""What every benchmark records about its run: which source it measured, and the end of the
run (duration, load, a warning if the source changed meanwhile, the JSON file). Shared by
the benchmarks in this folder; no third-party imports, so any of them can use it cheaply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def git_state() -> dict[str, Any]:
    """Which source was measured: the commit, and whether src/ had uncommitted changes."""

    def git(*argv: str) -> str | None:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    status = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "src_dirty": None if status is None else bool(status)}


def close_run(results: dict[str, Any], started: float, json_path: str | None) -> None:
    """Record the run's duration and end load in `results["meta"]`, warn if the measured
    source changed during the run, and write `results` to `json_path` if one was given."""
    meta = results["meta"]
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    end = git_state()
    if end != meta["git"]:
        log(f"warning: the source changed during the run: {meta['git']} -> {end}")
        meta["git_end"] = end
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(results, indent=2, default=str))

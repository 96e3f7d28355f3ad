"""`scim_load.py --profile WORKLOAD`: py-spy samples the server, and what the samples say.

The collapsed stacks are summed into self time by package, inclusive time of
sitescim and scim2-models functions, and the hottest leaf functions.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from bench.harness import BIN


def start_profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy samples the server while wrk runs (``pip install py-spy``)."""
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--function",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


FRAME_FILE = re.compile(r"\(([^/():]+?)(?:\.py)?[/:][^()]*\)$")


def frame_package(frame: str) -> str:
    """``sqlalchemy`` for ``f (sqlalchemy/engine/default.py:1)``, ``threading`` for a module."""
    found = FRAME_FILE.search(frame)
    return found.group(1) if found else "other"


def summarise_profile(collapsed: Path, *, top: int = 25) -> None:
    """Where the server's sampled time goes: by package (self), our functions, hot leaves."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if len(frames) > 1 and frames[-2].startswith("Queue.get") and "WorkerThread" in stack:
            idle += count  # an idle threadpool worker waiting for work
            continue
        total += count
        own[frames[-1]] += count
        packages[frame_package(frames[-1])] += count
        for frame in set(frames):
            if "sitescim/" in frame or "scim2_models/" in frame:
                inclusive[frame] += count
    if not total:
        print("  (no samples)")
        return

    def share(count: int) -> str:
        return f"{100 * count / total:.1f}"

    print(
        f"\nprofile: {total} busy samples (all threads; {idle} idle threadpool samples left out), "
        f"collapsed stacks in {collapsed}"
    )
    print("\n| self % | package |\n|---:|---|")
    for package, count in packages.most_common(12):
        print(f"| {share(count)} | {package} |")
    print("\n| inclusive % | sitescim / scim2_models function |\n|---:|---|")
    for frame, count in inclusive.most_common(top):
        print(f"| {share(count)} | `{frame}` |")
    print("\n| self % | function |\n|---:|---|")
    for frame, count in own.most_common(15):
        print(f"| {share(count)} | `{frame}` |")

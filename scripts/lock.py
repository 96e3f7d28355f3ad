"""Regenerate requirements.lock and requirements-dev.lock from pyproject.toml.

Each lock is the `pip freeze` of a clean virtual environment holding the
package (and, for the dev lock, its `dev` extra), so a fresh install is
reproducible and the two never drift apart.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "requirements.lock": (".", "Pinned runtime dependencies."),
    "requirements-dev.lock": (".[dev]", "Pinned runtime + development dependencies."),
}


def freeze(target: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run([*pip, "install", "--quiet", target], cwd=ROOT, check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude", "sitescim"], check=True, capture_output=True, text=True
        )
        return frozen.stdout


def main() -> None:
    for name, (target, title) in LOCKS.items():
        body = freeze(target)
        (ROOT / name).write_text(f"# {title} Regenerate: make lock\n{body}")
        print(f"wrote {name}")


if __name__ == "__main__":
    main()

"""`python -m pointbench ...` as a subprocess for tests, with a private cache and the tests' helper modules importable."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def pointbench(*args, cache, cwd, check=True, **kwargs):
    """Run the command; `.output` is stdout + stderr (Hydra logs to stdout); asserts exit 0 unless `check=False`."""
    env = dict(os.environ, POINTBENCH_CACHE=str(cache), PYTHONPATH=str(TESTS))
    proc = subprocess.run([sys.executable, "-m", "pointbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, **kwargs)
    proc.output = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, proc.output
    return proc

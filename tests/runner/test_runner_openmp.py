"""libgomp's settings are in place before llama_cpp loads, unless the user chose their own (``runner/_openmp``)."""

from __future__ import annotations

import os
import subprocess
import sys

# Prints the two variables as they are at the moment something first imports llama_cpp.
SPY = """
import os, sys
class Spy:
    def find_spec(self, name, path, target=None):
        if name == "llama_cpp":
            print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"), flush=True)
            sys.meta_path.remove(self)
        return None
sys.meta_path.insert(0, Spy())
import ollamalib.runner
"""


def _seen(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", SPY], env={**clean, **env}, capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.strip()


def test_wait_policy_is_set_before_llama_cpp_loads() -> None:
    assert _seen() == "active 300000"


def test_a_users_own_setting_is_kept() -> None:
    assert _seen(OMP_WAIT_POLICY="passive") == "passive None"
    assert _seen(GOMP_SPINCOUNT="1000") == "None 1000"

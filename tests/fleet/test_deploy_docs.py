"""docs/deploy.md's configurations are well-formed: HAProxy accepts its config, the YAML blocks parse, and the
HAProxy config shown is the one the fleet test runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from fleetutil import HAPROXY, haproxy_config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()


def blocks(lang: str) -> list[str]:
    """The fenced blocks whose info string is ``lang`` (fences paired in order)."""
    return [body for info, body in re.findall(r"^```(\w*)\n(.*?)^```$", DOC, re.M | re.S) if info == lang]


def test_haproxy_config_is_accepted_and_matches_the_tested_one(tmp_path: Path):
    (shown,) = [b for b in blocks("") if b.startswith("defaults")]
    config = tmp_path / "haproxy.cfg"
    config.write_text(shown)
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = haproxy_config(1, 2, ["127.0.0.1:3"], check_path="/api/ready?model=m")
    significant = lambda text: {re.sub(r"\s*#.*", "", l).strip() for l in text.splitlines()  # noqa: E731
                                if l.strip().startswith(("retries", "option", "retry-on", "http-check", "timeout"))}
    assert significant(shown) <= significant(tested) | {"option httpchk GET /api/ready?model=qwen2:0.5b"}


def test_yaml_blocks_parse():
    docs = [d for block in blocks("yaml") for d in yaml.safe_load_all(block)]
    kinds = {d.get("kind") for d in docs if isinstance(d, dict)}
    assert {"Model", "Deployment", "Service"} <= kinds
    model = next(d for d in docs if isinstance(d, dict) and d.get("kind") == "Model")
    assert model["spec"]["engine"] == "OLlama" and model["spec"]["url"].startswith("ollama://")

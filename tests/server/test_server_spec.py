"""Speculative decoding over HTTP: /api/create with ``draft_files``, acceptance in the final chunk and on /metrics."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import prometheus_client.parser as prometheus
from gguf_factory import write_tiny_gguf


def upload(url: str, path: Path) -> str:
    data = path.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert httpx.post(f"{url}/api/blobs/{digest}", content=data, timeout=60).status_code in (200, 201)
    return digest


def test_create_with_draft_files_then_generate_reports_acceptance(live, tmp_path: Path) -> None:
    target = write_tiny_gguf(tmp_path / "target.gguf", seed=7, n_layer=4)
    draft = write_tiny_gguf(tmp_path / "draft.gguf", seed=7, n_layer=3)
    files = {"target.gguf": upload(live.url, target)}
    for name, extra in (("spec-plain", {}), ("spec-drafted", {"draft_files": {"draft.gguf": upload(live.url, draft)}})):
        r = httpx.post(f"{live.url}/api/create", json={"model": name, "files": files, "stream": False, **extra},
                       timeout=60)
        assert r.status_code == 200, r.text
    body = {"prompt": "the cat and the dog", "stream": False, "options": {"temperature": 0, "num_predict": 24}}
    plain = httpx.post(f"{live.url}/api/generate", json={"model": "spec-plain", **body}, timeout=60).json()
    drafted = httpx.post(f"{live.url}/api/generate", json={"model": "spec-drafted", **body}, timeout=60).json()
    assert drafted["response"] == plain["response"]
    assert "draft_count" not in plain
    assert drafted["draft_count"] > 0 and 0 <= drafted["draft_accepted_count"] <= drafted["draft_count"]
    bad = httpx.post(f"{live.url}/api/create", json={"model": "spec-bad", "files": files,
                                                     "draft_files": {"../x.gguf": files["target.gguf"]}})
    assert bad.status_code == 400 and bad.json() == {"error": "file path must be relative"}

    fams = {f.name: f for f in prometheus.text_string_to_metric_families(httpx.get(live.url + "/metrics").text)}
    drafted_total = {s.labels["model"]: s.value for s in fams["ollamalib_draft_tokens"].samples}
    accepted = {s.labels["model"]: s.value for s in fams["ollamalib_draft_accepted_tokens"].samples}
    ratio = {s.labels["model"]: s.value for s in fams["ollamalib_draft_acceptance_ratio"].samples}
    assert drafted_total["spec-drafted:latest"] >= drafted["draft_count"]
    assert accepted["spec-drafted:latest"] >= drafted["draft_accepted_count"]
    assert 0.0 <= ratio["spec-drafted:latest"] <= 1.0 and drafted_total["spec-plain:latest"] == 0


def test_create_with_a_draft_model_name(live, tmp_path: Path) -> None:
    target = write_tiny_gguf(tmp_path / "target.gguf", seed=7, n_layer=4)
    draft = write_tiny_gguf(tmp_path / "draft.gguf", seed=7, n_layer=3)
    for name, body in (("spec-small", {"files": {"draft.gguf": upload(live.url, draft)}}),
                       ("spec-named", {"files": {"target.gguf": upload(live.url, target)}, "draft": "spec-small"})):
        r = httpx.post(f"{live.url}/api/create", json={"model": name, "stream": False, **body}, timeout=60)
        assert r.status_code == 200, r.text
    shown = httpx.post(f"{live.url}/api/show", json={"model": "spec-named"}, timeout=60).json()["modelfile"]
    digest = upload(live.url, draft).removeprefix("sha256:")
    assert any(line.startswith("DRAFT ") and line.endswith(f"sha256-{digest}") for line in shown.splitlines())
    body = {"prompt": "the cat and the dog", "stream": False, "options": {"temperature": 0, "num_predict": 16}}
    assert httpx.post(f"{live.url}/api/generate", json={"model": "spec-named", **body}, timeout=60).json()["draft_count"]
    missing = httpx.post(f"{live.url}/api/create", json={"model": "spec-bad", "from": "spec-small", "draft": "nope"})
    assert missing.status_code == 404 and missing.json() == {"error": "model 'nope' not found"}
    bad = httpx.post(f"{live.url}/api/create", json={"model": "spec-bad", "from": "spec-small", "draft": "a b"})
    assert bad.status_code == 400 and "invalid model name" in bad.json()["error"]

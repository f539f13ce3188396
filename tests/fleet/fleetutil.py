"""Helpers for the fleet tests and benchmarks/fleet.py: a TLS docker-registry holding a tiny real model,
ollamalib installed as ``ollama`` on a PATH, replicas as child processes, and HAProxy in front of them.

Everything listens on 127.0.0.1. The registry speaks https with a throw-away CA (``SSL_CERT_FILE`` makes the
replicas trust it), so ``ollama pull HOST:PORT/library/tiny`` works without ``--insecure``, exactly as a
KubeAI pod pulls from a private registry.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parents[1]
for _sub in ("server", "registry"):
    if str(TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(TESTS / _sub))

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf  # noqa: E402
from netutil import free_port, stop_process  # noqa: E402
from regtest_models import create_gguf_model  # noqa: E402
from regtest_servers import DockerRegistry, start_docker_registry  # noqa: E402
from srvutil import ServerProcess, start_server_process  # noqa: E402

from ollamalib.config import Settings  # noqa: E402
from ollamalib.registry import Registry  # noqa: E402
from ollamalib.store import ModelStore  # noqa: E402

__all__ = [
    "ANSWER",
    "HAPROXY",
    "Fleet",
    "HAProxy",
    "TlsRegistry",
    "install_as_ollama",
    "manifest_gets",
    "haproxy_log_retries",
    "publish_tiny_model",
    "servers_up",
    "start_haproxy",
    "start_replica",
    "start_tls_registry",
    "wait_status",
    "wait_up",
]

HAPROXY = "/usr/sbin/haproxy"
ANSWER = "The quick brown fox jumps over the lazy dog, again and again and again."  # the scripted reply


def install_as_ollama(bin_dir: Path) -> Path:
    """A directory whose ``ollama`` is this venv's ``ollamalib`` console script (put it first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = Path(sys.executable).parent / "ollamalib"
    if not target.exists():
        raise RuntimeError(f"{target} missing: `make install` installs the ollamalib console script")
    link = bin_dir / "ollama"
    if not link.exists():
        link.symlink_to(target)
    return link


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ollamalib test registry")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "registry.crt", directory / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class TlsRegistry:
    """docker-registry over https with its access log on, and the CA file clients must trust."""

    registry: DockerRegistry
    ca: Path

    @property
    def host(self) -> str:
        return self.registry.host

    def stop(self) -> None:
        self.registry.stop()


def start_tls_registry(root: Path) -> TlsRegistry:
    cert, key = _self_signed(root / "tls")
    return TlsRegistry(start_docker_registry(root / "registry", tls=(cert, key), accesslog=True), cert)


def publish_tiny_model(reg: TlsRegistry, work: Path, repo: str = "library/tiny", *, script: str | None = ANSWER,
                       embedding: bool = False) -> str:
    """Create a tiny real GGUF model and push it to ``reg``; returns its reference ``HOST:PORT/repo:latest``.

    ``script`` is the model's fixed answer; ``None`` gives random weights that never pick an end token under greedy
    decoding, with ``num_ctx`` 8192 so that ``num_predict`` (capped at ten contexts) allows minutes of babble."""
    import ssl

    ref = f"{reg.host}/{repo}:latest"
    gguf = write_tiny_gguf(work / f"{repo.replace('/', '-')}.gguf", chat_template=CHATML_TEMPLATE,
                           script=None if embedding else script, embedding=embedding, n_embd=128,
                           endless=script is None and not embedding, n_ctx_train=8192)
    store = ModelStore(work / "publisher-models")
    create_gguf_model(store, ref, gguf, parameters={"num_ctx": 8192} if script is None and not embedding else None)
    settings = Settings.from_env({}, models=store.root, data_dir=work / "publisher", home_dir=work / "publisher-home")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(reg.ca))) as http:
        with Registry(store, settings=settings, http=http) as registry:
            events = list(registry.push(ref))
    if events[-1].status != "success":
        raise RuntimeError(f"push failed: {events[-1]}")
    return ref


def manifest_gets(reg: TlsRegistry, repo: str = "library/tiny") -> int:
    """How many manifest GETs for ``repo`` the registry's access log shows (one per pull)."""
    log = (reg.registry.root / "registry.log").read_text(errors="replace")
    return len(re.findall(rf'"GET /v2/{re.escape(repo)}/manifests/[^ ]+ HTTP', log))


def wait_status(url: str, status: int = 200, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers ``status``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2).status_code
            if last == status:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s (last: {last!r})")


def start_replica(tmp: Path, reg: TlsRegistry, *, index: int, drain_timeout: str = "20s",
                  cpus: str | None = None, **env: str) -> ServerProcess:
    """One replica (``python -m ollamalib_server``) with an empty store of its own, trusting the registry;
    ``cpus`` pins it with ``taskset -c`` (a CPU list such as ``"1"``)."""
    root = tmp / f"replica-{index}"
    root.mkdir(parents=True, exist_ok=True)
    prefix = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    return start_server_process(root, root / "models", prefix=prefix, SSL_CERT_FILE=str(reg.ca),
                                OLLAMALIB_DRAIN_TIMEOUT=drain_timeout, OLLAMA_KEEP_ALIVE="999999h", **env)


@dataclass
class HAProxy:
    """A running haproxy in front of the replicas; ``url`` is its frontend."""

    url: str
    process: subprocess.Popen
    config: Path
    stats: str
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def haproxy_config(port: int, stats_port: int, servers: list[str], *, check_path: str, balance: str = "roundrobin",
                   hash_header: str | None = None) -> str:
    """The HAProxy configuration docs/deploy.md shows, for loopback replicas.

    Health checks on the readiness route keep a replica out until its model is loaded and take it out when
    it drains (503) or dies; ``retry-on`` + ``option redispatch`` send a request that failed before any
    response byte (refused connection, 503 from a draining replica, an empty response from a killed one) to
    another replica. A response that has started streaming is never retried (HAProxy cannot, by design).
    """
    balance_line = f"balance hdr({hash_header})\n    hash-type consistent" if hash_header else f"balance {balance}"
    backends = "\n".join(
        f"    server r{i} {s} check inter 500ms fall 1 rise 1 observe layer7 error-limit 1 on-error mark-down"
        for i, s in enumerate(servers))
    return f"""global
    maxconn 256
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout queue 60s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503
    option http-buffer-request
frontend fleet
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    {balance_line}
    option httpchk GET {check_path}
    http-check expect status 200
    default-server maxconn 8
    http-response set-header X-Served-By %s
{backends}
listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /
"""


def start_haproxy(tmp: Path, servers: list[str], *, check_path: str, **kw: str) -> HAProxy:
    if not Path(HAPROXY).exists():
        raise RuntimeError(f"{HAPROXY} missing: `make test` installs Debian's haproxy (SYSTEM_PACKAGES)")
    port, stats = free_port(), free_port()
    config = tmp / f"haproxy-{port}.cfg"
    config.write_text(haproxy_config(port, stats, servers, check_path=check_path, **kw))
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"haproxy rejected its configuration:\n{check.stdout}{check.stderr}")
    log = open(tmp / f"haproxy-{port}.log", "wb")
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"haproxy exited: {(tmp / f'haproxy-{port}.log').read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{stats}/", timeout=1)
            return HAProxy(url, proc, config, f"http://127.0.0.1:{stats}/", tmp / f"haproxy-{port}.log")
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("haproxy did not start")


def servers_up(router: HAProxy) -> list[str]:
    """The backend servers HAProxy's stats page shows UP."""
    rows = httpx.get(router.stats + ";csv", timeout=5).text.splitlines()
    return [r.split(",")[1] for r in rows[1:] if r.startswith("replicas,") and r.split(",")[17] == "UP"]


def wait_up(router: HAProxy, count: int, timeout: float = 60.0) -> None:
    """Wait until ``count`` replicas pass HAProxy's health check."""
    deadline = time.monotonic() + timeout
    while len(servers_up(router)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {servers_up(router)} up after {timeout}s")
        time.sleep(0.1)


def haproxy_log_retries(router: HAProxy) -> int:
    """Requests HAProxy had to retry or redispatch (the retries field of its HTTP log lines)."""
    total = 0
    for match in re.finditer(r" \d+/\d+/\d+/\d+/\+?(\d+) \d+/\d+ ", router.log.read_text(errors="replace")):
        total += int(match.group(1)) > 0
    return total


@dataclass
class Fleet:
    """The replicas and the router of one test or benchmark run."""

    registry: TlsRegistry
    replicas: list[ServerProcess]
    router: HAProxy | None = None

    def stop(self) -> None:
        if self.router is not None:
            self.router.stop()
        for replica in self.replicas:
            if replica.alive():
                replica.process.kill()
                replica.process.wait()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))

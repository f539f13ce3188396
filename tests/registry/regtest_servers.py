"""Real servers on loopback for the registry tests: Debian's docker-registry, a logging (and throttling)
reverse proxy, a small scriptable registry for faults a real one cannot produce on demand, and a
Hugging Face endpoint serving the files huggingface-hub asks for."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import shutil
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from netutil import free_port, stop_process

DOCKER_REGISTRY = "/usr/bin/docker-registry"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
USER, PASSWORD = "ollama-user", "s3cret-pass"  # the htpasswd registry's account


# -- Debian's docker-registry ------------------------------------------------------------------------------


@dataclass
class DockerRegistry:
    """A running ``docker-registry serve`` with filesystem storage in a temporary directory."""

    host: str
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def start_docker_registry(root: Path, htpasswd: Path | None = None, *, tls: tuple[Path, Path] | None = None,
                          accesslog: bool = False) -> DockerRegistry:
    """Start it; ``tls`` = (certificate, key) serves https, ``accesslog`` writes request lines to registry.log."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: ollamalib-test\n    path: {htpasswd}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"log:\n  level: error\n  accesslog:\n    disabled: {'false' if accesslog else 'true'}\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "")
        + auth
    )
    scheme, verify = ("https", ssl.create_default_context(cafile=str(tls[0]))) if tls else ("http", True)
    log = open(root / "registry.log", "wb")
    proc = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()}")
        try:
            if httpx.get(f"{scheme}://127.0.0.1:{port}/v2/", timeout=1, verify=verify).status_code in (200, 401):
                return DockerRegistry(f"127.0.0.1:{port}", root, proc)
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("docker-registry did not start")


def write_htpasswd(path: Path, user: str, password: str) -> None:
    """A bcrypt htpasswd file (docker-registry accepts only bcrypt entries)."""
    try:
        import bcrypt
    except ImportError:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            raise
        subprocess.run([htpasswd, "-Bbc", str(path), user, password], check=True, capture_output=True)
        return
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")


# -- a threaded HTTP server base ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:  # clients hanging up mid-body are expected
        pass


class LoopbackServer:
    """Runs a handler class on a free loopback port in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> None:
        self.httpd = _Server((host, 0), handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.host = f"{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    @property
    def owner(self):
        return self.server.owner  # type: ignore[attr-defined]

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


# -- logging / throttling reverse proxy --------------------------------------------------------------------


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    status: int
    started: float = 0.0  # time.monotonic() when the request arrived, and when its response was sent
    ended: float = 0.0


class ProxyHandler(_Handler):
    def _proxy(self) -> None:
        owner: LoggingProxy = self.owner
        entry = Logged(self.command, self.path, self.headers.get("Range"), 0, time.monotonic())
        with owner.lock:
            owner.log.append(entry)
        body = self._body()
        conn = http.client.HTTPConnection(owner.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        entry.status = resp.status
        length = resp.getheader("Content-Length")
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        if length is None and self.command != "HEAD":
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()
            entry.ended = time.monotonic()
            return
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        try:
            if self.command != "HEAD":
                while chunk := resp.read(owner.chunk):
                    self.wfile.write(chunk)
                    if owner.rate:
                        time.sleep(len(chunk) / owner.rate)
        finally:
            entry.ended = time.monotonic()
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy


class LoggingProxy(LoopbackServer):
    """A reverse proxy in front of ``upstream`` that logs every request (with its Range) and can throttle."""

    def __init__(self, upstream: str, rate: float | None = None, chunk: int = 64 * 1024) -> None:
        self.upstream = upstream
        self.rate = rate
        self.chunk = chunk
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        super().__init__(ProxyHandler)

    def ranges(self, digest: str) -> list[tuple[int, int]]:
        """(start, end) of every ranged GET of a blob, in arrival order."""
        out = []
        for entry in self.log:
            if entry.method == "GET" and entry.path.endswith(f"/blobs/{digest}") and entry.range:
                start, end = entry.range.removeprefix("bytes=").split("-")
                out.append((int(start), int(end)))
        return out


def fetched_bytes(ranges: list[tuple[int, int]], skip_probe: bool = True) -> int:
    """Bytes asked for by a set of Range requests (the 1-byte ``bytes=0-0`` probes excluded)."""
    return sum(end - start + 1 for start, end in ranges if not (skip_probe and (start, end) == (0, 0)))


# -- a scriptable registry ---------------------------------------------------------------------------------


@dataclass
class FakeRegistryState:
    manifests: dict[str, bytes] = field(default_factory=dict)  # "<ns>/<model>:<tag>" -> raw manifest
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes served (may be wrong on purpose)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    stall_once: set[str] = field(default_factory=set)  # digests whose first ranged GET stalls halfway
    fail_times: dict[str, int] = field(default_factory=dict)  # digest -> ranged GETs to answer with 500
    redirect_to: str | None = None  # "host:port" of a CDN serving /cdn/<digest>
    bearer: bool = False
    realm_host: str | None = None
    public_keys: set[str] = field(default_factory=set)  # base64 key blobs the token endpoint accepts
    token_requests: list[dict] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    stall_seconds: float = 2.0


class FakeRegistryHandler(_Handler):
    def _record(self) -> None:
        with self.owner.lock:
            self.owner.state.requests.append((self.command, self.path, dict(self.headers.items())))

    def _authorized(self, scope: str) -> bool:
        st: FakeRegistryState = self.owner.state
        if not st.bearer:
            return True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in st.issued:
            return True
        realm = f"http://{st.realm_host or self.owner.host}/token"
        challenge = f'Bearer realm="{realm}",service="fake-registry",scope="{scope}"'
        self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
        return False

    def do_GET(self) -> None:
        self._record()
        st: FakeRegistryState = self.owner.state
        path = urlsplit(self.path).path
        if path == "/token":
            return self._token()
        if path.startswith("/cdn/"):
            return self._blob(path.rsplit("/", 1)[1])
        parts = path.split("/")
        if len(parts) == 6 and parts[1] == "v2":
            repo = f"{parts[2]}/{parts[3]}"
            if not self._authorized(f"repository:{repo}:pull"):
                return
            if parts[4] == "manifests":
                raw = st.manifests.get(f"{repo}:{parts[5]}")
                if raw is None:
                    return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                return self._send(200, raw, {"Content-Type": MANIFEST_TYPE})
            if parts[4] == "blobs":
                if st.redirect_to:
                    return self._send(307, b"", {"Location": f"http://{st.redirect_to}/cdn/{parts[5]}"})
                return self._blob(parts[5])
        self._send(404)

    do_HEAD = do_GET

    def _blob(self, digest: str) -> None:
        st: FakeRegistryState = self.owner.state
        data = st.blobs.get(digest)
        if data is None:
            return self._send(404)
        rng = self.headers.get("Range")
        if self.command == "HEAD" or not rng:
            return self._send(200, data, {"Content-Type": "application/octet-stream"})
        start, end = (int(x) for x in rng.removeprefix("bytes=").split("-"))
        piece = data[start : end + 1]
        with self.owner.lock:
            fail = st.fail_times.get(digest, 0)
            if fail and (start, end) != (0, 0):
                st.fail_times[digest] = fail - 1
        if fail and (start, end) != (0, 0):
            return self._send(500, b"temporary failure")
        headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Content-Type": "application/octet-stream"}
        stall = False
        with self.owner.lock:
            if digest in st.stall_once and (start, end) != (0, 0) and len(piece) > 1:
                st.stall_once.discard(digest)
                stall = True
        self.send_response(206)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(piece)))
        self.end_headers()
        if stall:
            self.wfile.write(piece[: len(piece) // 2])
            self.wfile.flush()
            time.sleep(st.stall_seconds)
            self.close_connection = True
            return
        self.wfile.write(piece)

    def _token(self) -> None:
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key

        st: FakeRegistryState = self.owner.state
        url = f"http://{self.headers['Host']}{self.path}"
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        record = {"url": url, "query": query, "authorization": self.headers.get("Authorization", ""), "ok": False}
        with self.owner.lock:
            st.token_requests.append(record)
        try:
            key_b64, sig_b64 = record["authorization"].split(":", 1)
            if key_b64 not in st.public_keys:
                raise ValueError("unknown key")
            key = load_ssh_public_key(f"ssh-ed25519 {key_b64}".encode())
            empty = base64.b64encode(hashlib.sha256(b"").hexdigest().encode()).decode()
            key.verify(base64.b64decode(sig_b64), f"GET,{url},{empty}".encode())
            if abs(int(query["ts"]) - time.time()) > 60 or not query.get("nonce"):
                raise ValueError("stale or missing ts/nonce")
        except Exception as exc:  # noqa: BLE001 - any failure is a refusal
            record["error"] = repr(exc)
            return self._send(401, b'{"error":"invalid signature"}')
        token = base64.b16encode(hashlib.sha256(url.encode()).digest()).decode()
        with self.owner.lock:
            st.issued.add(token)
        record["ok"] = True
        self._send(200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"})


class FakeRegistry(LoopbackServer):
    """A minimal registry serving fixed manifests and blobs, with faults on request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = FakeRegistryState()
        self.lock = threading.Lock()
        super().__init__(FakeRegistryHandler, host)

    def add_model(self, repo_tag: str, blobs: dict[str, bytes], manifest: bytes) -> None:
        self.state.manifests[repo_tag] = manifest
        self.state.blobs.update(blobs)

    def ranged_gets(self, digest: str) -> list[tuple[int, int]]:
        out = []
        for method, path, headers in self.state.requests:
            rng = headers.get("Range")
            if method == "GET" and path.endswith(digest) and rng:
                start, end = rng.removeprefix("bytes=").split("-")
                out.append((int(start), int(end)))
        return out


def make_manifest(layers: list[tuple[str, bytes]], config: bytes) -> tuple[bytes, dict[str, bytes]]:
    """A v2 manifest (pretty-printed, so byte-for-byte storage is visible) and its blobs by digest."""
    blobs: dict[str, bytes] = {}

    def desc(media: str, data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media, "digest": digest, "size": len(data)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": desc("application/vnd.docker.container.image.v1+json", config),
        "layers": [desc(media, data) for media, data in layers],
    }
    return json.dumps(manifest, indent=3).encode(), blobs


# -- a Hugging Face endpoint -------------------------------------------------------------------------------


class HFHandler(_Handler):
    def do_GET(self) -> None:
        owner: FakeHuggingFace = self.owner
        path = urlsplit(self.path).path
        with owner.lock:
            owner.requests.append((self.command, self.path, dict(self.headers.items())))
        if path.startswith("/cdn/"):
            return self._file(owner.cdn_files.get(path.removeprefix("/cdn/")))
        if path.startswith("/api/models/"):
            rest = path.removeprefix("/api/models/")
            repo, _, tail = rest.partition("/tree/")
            files = owner.repos.get(repo)
            if files is None or not tail.startswith("main"):
                return self._send(404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            listing = []
            for name, data in files.items():
                entry = {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": name}
                if name.endswith(".gguf"):
                    sha = hashlib.sha256(data).hexdigest()
                    entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
                listing.append(entry)
            return self._send(200, json.dumps(listing).encode(), {"Content-Type": "application/json"})
        repo, sep, file = path.lstrip("/").partition("/resolve/main/")
        files = owner.repos.get(repo)
        if not sep or files is None or file not in files:
            return self._send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
        data = files[file]
        sha = hashlib.sha256(data).hexdigest()
        headers = {
            "X-Repo-Commit": "0" * 40,
            "ETag": f'"{sha}"',
            "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": str(len(data)),
        }
        if owner.cdn_host:
            owner.cdn_files[sha] = data
            headers["Location"] = f"http://{owner.cdn_host}/cdn/{sha}"
            return self._send(302, b"", headers)
        self._file(data, headers)

    do_HEAD = do_GET

    def _file(self, data: bytes | None, headers: dict[str, str] | None = None) -> None:
        if data is None:
            return self._send(404)
        rng = self.headers.get("Range")
        if self.command == "HEAD" or not rng:
            return self._send(200, data, headers)
        start, end = (int(x) for x in rng.removeprefix("bytes=").split("-"))
        end = min(end, len(data) - 1)
        h = dict(headers or {}, **{"Content-Range": f"bytes {start}-{end}/{len(data)}"})
        self._send(206, data[start : end + 1], h)


class FakeHuggingFace(LoopbackServer):
    """Serves ``/api/models/<repo>/tree/main`` and ``/<repo>/resolve/main/<file>`` (optionally via a CDN)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.cdn_files: dict[str, bytes] = {}
        self.cdn_host: str | None = None
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        super().__init__(HFHandler, host)

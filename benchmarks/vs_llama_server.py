"""ollamalib against llama-server (the engine Ollama itself runs) on the demo model: tokens/s and time to first
token for 1, 4 and 8 clients, speculative decoding on a quoting workload, and a chat's turn 10 after its slot was
taken by other requests.

llama-server is built once from the llama.cpp sources that the installed llama-cpp-python's sdist vendors (the same
ggml as ollamalib's bindings), with the CPU features the installed wheel was built with (read from
``llama_print_system_info``), and cached outside the repository (``--cache-dir``, default
``~/.cache/ollamalib-bench``); the first run downloads the sdist with pip and builds for about 10-20 minutes on two
cores. Both servers get the same model, threads, slots and context per slot; each keeps its own defaults otherwise
(llama-server: repacked CPU weights, ``n_batch`` 2048, prompt cache and ``--cache-ram`` on).

Clients stream greedy ``POST /v1/completions`` (the same route on both); rounds alternate between the sides, each
round measures the CPU share other processes took meanwhile (a disturbed round is repeated), and the report says
how loaded the machine was.

The pertoken part sends the same request unstreamed and reports each server's own decode time per token and
sequence, so a tokens/s gap can be placed inside or outside the decode step.

    .venv/bin/python benchmarks/vs_llama_server.py [--quick] [--runs 3] [--clients 1,4,8] [--skip spec,chat]
    .venv/bin/python benchmarks/vs_llama_server.py --only chat      # turn 10 after its slot was reused, alone
    .venv/bin/python benchmarks/vs_llama_server.py --build-only     # build (or find) llama-server and exit

Targets (printed; nothing asserts): ollamalib >= 1.0x llama-server's tokens/s at every client count, its time to
first token no worse; speculative decoding >= 1.5x plain decoding on the quoting workload; turn 10's time to first
token no worse than llama-server's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _common import CpuMeter, ServerProcess, free_port, gemma_path, start_ollamalib_server, temporary_store  # noqa: E402
from throughput import (  # noqa: E402
    MODEL,
    PROMPT,
    Batch,
    _fmt,
    _median_ttft,
    _ratio,
    _verdict,
    concurrent_completions,
    measured,
    run_clients,
    stream_completion,
    undisturbed,
)

TARGETS = {"peer": 1.0, "spec": 1.5}
# llama-server's n-gram drafting set like ollamalib's default {"draft_ngram": 4}: a 4-token lookup, at most 6 guesses
# a step (ollamalib checks at most 7 rows a step), no minimum. Its own defaults (a 12-token lookup, 3 guesses; the
# figures in docs/benchmarks.md name what they ran) are not like for like.
SPEC_PEER = "--spec-type ngram-simple --spec-ngram-simple-size-n 4 --spec-draft-n-max 6 --spec-draft-n-min 0"
# The draft-model mode: llama-server's draft-simple with the same draft GGUF, at most 4 guesses a step (Ollama's
# draft_num_predict default), no minimum; ollamalib once with that fixed length and once planned (-1).
DRAFT_PEER = "--spec-type draft-simple --spec-draft-n-max 4 --spec-draft-n-min 0"
DRAFT_OLLAMALIB = ('{"draft_num_predict": 4}', '{"draft_num_predict": -1}')
DRAFT_MODEL = "gemma3-drafted:270m"

# The CPU features llama_print_system_info reports, and the ggml cmake switch of each.
_FEATURE_FLAGS = {
    "AVX": "GGML_AVX", "AVX2": "GGML_AVX2", "AVX_VNNI": "GGML_AVX_VNNI", "FMA": "GGML_FMA", "F16C": "GGML_F16C",
    "BMI2": "GGML_BMI2", "AVX512": "GGML_AVX512", "AVX512_VBMI": "GGML_AVX512_VBMI",
    "AVX512_VNNI": "GGML_AVX512_VNNI", "AVX512_BF16": "GGML_AVX512_BF16", "AMX_INT8": "GGML_AMX_INT8",
    "OPENMP": "GGML_OPENMP", "LLAMAFILE": "GGML_LLAMAFILE",
}

# A passage the quoting prompt asks the model to repeat: an answer that copies its input, where n-gram drafts pay.
PASSAGE = (
    "The harbour office keeps a record of every ship that enters the port. Each record names the ship, its berth, "
    "its cargo, the officer on duty and the time of the next high tide. Ships that carry fuel are moored at the "
    "eastern berths, away from the fish market; ships that carry grain are moored at the western berths, close to "
    "the mills. When a storm is expected, the harbour master closes the outer gate and every ship must report its "
    "position by radio every hour until the gate opens again. "
)


# --- building llama-server ----------------------------------------------------------------------------------


def wheel_cmake_flags() -> list[str]:
    """cmake switches for the CPU features the installed llama-cpp-python wheel was built with."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    on = {part.split("=")[0].strip() for part in info.replace("|", "\n").splitlines()
          if part.strip().endswith("= 1")}
    flags = ["-DGGML_NATIVE=OFF"]
    flags += [f"-D{flag}={'ON' if feature in on else 'OFF'}" for feature, flag in _FEATURE_FLAGS.items()]
    return flags


def build_llama_server(cache: Path, *, jobs: int) -> Path:
    """The llama-server binary for the installed llama-cpp-python, built once into ``cache`` and reused."""
    version = importlib.metadata.version("llama_cpp_python")
    flags = wheel_cmake_flags() + [
        "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON"]
    binary = cache / "bin" / f"llama-server-{version}"
    stamp = binary.parent / f"{binary.name}.flags"
    if binary.is_file() and stamp.is_file() and stamp.read_text().split() == flags:
        return binary
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building llama-server needs {tool} (apt-get install cmake g++)")
    src = cache / "src"
    src.mkdir(parents=True, exist_ok=True)
    sdist = src / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.is_file():
        print(f"downloading the llama-cpp-python {version} sdist ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        f"llama-cpp-python=={version}", "-d", str(src)], check=True)
    tree = src / f"llama_cpp_python-{version}"
    llama = tree / "vendor" / "llama.cpp"
    if not (llama / "CMakeLists.txt").is_file():
        with tarfile.open(sdist) as tar:
            tar.extractall(src, filter="data")
    build = llama / "build"
    print(f"building llama-server from {llama} (about 10-20 minutes on two cores) ...", file=sys.stderr, flush=True)
    subprocess.run(["cmake", "-S", str(llama), "-B", str(build), *flags], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"], check=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(build / "bin" / "llama-server", binary)
    stamp.write_text(" ".join(flags))
    return binary


def start_llama_server(binary: Path, model: Path, log_dir: Path, *, slots: int, num_ctx: int, threads: int,
                       extra: list[str], timeout: float = 120.0) -> ServerProcess:
    """llama-server on loopback with ``slots`` slots of ``num_ctx`` tokens each, ready to serve."""
    port = free_port()
    argv = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-np", str(slots),
            "-c", str(slots * num_ctx), "-t", str(threads), "-tb", str(threads), "--no-webui", *extra]
    server = ServerProcess("llama-server", argv, port=port, log_path=log_dir / f"llama-server-{port}.log")
    server.wait_ready("/health", timeout)
    return server


# --- the chat whose slot is taken ---------------------------------------------------------------------------


QUESTIONS = [
    "Which ship is at berth four?", "What cargo does it carry?", "When is the next high tide?",
    "Who is the officer on duty?", "Is the weather calm today?", "How many crew members are aboard?",
    "When did the ship arrive?", "Where is it going next?", "Does it need fuel?", "Thank you, anything else?",
]
REPLY = "The harbour office has noted your question and the officer on duty will answer it shortly."


def long_text(words: int) -> str:
    """About ``words`` words of harbour instructions after a unique tag, so no earlier cache can serve them."""
    base = PASSAGE.split()
    return f"Session {uuid.uuid4().hex}. " + " ".join(base[k % len(base)] for k in range(words))


def transcript(system: str, turns: int) -> str:
    """A plain-text chat of ``turns`` questions with fixed answers, ending where the model answers the last one."""
    lines = [system, ""]
    for k in range(turns):
        lines += [f"User: {QUESTIONS[k % len(QUESTIONS)]}", "Assistant:" + ("" if k == turns - 1 else f" {REPLY}")]
    return "\n".join(lines)


def ttft(base_url: str, prompt: str, tokens: int, timeout: float) -> float:
    """Seconds to the first streamed text of one greedy completion of ``prompt``."""
    body = {"model": MODEL, "prompt": prompt, "max_tokens": tokens, "temperature": 0, "seed": 1, "stream": True}
    with httpx.Client(base_url=base_url, timeout=timeout) as http:
        return stream_completion(http, body, time.perf_counter())[1]


@dataclass
class TokenRound(Batch):
    """A per-token round: its Batch, plus the mean over its requests of the server's own ms per token."""

    ms: float = 0.0


def per_token_ms(name: str, base_url: str, clients: int, tokens: int, timeout: float) -> TokenRound:
    """Each server's own decode time per token for ``clients`` concurrent greedy non-streamed requests: ollamalib's
    ``eval_duration / eval_count`` (native ``/api/generate``), llama-server's ``timings.predicted_per_token_ms``
    (``/completion``). Level figures here and a gap in
    tokens/s put the gap outside the decode step (streaming, the first token)."""
    if name == "ollamalib":
        path = "/api/generate"
        body: dict[str, object] = {"model": MODEL, "prompt": PROMPT, "raw": True, "stream": False,
                                   "options": {"temperature": 0, "seed": 1, "num_predict": tokens}}
    else:
        path, body = "/completion", {"prompt": PROMPT, "n_predict": tokens, "temperature": 0, "seed": 1}
    def one(http: httpx.Client, _: int) -> tuple[int, float]:
        data = http.post(path, json=body).raise_for_status().json()
        if name == "ollamalib":
            return data["eval_count"], data["eval_duration"] / 1e6 / data["eval_count"]
        return data["timings"]["predicted_n"], data["timings"]["predicted_per_token_ms"]

    done, seconds = run_clients(base_url, clients, timeout, one)
    return TokenRound(sum(n for n, _ in done), seconds, ms=statistics.mean(ms for _, ms in done))


@dataclass
class ChatResult:
    turn1: float
    turn10: float
    turn10_kept: float  # turn 10 of a chat whose slot nobody took, for reference
    foreign: float


def chat_after_reuse(base_url: str, servers: list[ServerProcess], *, turns: int, system_words: int, slots: int,
                     timeout: float) -> ChatResult:
    """A chat's turn 1, and its turn ``turns`` right after ``slots`` other long requests took every slot."""
    meter = CpuMeter(servers)
    meter.start()
    system = long_text(system_words)
    first = ttft(base_url, transcript(system, 1), 8, timeout)
    for k in range(2, turns):
        ttft(base_url, transcript(system, k), 8, timeout)
    kept = ttft(base_url, transcript(system, turns), 8, timeout)
    # Reset to turn 9's state, then let other requests take every slot before turn 10 comes back.
    ttft(base_url, transcript(system, turns - 1), 8, timeout)
    others = [long_text(system_words) for _ in range(slots)]
    concurrent_completions(base_url, MODEL, slots, 4, timeout, prompts=others)
    last = ttft(base_url, transcript(system, turns), 8, timeout)
    return ChatResult(first, last, kept, meter.stop())


# --- the run ------------------------------------------------------------------------------------------------


def ollamalib_spec_options(text: str) -> dict[str, object]:
    """The request options (JSON) that turn on ollamalib's speculative decoding, or a clear error if this ollamalib
    does not know them."""
    from ollamalib.options import OPTIONS

    options = json.loads(text)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise RuntimeError(f"this ollamalib has no option {', '.join(unknown)} (issue 17's speculative decoding); "
                           "run with --skip spec")
    return options


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="32 tokens, 1 run, 5 chat turns: a smoke run")
    ap.add_argument("--runs", type=int, default=3, help="rounds per side and client count (median)")
    ap.add_argument("--tokens", type=int, default=128, help="max_tokens of each request")
    ap.add_argument("--clients", default="1,4,8", help="comma-separated client counts")
    ap.add_argument("--num-ctx", type=int, default=4096, help="context tokens per slot, both sides")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--unique-prompts", action="store_true",
                    help="a fresh prompt for every request (no side answers from its cache); default: one fixed "
                         "prompt, as a shared system prompt would be")
    ap.add_argument("--turns", type=int, default=10, help="the chat turn measured after its slot was reused")
    ap.add_argument("--system-words", type=int, default=700, help="length of the chat's system text")
    ap.add_argument("--chat-runs", type=int, default=2)
    ap.add_argument("--spec-ollamalib", default='{"draft_ngram": 4}',
                    help="ollamalib's speculative options (JSON) for the quoting workload")
    ap.add_argument("--spec-peer", default=SPEC_PEER,
                    help="llama-server's speculative arguments for the quoting workload (default: the settings "
                         "that match ollamalib's: 4-token n-grams, at most 6 guesses a step)")
    ap.add_argument("--draft-blocks", default="0-15,17",
                    help="the demo model's blocks the draft model keeps (written once into --cache-dir; default: all "
                         "but block 16, right about 90%% of the time); empty: no draft-model rows")
    ap.add_argument("--spec-draft-peer", default=DRAFT_PEER,
                    help="llama-server's arguments beside -md for the draft-model rows")
    ap.add_argument("--peer-args", default="", help="extra llama-server arguments (e.g. -kvu) for every part")
    ap.add_argument("--ollamalib-env", default="", help="extra ollamalib server settings, KEY=VALUE,...")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: plain,pertoken,spec,chat")
    ap.add_argument("--only", default="", help="comma-separated parts to run alone (e.g. chat), the rest skipped")
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "ollamalib-bench")
    ap.add_argument("--build-only", action="store_true", help="build (or find) llama-server, print its path, exit")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per HTTP request")
    ap.add_argument("--max-foreign", type=float, default=0.05,
                    help="repeat a round when other processes took more than this share of the CPU")
    ap.add_argument("--retries", type=int, default=2, help="repeats of a disturbed round (the cleanest is kept)")
    args = ap.parse_args()
    if args.quick:
        args.tokens, args.runs, args.turns, args.chat_runs = 32, 1, 5, 1
    binary = build_llama_server(args.cache_dir, jobs=os.cpu_count() or 1)
    if args.build_only:
        print(binary)
        return 0
    counts = sorted({int(c) for c in args.clients.split(",") if c.strip()})
    slots = max(counts)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only:
        skip |= {"plain", "pertoken", "spec", "chat"} - only
    model_path = gemma_path()
    extra_env = dict(kv.split("=", 1) for kv in args.ollamalib_env.split(",") if kv.strip())
    peer_extra = args.peer_args.split()

    plain: dict[str, dict[int, list[Batch]]] = {}
    spec: dict[str, list[Batch]] = {}
    pertoken: dict[str, dict[int, list[TokenRound]]] = {}
    chats: dict[str, list[ChatResult]] = {}
    errors: dict[str, str] = {}
    foreign: list[float] = []
    with temporary_store("ollamalib-bench-vs-llama-server-") as root, contextlib.ExitStack() as stack:
        ours = start_ollamalib_server(root, OLLAMA_NUM_PARALLEL=slots, OLLAMA_CONTEXT_LENGTH=args.num_ctx,
                                      OLLAMA_MAX_QUEUE=512, **extra_env)
        stack.callback(ours.stop)
        peer = start_llama_server(binary, model_path, root, slots=slots, num_ctx=args.num_ctx,
                                  threads=args.threads, extra=peer_extra)
        stack.callback(peer.stop)
        servers = {"ollamalib": ours, "llama-server": peer}
        both = list(servers.values())
        for srv in both:
            concurrent_completions(srv.base_url, MODEL, 1, 4, args.timeout)  # load and warm up

        def prompts(n: int) -> list[str] | None:
            return [f"{uuid.uuid4().hex}: {PROMPT}" for _ in range(n)] if args.unique_prompts else None

        def measure_of(part: str, name: str, url: str) -> Callable[[int], Batch]:
            if part == "plain":
                return lambda k: concurrent_completions(url, MODEL, k, args.tokens, args.timeout, prompts=prompts(k))
            return lambda k: per_token_ms(name, url, k, args.tokens, args.timeout)

        for part in [p for p in ("plain", "pertoken") if p not in skip]:
            for r in range(args.runs):
                for n in counts:
                    for name, srv in servers.items():
                        try:
                            batch = measured(measure_of(part, name, srv.base_url), n, both, args.max_foreign,
                                             args.retries)
                        except Exception as exc:
                            errors[f"{name} {part} {n} clients"] = repr(exc)
                            traceback.print_exc(file=sys.stderr)
                            continue
                        if isinstance(batch, TokenRound):
                            pertoken.setdefault(name, {}).setdefault(n, []).append(batch)
                            what = f"{batch.ms:6.2f} ms a token per sequence"
                        else:
                            plain.setdefault(name, {}).setdefault(n, []).append(batch)
                            what = (f"{batch.tokens:5d} tokens in {batch.seconds:6.2f}s = {batch.tps:7.1f} tokens/s, "
                                    f"TTFT {statistics.median(batch.ttfts) * 1e3:6.1f} ms")
                        print(f"  {part} run {r + 1} {name:12} {n} clients: {what} (foreign CPU {batch.foreign:.0%})",
                              file=sys.stderr, flush=True)

        if "chat" not in skip:
            for r in range(args.chat_runs):
                for name, srv in servers.items():
                    try:
                        res = chat_after_reuse(srv.base_url, both, turns=args.turns, system_words=args.system_words,
                                               slots=slots, timeout=args.timeout)
                    except Exception as exc:
                        errors[f"{name} chat"] = repr(exc)
                        traceback.print_exc(file=sys.stderr)
                        continue
                    chats.setdefault(name, []).append(res)
                    print(f"  chat {r + 1} {name:12} turn 1 {res.turn1 * 1e3:7.1f} ms, turn {args.turns} kept "
                          f"{res.turn10_kept * 1e3:6.1f} ms, after reuse {res.turn10 * 1e3:6.1f} ms "
                          f"(foreign CPU {res.foreign:.0%})", file=sys.stderr, flush=True)

        if "spec" not in skip:
            try:
                spec_sides = spec_servers(args, binary, model_path, root, stack, slots, servers, peer_extra)
                quote = [quoting_prompt()]
                for r in range(args.runs):
                    for name, (url, extra) in spec_sides.items():
                        measure = (lambda u, e: lambda k: concurrent_completions(
                            u, MODEL, k, args.tokens, args.timeout, prompts=quote * k, extra=e))(url, extra)
                        batch = measured(measure, 1, list(servers.values()), args.max_foreign, args.retries)
                        spec.setdefault(name, []).append(batch)
                        print(f"  spec run {r + 1} {name:22}: {batch.tps:7.1f} tokens/s "
                              f"(foreign CPU {batch.foreign:.0%})", file=sys.stderr, flush=True)
            except Exception as exc:
                errors["speculative"] = str(exc)
                traceback.print_exc(file=sys.stderr)
        for name, srv in servers.items():
            if srv.proc.poll() is not None:
                errors.setdefault(name, f"server exited with {srv.proc.returncode}:\n{srv.log_tail()}")

    plain = {name: {n: undisturbed(bs, args.max_foreign) for n, bs in by_n.items()} for name, by_n in plain.items()}
    spec = {name: undisturbed(bs, args.max_foreign) for name, bs in spec.items()}
    pertoken = {name: {n: undisturbed(bs, args.max_foreign) for n, bs in by_n.items()} for name, by_n in pertoken.items()}
    foreign = [b.foreign for by_n in plain.values() for bs in by_n.values() for b in bs]
    foreign += [b.foreign for by_n in pertoken.values() for bs in by_n.values() for b in bs]
    foreign += [b.foreign for bs in spec.values() for b in bs] + [c.foreign for cs in chats.values() for c in cs]
    report(args, binary, counts, slots, plain, spec, chats, errors, pertoken)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    if foreign:
        worst = max(foreign)
        print(f"other processes took at most {worst:.0%} of the CPU during a kept measurement "
              f"(median {statistics.median(foreign):.0%})")
        if worst > args.max_foreign:
            print(f"WARNING: above {args.max_foreign:.0%}: the machine was shared, these figures are not reliable.")
    return 1 if errors else 0


def _median_ms(rounds: list[TokenRound] | None) -> float | None:
    """The median ms a token of the (undisturbed) per-token rounds."""
    return statistics.median(r.ms for r in rounds) if rounds else None


def quoting_prompt() -> str:
    """A prompt whose greedy continuation copies the passage it carries."""
    return (f"Notice to ships:\n{PASSAGE}\n\nThe notice again, copied word for word:\n{PASSAGE}\n\n"
            f"And once more, copied word for word:\n")


def spec_servers(args: argparse.Namespace, binary: Path, model_path: Path, root: Path, stack: contextlib.ExitStack,
                 slots: int, servers: dict[str, ServerProcess], peer_extra: list[str]) -> dict[str, tuple[str, dict]]:
    """The sides of the speculative part: each server plain, with n-gram lookup and with a draft model (llama-server:
    a server for each mode; ollamalib: request options, and a model created with the draft)."""
    sides = {"ollamalib plain": (servers["ollamalib"].base_url, {}),
             "ollamalib speculative": (servers["ollamalib"].base_url,
                                       {"options": ollamalib_spec_options(args.spec_ollamalib)}),
             "llama-server plain": (servers["llama-server"].base_url, {})}
    peer_spec = start_llama_server(binary, model_path, root, slots=slots, num_ctx=args.num_ctx, threads=args.threads,
                                   extra=peer_extra + args.spec_peer.split())
    stack.callback(peer_spec.stop)
    servers["llama-server speculative"] = peer_spec
    concurrent_completions(peer_spec.base_url, MODEL, 1, 4, args.timeout)
    sides["llama-server speculative"] = (peer_spec.base_url, {})
    if args.draft_blocks:
        from _draft import gemma_draft_path

        draft = gemma_draft_path(args.cache_dir, blocks=parse_blocks(args.draft_blocks))
        create_drafted(servers["ollamalib"].base_url, draft, args.timeout)
        for options in DRAFT_OLLAMALIB:
            n = json.loads(options)["draft_num_predict"]
            sides[f"ollamalib draft {'planned' if n < 0 else n}"] = (
                servers["ollamalib"].base_url, {"model": DRAFT_MODEL, "options": json.loads(options)})
        peer_draft = start_llama_server(binary, model_path, root, slots=slots, num_ctx=args.num_ctx,
                                        threads=args.threads, extra=peer_extra + ["-md", str(draft)]
                                        + args.spec_draft_peer.split())
        stack.callback(peer_draft.stop)
        servers["llama-server draft"] = peer_draft
        concurrent_completions(peer_draft.base_url, MODEL, 1, 4, args.timeout)
        sides["llama-server draft"] = (peer_draft.base_url, {})
    return sides


def parse_blocks(text: str) -> list[int]:
    """``0-15,17`` as ``[0, 1, ..., 15, 17]``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def create_drafted(base_url: str, draft: Path, timeout: float) -> None:
    """``DRAFT_MODEL`` in the ollamalib server's store: the demo model with ``draft`` as its Modelfile DRAFT (the
    GGUF uploaded as a blob, then ``/api/create`` with ``draft_files``, as ``ollamalib create`` does)."""
    from ollamalib import Client

    with Client(base_url, timeout=timeout) as client:
        digest = client.create_blob(draft)
        client.create(DRAFT_MODEL, from_=MODEL, draft_files={draft.name: digest})
        client.generate(DRAFT_MODEL, "warm up", options={"num_predict": 4, "temperature": 0})


def report(args: argparse.Namespace, binary: Path, counts: list[int], slots: int,
           plain: dict[str, dict[int, list[Batch]]], spec: dict[str, list[Batch]], chats: dict[str, list[ChatResult]],
           errors: dict[str, str], pertoken: dict[str, dict[int, list[TokenRound]]] | None = None) -> None:
    tps = {name: {n: statistics.median(b.tps for b in bs) for n, bs in by_n.items()} for name, by_n in plain.items()}
    ours, peer = tps.get("ollamalib", {}), tps.get("llama-server", {})
    print(f"Gemma 3 270M Q4_K_M, {args.threads} threads, {slots} slots x {args.num_ctx} tokens each side, greedy "
          f"{args.tokens}-token /v1/completions, {'a fresh' if args.unique_prompts else 'one fixed'} prompt; "
          f"median of the undisturbed rounds of {args.runs}")
    print(f"  llama-server: {binary} -np {slots} -c {slots * args.num_ctx} -t {args.threads} {args.peer_args}")
    print(f"  ollamalib:    python -m ollamalib_server, OLLAMA_NUM_PARALLEL={slots} {args.ollamalib_env}")
    if plain:
        print()
        print(f"{'clients':>7} {'ollamalib tok/s':>16} {'llama-server':>13} {'ratio':>6} {'ours TTFT ms':>13} "
              f"{'peer TTFT ms':>13} {'TTFT ratio':>11}")
        for n in counts:
            t_o = _median_ttft(plain.get("ollamalib", {}).get(n))
            t_p = _median_ttft(plain.get("llama-server", {}).get(n))
            print(f"{n:>7} {_fmt(ours.get(n)):>16} {_fmt(peer.get(n)):>13} {_fmt(_ratio(ours.get(n), peer.get(n)), '.2f'):>6}"
                  f" {_fmt(t_o and t_o * 1e3):>13} {_fmt(t_p and t_p * 1e3):>13} {_fmt(_ratio(t_o, t_p), '.2f'):>11}")
    if pertoken:
        print()
        print("each server's own decode time per token and sequence (ms, median of the rounds; non-streamed)")
        print(f"{'clients':>7} {'ollamalib':>10} {'llama-server':>13} {'peer / ours':>12}")
        for n in counts:
            m_o, m_p = (_median_ms(pertoken.get(side, {}).get(n))
                        for side in ("ollamalib", "llama-server"))
            print(f"{n:>7} {_fmt(m_o, '.2f'):>10} {_fmt(m_p, '.2f'):>13} {_fmt(_ratio(m_p, m_o), '.2f'):>12}")
    s_tps = {name: statistics.median(b.tps for b in bs) for name, bs in spec.items()}
    if s_tps:
        print()
        print("speculative decoding, quoting workload (1 client; draft rows: the draft model of --draft-blocks):")
        for name, v in s_tps.items():
            print(f"  {name:26} {v:7.1f} tokens/s")
    spec_ours = _ratio(s_tps.get("ollamalib speculative"), s_tps.get("ollamalib plain"))
    spec_peer = _ratio(s_tps.get("llama-server speculative"), s_tps.get("llama-server plain"))
    if s_tps:
        print(f"  speedup: ollamalib {_fmt(spec_ours, '.2f')}x, llama-server {_fmt(spec_peer, '.2f')}x; "
              f"ollamalib speculative / llama-server speculative "
              f"{_fmt(_ratio(s_tps.get('ollamalib speculative'), s_tps.get('llama-server speculative')), '.2f')}")
    med = {name: (statistics.median(c.turn1 for c in cs), statistics.median(c.turn10_kept for c in cs),
                  statistics.median(c.turn10 for c in cs)) for name, cs in chats.items()}
    if med:
        print()
        print(f"chat over /v1/completions, ~{args.system_words}-word system text; turn {args.turns} right after "
              f"{slots} other long requests took every slot (median of {args.chat_runs})")
        print(f"{'side':>13} {'turn 1 ms':>10} {f'turn {args.turns} kept ms':>16} {'after reuse ms':>15}")
        for name, (a, b, c) in med.items():
            print(f"{name:>13} {a * 1e3:>10.1f} {b * 1e3:>16.1f} {c * 1e3:>15.1f}")
    print()
    print("targets")
    for n in counts:
        print(f"  ollamalib >= {TARGETS['peer']}x llama-server at {n} clients: "
              f"{_verdict(_ratio(ours.get(n), peer.get(n)), TARGETS['peer'])}")
    print(f"  speculative >= {TARGETS['spec']}x plain (ollamalib): {_verdict(spec_ours, TARGETS['spec'])}")
    c_o, c_p = med.get("ollamalib"), med.get("llama-server")
    print(f"  turn-{args.turns} TTFT after reuse <= llama-server's: "
          f"{_verdict(_ratio(c_o and c_o[2], c_p and c_p[2]), 1.0, at_most=True)}")
    for name, text in errors.items():
        print(f"\n{name} FAILED: {text}")


if __name__ == "__main__":
    sys.exit(main())

"""``ollamalib run MODEL [PROMPT]``: a one-shot answer through generate, an embedding, or the REPL through chat."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._context import Context
from .._display import AnswerPrinter
from .._errors import CLIError, UsageError
from .._output import metrics_summary, truncation_notice
from .._progress import Spinner

__all__ = ["Session", "add_run", "extract_images", "parse_format", "parse_think", "stream_answer"]

_IMAGE_PATH = re.compile(r"(?:[a-zA-Z]:)?(?:\./|/|\\)[\S\\ ]+?\.(?:jpg|jpeg|png|webp|wav)\b", re.IGNORECASE)


def add_run(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser(
        "run", parents=[common], formatter_class=fmt, help="Run a model",
        description="Answer PROMPT (and any text piped to stdin) and exit, or start an interactive chat when no "
                    "prompt is given on a terminal. A model that is not in the store is pulled first.",
        epilog="Environment Variables:\n"
               "      OLLAMA_HOST                IP Address for the ollama server (default 127.0.0.1:11434)\n"
               "      OLLAMA_NOHISTORY           Do not preserve readline history\n",
    )
    p.add_argument("model", metavar="MODEL", help="Model to run (pulled first when missing)")
    p.add_argument("prompt", nargs="*", metavar="PROMPT", help="Prompt to answer (joined with spaces)")
    p.add_argument("--keepalive", metavar="DURATION", help="Duration to keep a model loaded (e.g. 5m)")
    p.add_argument("--verbose", action="store_true", help="Show timings for response")
    p.add_argument("--insecure", action="store_true", help="Use an insecure registry")
    p.add_argument("--nowordwrap", action="store_true", help="Don't wrap words to the next line automatically")
    p.add_argument("--format", metavar="FORMAT", help='Response format ("json" or a JSON Schema)')
    p.add_argument("--think", nargs="?", const="true", metavar="LEVEL",
                   help="Enable thinking mode: --think, --think=false or --think=high|medium|low|max "
                        "(for thinking models)")
    p.add_argument("--hidethinking", action="store_true", help="Hide thinking output (if provided)")
    p.add_argument("--truncate", nargs="?", const="true", metavar="BOOL",
                   help="For embedding models: truncate inputs exceeding context length (default: true); "
                        "--truncate=false to error instead")
    p.add_argument("--dimensions", type=int, metavar="N",
                   help="Truncate output embeddings to specified dimension (embedding models only)")
    p.set_defaults(func=run)


@dataclass
class Session:
    """Everything one run (and its REPL) carries between requests."""

    model: str
    wordwrap: bool = True
    verbose: bool = False
    hide_thinking: bool = False
    format: str | dict[str, Any] | None = None
    think: bool | str | None = None
    keep_alive: str | None = None
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)

    def generate_request(self, prompt: str = "", images: list[Path] | None = None) -> Any:
        """The GenerateRequest for a one-shot prompt (an empty one loads the model), validated as every surface."""
        from ollamalib.requests import GenerateRequest

        if not prompt and not images:
            return GenerateRequest(model=self.model, keep_alive=self.keep_alive)
        return GenerateRequest(model=self.model, prompt=prompt, format=self.format, think=self.think,
                               keep_alive=self.keep_alive, options=self.options or None, images=images or None,
                               system=self.system)

    def chat_request(self) -> Any:
        """The ChatRequest for the conversation so far."""
        from ollamalib.requests import ChatRequest

        return ChatRequest(model=self.model, messages=self.messages, format=self.format, think=self.think,
                           options=self.options or None, keep_alive=self.keep_alive)


def parse_think(value: str | None) -> bool | str | None:
    """``--think`` values: the flag's true/false words, else a level the request model accepts."""
    from ollamalib.errors import InvalidOptionError
    from ollamalib.requests import THINK_LEVELS
    from ollamalib.requests import parse_think as think_value

    if value is None:
        return None
    low = value.strip().lower()
    if low in ("", "true", "false"):
        return low != "false"
    try:
        return think_value(low)
    except InvalidOptionError:
        levels = ", ".join(THINK_LEVELS[:-1])
        raise UsageError(f'invalid value for --think: "{value}" (must be true, false, {levels}, or '
                         f'{THINK_LEVELS[-1]})') from None


def parse_format(value: str | None) -> str | dict[str, Any] | None:
    """``json``, or a JSON Schema given as JSON text; anything else is left for the engine to reject."""
    if not value:
        return None
    if value.strip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _bool_flag(value: str | None, flag: str) -> bool | None:
    if value is None:
        return None
    low = value.strip().lower()
    if low in ("1", "t", "true", ""):
        return True
    if low in ("0", "f", "false"):
        return False
    raise UsageError(f'invalid argument "{value}" for "{flag}" flag: must be true or false')


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def extract_images(prompt: str, stderr: IO[str]) -> tuple[str, list[Path]]:
    """Take paths of existing image/audio files out of the prompt, to attach them (``Added image '...'``)."""
    images: list[Path] = []
    for match in _IMAGE_PATH.findall(prompt):
        path = Path(match.replace("\\ ", " "))
        if not path.is_file():
            continue
        stderr.write(f"Added image '{path}'\n")
        prompt = prompt.replace(f"'{match}'", "").replace(match, "")
        images.append(path)
    return prompt.strip(), images


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.config import parse_duration

    if args.keepalive:
        parse_duration(args.keepalive)  # Go's message for a bad duration
    session = Session(
        model=args.model,
        verbose=args.verbose,
        hide_thinking=args.hidethinking,
        format=parse_format(args.format),
        think=parse_think(args.think),
        keep_alive=args.keepalive,
    )
    truncate = _bool_flag(args.truncate, "--truncate")
    prompts = list(args.prompt)
    interactive = True
    stdin = sys.stdin
    if not _isatty(stdin):
        prompts.insert(0, stdin.read())
        interactive = False
    prompt = " ".join(prompts)
    if prompts or not _isatty(ctx.stdout):
        interactive = False
    session.wordwrap = not args.nowordwrap and _isatty(ctx.stdout) and _isatty(stdin)

    info = model_info(ctx, args.model, args.insecure)
    session.capabilities = list(info.capabilities or [])
    if "embedding" in session.capabilities:
        return embed_once(ctx, session, prompt, truncate=truncate, dimensions=args.dimensions)
    if interactive:
        from .repl import Repl

        load_model(ctx, session)
        repl = Repl(ctx, session)
        repl.echo_history(info.messages or [])
        return repl.run()
    return generate_once(ctx, session, prompt)


def model_info(ctx: Context, model: str, insecure: bool = False) -> Any:
    """``show`` the model, pulling it first (with progress) when the store does not have it."""
    from ollamalib.errors import ModelNotFoundError

    from .transfer import pull_model

    try:
        return ctx.api.show(model)
    except ModelNotFoundError:
        pull_model(ctx, model, insecure)
        return ctx.api.show(model)


def load_model(ctx: Context, session: Session) -> None:
    """Load the model before the first prompt, with a spinner (an empty generate request)."""
    with Spinner(ctx.stderr):
        ctx.api.send(session.generate_request())


def stream_answer(ctx: Context, session: Session, chunks: Any, *, chat: bool) -> tuple[Any, AnswerPrinter, bool]:
    """Print a stream of chunks as they come; Ctrl+C stops it (closing the stream cancels the request).

    Returns the last chunk, the printer (with the full thinking and content) and whether it was interrupted.
    """
    printer = AnswerPrinter(ctx.stdout, wordwrap=session.wordwrap, hide_thinking=session.hide_thinking)
    spinner = Spinner(ctx.stderr)
    latest = None
    try:
        spinner.start()
        for chunk in chunks:
            latest = chunk
            if chat:
                msg = chunk.message
                thinking, content, calls = msg.thinking, msg.content, msg.tool_calls
            else:
                thinking, content, calls = chunk.thinking, chunk.response, chunk.tool_calls
            if content or thinking or calls:
                spinner.stop()
            printer.feed(thinking, content, calls)
    except KeyboardInterrupt:
        spinner.stop()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        return latest, printer, True
    finally:
        spinner.stop()
    printer.finish()
    return latest, printer, False


def generate_once(ctx: Context, session: Session, prompt: str) -> int:
    images: list[Path] = []
    if "vision" in session.capabilities:
        prompt, images = extract_images(prompt, ctx.stderr)
    chunks = ctx.api.send(session.generate_request(prompt, images), stream=True)
    latest, _, interrupted = stream_answer(ctx, session, chunks, chat=False)
    if interrupted:
        ctx.out()
        return 0
    if prompt:
        ctx.out()
        ctx.out()
    report_final(ctx, session, latest)
    return 0


def report_final(ctx: Context, session: Session, latest: Any) -> None:
    """After an answer: a warning when the prompt was cut to fit (always), then the timings (``--verbose``)."""
    if latest is None or not latest.done:
        return
    ctx.err(truncation_notice(latest), end="")
    if session.verbose:
        ctx.err(metrics_summary(latest), end="")


def embed_once(ctx: Context, session: Session, prompt: str, *, truncate: bool | None, dimensions: int | None) -> int:
    if not prompt:
        raise CLIError(f'embedding models require input text. Usage: ollamalib run {session.model} "your text here"')
    resp = ctx.api.embed(model=session.model, input=prompt, truncate=truncate, dimensions=dimensions,
                         keep_alive=session.keep_alive)
    if not resp.embeddings:
        raise CLIError("no embeddings returned")
    ctx.out(json.dumps(resp.embeddings[0], separators=(",", ":")))
    if session.verbose:
        ctx.err(metrics_summary(resp), end="")
    return 0

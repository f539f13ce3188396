"""``ollamalib``: parse the command line, run one command, turn errors into ``Error: ...`` and an exit code."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import IO, Any, NoReturn

from ._errors import EXIT_ERROR, EXIT_INTERRUPTED, UsageError, describe

__all__ = ["build_parser", "main"]

PROG = "ollamalib"
DESCRIPTION = "Large language model runner"


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ``Error: ...`` (exit 2) instead of exiting by itself."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{_cobra_wording(message)}\n{self.format_usage().rstrip()}")


def _cobra_wording(message: str) -> str:
    """Word the commonest usage errors as Ollama's CLI (cobra) does."""
    choice = re.match(r"argument COMMAND: invalid choice: '([^']*)'", message)
    if choice:
        return f'unknown command "{choice.group(1)}" for "{PROG}"'
    extra = re.match(r"unrecognized arguments: (.*)", message)
    if extra:
        first = extra.group(1).split()[0]
        return f"unknown flag: {first}" if first.startswith("-") else f"unexpected arguments: {extra.group(1)}"
    return message


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal but keeps pre-formatted blocks (the environment tables) as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=min(100, _columns()))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _columns() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def build_parser() -> Parser:
    """The whole command tree; each command module adds its own subcommands and flags."""
    from ._commands import create, maintenance, models, run, serve, transfer

    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("-v", "--version", action="store_true", help="Show version information")
    parser.add_argument("--host", metavar="URL", default=None,
                        help="Server to use (default: OLLAMA_HOST, else a server at 127.0.0.1:11434, "
                             "else run in-process)")
    common = Parser(add_help=False)
    common.add_argument("--host", metavar="URL", default=argparse.SUPPRESS,
                        help="Server to use instead of OLLAMA_HOST")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", parser_class=Parser)
    for add in (serve.add_serve, create.add_create, models.add_show, run.add_run, models.add_stop,
                transfer.add_pull, transfer.add_push, models.add_list, models.add_ps, models.add_cp, models.add_rm,
                maintenance.add_prune):
        add(sub, common, HelpFormatter)
    helper = sub.add_parser("help", help="Help about any command", formatter_class=HelpFormatter)
    helper.add_argument("topic", nargs="?", metavar="COMMAND", help="Command to show help for")
    helper.set_defaults(func=None)
    return parser


def _normalize_argv(argv: Sequence[str]) -> list[str]:
    """Bare ``--think``/``--truncate`` mean ``=true`` (their value is optional, as with cobra's NoOptDefVal)."""
    out = []
    for arg in argv:
        if arg in ("--think", "--truncate"):
            arg += "=true"
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run the ``ollamalib`` command line; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = _normalize_argv(sys.argv[1:] if argv is None else argv)
    ctx = None
    debug = False
    try:
        parser = build_parser()
        if not argv:
            parser.print_help(stdout)
            return 0
        args, extra = parser.parse_known_args(argv)
        if extra:
            if getattr(args, "command", None) == "run" and not any(a.startswith("-") for a in extra):
                args.prompt = list(args.prompt) + extra  # prompt words after a flag: `run m --verbose hi`
            else:
                sub = _subparsers(parser).get(getattr(args, "command", None) or "", parser)
                sub.error(f"unrecognized arguments: {' '.join(extra)}")
        from ollamalib.config import Settings

        settings = Settings.from_env()
        debug = settings.debug > 0
        from ._context import Context

        host = getattr(args, "host", None)
        ctx = Context(settings=settings, host=host, explicit_host=settings.host_set, stdout=stdout, stderr=stderr)
        if args.command is None:
            if args.version:
                return _version(ctx)
            parser.print_help(stdout)
            return 0
        if args.command == "help":
            return _help(parser, args.topic, stdout)
        return int(args.func(ctx, args) or 0)
    except KeyboardInterrupt:
        stderr.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:  # one place turns every error into one line
        known = describe(exc)
        if known is None:
            if debug:
                import traceback

                traceback.print_exc(file=stderr)
            known = (f"{exc}" or type(exc).__name__, EXIT_ERROR)
        message, code = known
        stderr.write(f"Error: {message}\n")
        stderr.flush()
        return code
    finally:
        if ctx is not None:
            try:
                ctx.close()
            except Exception:
                pass


def _help(parser: Parser, topic: str | None, stdout: IO[str]) -> int:
    if topic is None:
        parser.print_help(stdout)
        return 0
    sub = _subparsers(parser).get(topic)
    if sub is None:
        raise UsageError(f'unknown help topic "{topic}"')
    sub.print_help(stdout)
    return 0


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _version(ctx: Any) -> int:
    from ._backend import normalize_host, server_version
    from ._version import client_version

    mine = client_version()
    url = normalize_host(ctx.host) if ctx.host else ctx.settings.host
    theirs = server_version(url)
    if theirs is None and (ctx.host or ctx.explicit_host):
        ctx.out("Warning: could not connect to a running Ollama instance")
    if theirs is not None:
        ctx.out(f"ollamalib version is {theirs}")
        if theirs != mine:
            ctx.out(f"Warning: client version is {mine}")
    else:
        ctx.out(f"ollamalib version is {mine}")
    return 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


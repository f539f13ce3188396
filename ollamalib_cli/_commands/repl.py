"""The interactive chat of ``ollamalib run`` (Ollama's cmd/interactive.go): ``>>>`` prompts and /commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .._context import Context
from .._showinfo import _go_value, render_show
from .run import Session, load_model, report_final, stream_answer

__all__ = ["Repl"]

PROMPT, ALT_PROMPT = ">>> ", "... "
PLACEHOLDER, ALT_PLACEHOLDER = "Send a message (/? for help)", 'Use """ to end multi-line input'
TRIPLE = '"""'
GREY, DEFAULT, CLEAR_TO_EOL = "\x1b[38;5;245m", "\x1b[0m", "\x1b[K"  # Ollama's readline colours

USAGE = """Available Commands:
  /set            Set session variables
  /show           Show model information
  /load <model>   Load a session or model
  /save <model>   Save your current session
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use \"\"\" to begin a multi-line message.
"""

USAGE_SET = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set history           Enable history
  /set nohistory         Disable history
  /set wordwrap          Enable wordwrap
  /set nowordwrap        Disable wordwrap
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set think             Enable thinking
  /set nothink           Disable thinking
"""

USAGE_SHOW = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""

USAGE_SHORTCUTS = """Available keyboard shortcuts:
  Ctrl + a            Move to the beginning of the line (Home)
  Ctrl + e            Move to the end of the line (End)
   Alt + b            Move back (left) one word
   Alt + f            Move forward (right) one word
  Ctrl + k            Delete the sentence after the cursor
  Ctrl + u            Delete the sentence before the cursor
  Ctrl + w            Delete the word before the cursor

  Ctrl + l            Clear the screen
  Ctrl + c            Stop the model from responding
  Ctrl + d            Exit ollamalib (/bye)
"""

USAGE_PARAMETERS = """Available Parameters:
  /set parameter seed <int>             Random number seed
  /set parameter num_predict <int>      Max number of tokens to predict
  /set parameter top_k <int>            Pick from top k num of tokens
  /set parameter top_p <float>          Pick token based on sum of probabilities
  /set parameter min_p <float>          Pick token based on top token probability * min_p
  /set parameter num_ctx <int>          Set the context size
  /set parameter temperature <float>    Set creativity level
  /set parameter repeat_penalty <float> How strongly to penalize repetitions
  /set parameter repeat_last_n <int>    Set how far back to look for repetitions
  /set parameter num_gpu <int>          The number of layers to send to the GPU
  /set parameter stop <string> <string> ...   Set the stop parameters
"""


class History:
    """readline history kept in ``<home>/history``; off with OLLAMA_NOHISTORY or ``/set nohistory``."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled
        try:
            import readline
        except ImportError:  # no line editing on this platform
            self.readline: Any = None
            return
        self.readline = readline
        readline.set_history_length(1000)
        if enabled and path.is_file():
            try:
                readline.read_history_file(str(path))
            except OSError:
                pass

    def added(self) -> None:
        """Persist the line input() just added to the in-memory history."""
        if not (self.enabled and self.readline):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch()
            self.readline.append_history_file(1, str(self.path))
        except OSError:
            pass

    def line_buffer(self) -> str:
        return self.readline.get_line_buffer() if self.readline else ""


class Placeholder:
    """Ollama's grey hint on an empty input line, drawn after GNU readline's own redisplay (through ctypes).

    Shown while the line is empty, erased by the first key typed; off when stdin/stdout are not terminals or
    readline is libedit or missing, so input() then works exactly as before.
    """

    def __init__(self, readline: Any) -> None:
        self.text = ""
        self._shown = False
        self._lib: Any = None
        self._hook: Any = None
        if readline is None or "libedit" in (readline.__doc__ or "") or not (sys.stdin.isatty() and sys.stdout.isatty()):
            return
        try:
            import ctypes

            lib = ctypes.CDLL(readline.__file__)  # dlsym on it also finds libreadline's symbols
            self._end = ctypes.c_int.in_dll(lib, "rl_end")
            self._redisplay = ctypes.CFUNCTYPE(None)(("rl_redisplay", lib))
            self._hook = ctypes.CFUNCTYPE(None)(self._draw)
            ctypes.c_void_p.in_dll(lib, "rl_redisplay_function").value = ctypes.cast(self._hook, ctypes.c_void_p).value
            self._lib = lib
        except (OSError, ValueError, AttributeError, TypeError):  # pragma: no cover - another readline build
            self._lib = None

    def _draw(self) -> None:
        self._redisplay()
        if self._end.value == 0 and self.text:
            os.write(1, f"{GREY}{self.text}{DEFAULT}\x1b[{len(self.text)}D".encode())
            self._shown = True
        elif self._shown:
            os.write(1, CLEAR_TO_EOL.encode())
            self._shown = False

    def read(self, prompt: str, text: str) -> str:
        """input(prompt) with ``text`` as the placeholder."""
        self.text, self._shown = text, False
        try:
            return input(prompt)
        finally:
            self.text = ""


class Repl:
    """Reads prompts and /commands until /bye, /exit or Ctrl+D; each prompt is answered through ``chat``."""

    def __init__(self, ctx: Context, session: Session) -> None:
        self.ctx = ctx
        self.s = session
        self.history = History(ctx.settings.home_dir / "history", enabled=not ctx.settings.nohistory)
        self.placeholder = Placeholder(self.history.readline)
        self.buffer: list[str] = []
        self.multiline: str | None = None  # None, "prompt" or "system"

    # -- output helpers -----------------------------------------------------------------------------------
    def out(self, text: str = "", end: str = "\n") -> None:
        self.ctx.out(text, end=end)

    def usage(self, text: str) -> None:
        self.ctx.err(text)

    # -- loop -----------------------------------------------------------------------------------------------
    def echo_history(self, messages: list[Any]) -> None:
        """Show the model's MESSAGE history before the first prompt (user lines as ``>>> text``)."""
        from .._display import WordWrapper

        for m in messages:
            role = m["role"] if isinstance(m, dict) else m.role
            content = (m["content"] if isinstance(m, dict) else m.content) or ""
            if role == "user":
                self.out(f">>> {content}")
            elif role == "assistant":
                WordWrapper(self.ctx.stdout, self.s.wordwrap).write(content)
                self.out()
                self.out()

    def read(self) -> str:
        if self.multiline or self.buffer:
            return self.placeholder.read(ALT_PROMPT, ALT_PLACEHOLDER)
        return self.placeholder.read(PROMPT, PLACEHOLDER)

    def run(self) -> int:
        while True:
            try:
                line = self.read()
            except EOFError:
                self.out()
                return 0
            except KeyboardInterrupt:
                if not self.history.line_buffer():
                    self.out("\nUse Ctrl + d or /bye to exit.")
                else:
                    self.out()
                self.buffer.clear()
                self.multiline = None
                continue
            self.history.added()
            if self.handle(line) == "exit":
                return 0

    def handle(self, line: str) -> str | None:
        """Process one input line; returns "exit" to leave the REPL."""
        if self.multiline is not None:
            ended = line.endswith(TRIPLE)
            self.buffer.append(line[: -len(TRIPLE)] if ended else line)
            if not ended:
                return None
            text = "\n".join(self.buffer)
            self.buffer.clear()
            kind, self.multiline = self.multiline, None
            if kind == "system":
                self.set_system(text)
                return None
            return self.send(text)
        if line.startswith(TRIPLE):
            rest = line[len(TRIPLE):]
            if rest.endswith(TRIPLE):
                return self.send(rest[: -len(TRIPLE)]) if rest[: -len(TRIPLE)] else None
            self.buffer.append(rest)
            self.multiline = "prompt"
            return None
        if line.startswith("/"):
            return self.command(line)
        if line:
            return self.send(line)
        return None

    # -- commands -------------------------------------------------------------------------------------------
    def command(self, line: str) -> str | None:
        args = line.split()
        name = args[0]
        if name.startswith(("/exit", "/bye")):
            return "exit"
        if name.startswith("/list"):
            self.cmd_list(args[1:])
        elif name.startswith("/load"):
            self.cmd_load(args)
        elif name.startswith("/save"):
            self.cmd_save(args)
        elif name.startswith("/clear"):
            self.s.messages = [{"role": "system", "content": self.s.system}] if self.s.system else []
            self.out("Cleared session context")
        elif name.startswith("/set"):
            self.cmd_set(line, args)
        elif name.startswith("/show"):
            self.cmd_show(args)
        elif name.startswith(("/help", "/?")):
            topic = args[1] if len(args) > 1 else None
            if topic in ("set", "/set"):
                self.usage(USAGE_SET)
            elif topic in ("show", "/show"):
                self.usage(USAGE_SHOW)
            elif topic in ("shortcut", "shortcuts"):
                self.usage(USAGE_SHORTCUTS)
            else:
                self.usage(USAGE)
        else:
            self.out(f"Unknown command '{name}'. Type /? for help")
        return None

    def cmd_list(self, args: list[str]) -> None:
        from argparse import Namespace

        from .models import list_models

        list_models(self.ctx, Namespace(prefix=args[0] if args else None))

    def cmd_load(self, args: list[str]) -> None:
        from ollamalib.errors import ModelNotFoundError, OllamalibError

        if len(args) != 2:
            self.out("Usage:\n  /load <modelname>")
            return
        model = args[1]
        self.out(f"Loading model '{model}'")
        try:
            info = self.ctx.api.show(model)
            previous = self.s.model
            self.s.model = model
            try:
                load_model(self.ctx, self.s)
            except OllamalibError:
                self.s.model = previous
                raise
        except ModelNotFoundError:
            self.out(f"Couldn't find model '{model}'")
            return
        except OllamalibError as exc:
            self.out(f"error: {exc}")
            return
        self.s.capabilities = list(info.capabilities or [])
        self.s.messages = []

    def cmd_save(self, args: list[str]) -> None:
        from ollamalib.errors import InvalidNameError, OllamalibError

        if len(args) != 2:
            self.out("Usage:\n  /save <modelname>")
            return
        try:
            self.ctx.api.create(
                args[1],
                from_=self.s.model,
                system=self.s.system or None,
                parameters=dict(self.s.options) or None,
                messages=list(self.s.messages) or None,
            )
        except InvalidNameError:
            self.out(f"error: The model name '{args[1]}' is invalid")
            return
        except OllamalibError as exc:
            self.out(f"error: {exc}")
            return
        self.out(f"Created new model '{args[1]}'")

    def set_system(self, text: str) -> None:
        self.s.system = text
        msg = {"role": "system", "content": text}
        if self.s.messages and self.s.messages[-1]["role"] == "system":
            self.s.messages[-1] = msg
        else:
            self.s.messages.append(msg)
        self.out("Set system message.")

    def cmd_set(self, line: str, args: list[str]) -> None:
        if len(args) < 2:
            self.usage(USAGE_SET)
            return
        what = args[1]
        if what == "history":
            self.history.enabled = True
        elif what == "nohistory":
            self.history.enabled = False
        elif what in ("wordwrap", "nowordwrap"):
            self.s.wordwrap = what == "wordwrap"
            self.out(f"Set '{what}' mode.")
        elif what in ("verbose", "quiet"):
            self.s.verbose = what == "verbose"
            self.out(f"Set '{what}' mode.")
        elif what == "think":
            level = args[2] if len(args) > 2 else None
            self.s.think = level or True
            self._warn_no_thinking()
            self.out(f"Set 'think' mode to '{level}'." if level else "Set 'think' mode.")
        elif what == "nothink":
            self.s.think = False
            self._warn_no_thinking()
            self.out("Set 'nothink' mode.")
        elif what == "format":
            if len(args) < 3 or args[2] != "json":
                self.out("Invalid or missing format. For 'json' mode use '/set format json'")
            else:
                self.s.format = "json"
                self.out("Set format to 'json' mode.")
        elif what == "noformat":
            self.s.format = None
            self.out("Disabled format.")
        elif what == "parameter":
            self._set_parameter(args)
        elif what == "system":
            self._set_system_line(line, args)
        else:
            self.out(f"Unknown command '/set {what}'. Type /? for help")

    def _warn_no_thinking(self) -> None:
        if self.s.capabilities and "thinking" not in self.s.capabilities:
            self.ctx.err(f'warning: model "{self.s.model}" does not support thinking output')

    def _set_parameter(self, args: list[str]) -> None:
        from ollamalib._go.strconv import go_quote
        from ollamalib.errors import InvalidOptionError
        from ollamalib.options import format_params

        if len(args) < 4:
            self.usage(USAGE_PARAMETERS)
            return
        key, values = args[2], args[3:]
        try:
            typed = format_params({key: values})
        except InvalidOptionError as exc:
            self.out(f"Couldn't set parameter: {go_quote(str(exc))}")
            return
        self.out(f"Set parameter '{key}' to '{', '.join(values)}'")
        if key in typed:
            self.s.options[key] = typed[key]

    def _set_system_line(self, line: str, args: list[str]) -> None:
        if len(args) < 3:
            self.usage(USAGE_SET)
            return
        text = " ".join(args[2:])
        if text.startswith(TRIPLE):
            text = text[len(TRIPLE):]
            if text.endswith(TRIPLE) and text:
                self.set_system(text[: -len(TRIPLE)])
                return
            self.buffer = [text]
            self.multiline = "system"
            return
        self.set_system(text)

    def cmd_show(self, args: list[str]) -> None:
        from ollamalib.errors import OllamalibError

        if len(args) < 2:
            self.usage(USAGE_SHOW)
            return
        try:
            resp = self.ctx.api.show(self.s.model)
        except OllamalibError as exc:
            self.out("error: couldn't get model")
            self.out(f"error: {exc}")
            return
        what = args[1]
        if what == "info":
            self.ctx.err(render_show(resp), end="")
        elif what == "license":
            self.out(resp.license or "No license was specified for this model.")
        elif what == "modelfile":
            self.out(resp.modelfile or "")
        elif what == "parameters":
            self.out("Model defined parameters:")
            if not resp.parameters:
                self.out("  No additional parameters were specified for this model.")
            else:
                for line in resp.parameters.split("\n"):
                    self.out(f"  {line}")
            self.out()
            if self.s.options:
                self.out("User defined parameters:")
                for k, v in self.s.options.items():
                    self.out(f"  {k:<30} {_go_value(v)}")
                self.out()
        elif what == "system":
            if self.s.system:
                self.out(self.s.system + "\n")
            elif resp.system:
                self.out(resp.system + "\n")
            else:
                self.out("No system message was specified for this model.")
        elif what == "template":
            self.out(resp.template or "No prompt template was specified for this model.")
        else:
            self.out(f"Unknown command '/show {what}'. Type /? for help")

    # -- chatting -------------------------------------------------------------------------------------------
    def send(self, text: str) -> str | None:
        """Send one user message through chat, stream the answer and keep it in the session."""
        from ollamalib.errors import OllamalibError

        images: list[Any] = []
        if "vision" in self.s.capabilities:
            from .run import extract_images

            text, images = extract_images(text, self.ctx.stderr)
        message: dict[str, Any] = {"role": "user", "content": text}
        if images:
            import base64

            message["images"] = [base64.b64encode(Path(p).read_bytes()).decode() for p in images]
        self.s.messages.append(message)
        try:
            chunks = self.ctx.api.send(self.s.chat_request(), stream=True)
            latest, printer, interrupted = stream_answer(self.ctx, self.s, chunks, chat=True)
        except OllamalibError as exc:
            self.s.messages.pop()
            self.out(f"error: {exc}")
            return None
        if interrupted:
            self.out()
            return None
        self.out()
        self.out()
        report_final(self.ctx, self.s, latest)
        reply: dict[str, Any] = {"role": "assistant", "content": printer.content}
        if printer.thinking:
            reply["thinking"] = printer.thinking
        self.s.messages.append(reply)
        return None


"""The lexer of Go's text/template: text, ``{{``/``}}`` actions with ``-`` trim markers, comments, tokens.

It follows text/template/parse/lex.go state by state, so token boundaries, whitespace trimming and
error texts match Go. Positions are offsets in the Python string; ``line_of`` turns one into Go's line.
"""

from __future__ import annotations

from typing import NamedTuple

from .._go.values import is_alnum

__all__ = ["Item", "lex"]

# item types (ordering matters: keywords come after KEYWORD)
ERROR = 0
BOOL = 1
CHAR = 2
CHAR_CONSTANT = 3
COMMENT = 4
COMPLEX = 5
ASSIGN = 6
DECLARE = 7
EOF = 8
FIELD = 9
IDENTIFIER = 10
LEFT_DELIM = 11
LEFT_PAREN = 12
NUMBER = 13
PIPE = 14
RAW_STRING = 15
RIGHT_DELIM = 16
RIGHT_PAREN = 17
SPACE = 18
STRING = 19
TEXT = 20
VARIABLE = 21
KEYWORD = 22
BLOCK = 23
BREAK = 24
CONTINUE = 25
DOT = 26
DEFINE = 27
ELSE = 28
END = 29
IF = 30
NIL = 31
RANGE = 32
TEMPLATE = 33
WITH = 34

KEYWORDS = {
    ".": DOT,
    "block": BLOCK,
    "break": BREAK,
    "continue": CONTINUE,
    "define": DEFINE,
    "else": ELSE,
    "end": END,
    "if": IF,
    "range": RANGE,
    "nil": NIL,
    "template": TEMPLATE,
    "with": WITH,
}

LEFT = "{{"
RIGHT = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
SPACE_CHARS = " \t\r\n"


class Item(NamedTuple):
    typ: int
    pos: int
    val: str

    def describe(self) -> str:
        """Go's item.String(), used in "unexpected ..." parse errors."""
        from .._go.strconv import go_quote

        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_space(ch: str) -> bool:
    return ch == " " or ch == "\t" or ch == "\r" or ch == "\n"


def _has_left_trim(s: str, i: int) -> bool:
    return i + 1 < len(s) and s[i] == "-" and _is_space(s[i + 1])


def _has_right_trim(s: str, i: int) -> bool:
    return i + 1 < len(s) and _is_space(s[i]) and s[i + 1] == "-"


class _Lexer:
    __slots__ = ("break_ok", "continue_ok", "emit_comment", "input", "items", "paren_depth", "pos", "start")

    def __init__(self, text: str, *, break_ok: bool, continue_ok: bool, emit_comment: bool) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.items: list[Item] = []
        self.paren_depth = 0
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.emit_comment = emit_comment

    # helpers ---------------------------------------------------------------------------------------------

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def emit(self, typ: int) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos]))
        self.start = self.pos

    def error(self, msg: str) -> None:
        self.items.append(Item(ERROR, self.start, msg))
        self.items.append(Item(EOF, self.start, ""))

    def at_right_delim(self) -> tuple[bool, bool]:
        s, p = self.input, self.pos
        if _has_right_trim(s, p) and s.startswith(RIGHT, p + 2):
            return True, True
        if s.startswith(RIGHT, p):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        ch = self.peek()
        return ch == "" or _is_space(ch) or ch in ".,|:)(" or ch == RIGHT[0]

    # states ----------------------------------------------------------------------------------------------

    def run(self) -> list[Item]:
        state = self.lex_text
        while state is not None:
            state = state()
        return self.items

    def lex_text(self):  # type: ignore[no-untyped-def]
        s = self.input
        x = s.find(LEFT, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                if _has_left_trim(s, x + len(LEFT)):
                    segment = s[self.start : x]
                    trim = len(segment) - len(segment.rstrip(SPACE_CHARS))
                self.pos -= trim
                item = Item(TEXT, self.start, s[self.start : self.pos])
                self.pos += trim
                self.start = self.pos
                if item.val:
                    self.items.append(item)
            return self.lex_left_delim
        self.pos = len(s)
        if self.pos > self.start:
            self.emit(TEXT)
        self.emit(EOF)
        return None

    def lex_left_delim(self):  # type: ignore[no-untyped-def]
        s = self.input
        self.pos += len(LEFT)
        trim = _has_left_trim(s, self.pos)
        after = 2 if trim else 0
        if s.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.start = self.pos
            return self.lex_comment
        item = Item(LEFT_DELIM, self.start, s[self.start : self.pos])
        self.items.append(item)
        self.pos += after
        self.start = self.pos
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self):  # type: ignore[no-untyped-def]
        s = self.input
        self.pos += len(LEFT_COMMENT)
        x = s.find(RIGHT_COMMENT, self.pos)
        if x < 0:
            self.error("unclosed comment")
            return None
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        item = Item(COMMENT, self.start, s[self.start : self.pos])
        if trim:
            self.pos += 2
        self.pos += len(RIGHT)
        if trim:
            rest = s[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.start = self.pos
        if self.emit_comment:
            self.items.append(item)
        return self.lex_text

    def lex_right_delim(self):  # type: ignore[no-untyped-def]
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += len(RIGHT)
        self.items.append(Item(RIGHT_DELIM, self.start, self.input[self.start : self.pos]))
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.start = self.pos
        return self.lex_text

    def lex_inside_action(self):  # type: ignore[no-untyped-def]
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        s = self.input
        if self.pos >= len(s):
            self.error("unclosed action")
            return None
        ch = s[self.pos]
        self.pos += 1
        if _is_space(ch):
            self.pos -= 1
            return self.lex_space
        if ch == "=":
            self.emit(ASSIGN)
        elif ch == ":":
            if self.pos < len(s) and s[self.pos] == "=":
                self.pos += 1
                self.emit(DECLARE)
            else:
                if self.pos < len(s):
                    self.pos += 1
                self.error("expected :=")
                return None
        elif ch == "|":
            self.emit(PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and self.pos < len(s) and not ("0" <= s[self.pos] <= "9"):
            return self.lex_field
        elif ch in ".+-" or "0" <= ch <= "9":
            self.pos -= 1
            return self.lex_number
        elif is_alnum(ch):
            self.pos -= 1
            return self.lex_identifier
        elif ch == "(":
            self.emit(LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error("unexpected right paren")
                return None
            self.emit(RIGHT_PAREN)
        elif ord(ch) < 0x80 and ch.isprintable():
            self.emit(CHAR)
        else:
            self.error(f"unrecognized character in action: {_sharp_u(ch)}")
            return None
        return self.lex_inside_action

    def lex_space(self):  # type: ignore[no-untyped-def]
        s = self.input
        num = 0
        while self.pos < len(s) and _is_space(s[self.pos]):
            self.pos += 1
            num += 1
        if _has_right_trim(s, self.pos - 1) and s.startswith(RIGHT, self.pos + 1):
            self.pos -= 1
            if num == 1:
                return self.lex_inside_action
        self.emit(SPACE)
        return self.lex_inside_action

    def lex_identifier(self):  # type: ignore[no-untyped-def]
        s = self.input
        while self.pos < len(s) and is_alnum(s[self.pos]):
            self.pos += 1
        word = s[self.start : self.pos]
        if not self.at_terminator():
            bad = self.peek()
            self.pos += 1
            self.error(f"bad character {_sharp_u(bad)}")
            return None
        typ = KEYWORDS.get(word)
        if typ is not None and typ > KEYWORD:
            if (typ == BREAK and not self.break_ok) or (typ == CONTINUE and not self.continue_ok):
                self.emit(IDENTIFIER)
            else:
                self.emit(typ)
        elif word[0] == ".":
            self.emit(FIELD)
        elif word in ("true", "false"):
            self.emit(BOOL)
        else:
            self.emit(IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self):  # type: ignore[no-untyped-def]
        return self._field_or_variable(FIELD)

    def lex_variable(self):  # type: ignore[no-untyped-def]
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self._field_or_variable(VARIABLE)

    def _field_or_variable(self, typ: int):  # type: ignore[no-untyped-def]
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        s = self.input
        while self.pos < len(s) and is_alnum(s[self.pos]):
            self.pos += 1
        if not self.at_terminator():
            bad = self.peek()
            self.pos += 1
            self.error(f"bad character {_sharp_u(bad)}")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self):  # type: ignore[no-untyped-def]
        s = self.input
        while True:
            ch = s[self.pos] if self.pos < len(s) else ""
            self.pos += 1 if ch else 0
            if ch == "\\":
                nxt = s[self.pos] if self.pos < len(s) else ""
                if nxt and nxt != "\n":
                    self.pos += 1
                    continue
                self.error("unterminated character constant")
                return None
            if ch == "" or ch == "\n":
                self.error("unterminated character constant")
                return None
            if ch == "'":
                break
        self.emit(CHAR_CONSTANT)
        return self.lex_inside_action

    def lex_number(self):  # type: ignore[no-untyped-def]
        if not self._scan_number():
            self.error(f"bad number syntax: {_go_q(self.input[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-"):
            if not self._scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {_go_q(self.input[self.start : self.pos])}")
                return None
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def _accept(self, valid: str) -> bool:
        if self.pos < len(self.input) and self.input[self.pos] in valid:
            self.pos += 1
            return True
        return False

    def _accept_run(self, valid: str) -> None:
        s = self.input
        while self.pos < len(s) and s[self.pos] in valid:
            self.pos += 1

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if self.pos < len(self.input) and is_alnum(self.input[self.pos]):
            self.pos += 1
            return False
        return True

    def lex_quote(self):  # type: ignore[no-untyped-def]
        s = self.input
        while True:
            ch = s[self.pos] if self.pos < len(s) else ""
            if ch:
                self.pos += 1
            if ch == "\\":
                nxt = s[self.pos] if self.pos < len(s) else ""
                if nxt and nxt != "\n":
                    self.pos += 1
                    continue
                self.error("unterminated quoted string")
                return None
            if ch == "" or ch == "\n":
                self.error("unterminated quoted string")
                return None
            if ch == '"':
                break
        self.emit(STRING)
        return self.lex_inside_action

    def lex_raw_quote(self):  # type: ignore[no-untyped-def]
        x = self.input.find("`", self.pos)
        if x < 0:
            self.pos = len(self.input)
            self.error("unterminated raw quoted string")
            return None
        self.pos = x + 1
        self.emit(RAW_STRING)
        return self.lex_inside_action


def _sharp_u(ch: str) -> str:
    """Go's %#U of a rune: U+0041 'A'."""
    cp = ord(ch)
    text = f"U+{cp:04X}"
    if ch.isprintable():
        text += f" '{ch}'"
    return text


def _go_q(s: str) -> str:
    from .._go.strconv import go_quote

    return go_quote(s)


def lex(text: str, *, break_ok: bool = True, continue_ok: bool = True, emit_comment: bool = False) -> list[Item]:
    """All items of ``text`` up to EOF or the first error item."""
    return _Lexer(text, break_ok=break_ok, continue_ok=continue_ok, emit_comment=emit_comment).run()

"""A process that runs store operations on one store when told to (the other side of the race tests).

Reads lines ``<start-unix-time> <op> <args...>`` on stdin, waits until the start time so that two workers act
at the same moment, runs the operation and answers ``ok`` or ``err <ErrorType>: <message>`` on stdout.
"""

from __future__ import annotations

import sys
import time

from ollamalib.create import create_model
from ollamalib.store import ModelStore


def run(store: ModelStore, op: str, args: list[str]) -> None:
    if op == "delete":
        store.delete(args[0])
    elif op == "copy":
        store.copy(args[0], args[1])
    elif op == "create-digest":
        for _ in create_model(store, args[0], from_=args[1]):
            pass
    elif op == "create-from":
        for _ in create_model(store, args[0], from_=args[1], system="derived"):
            pass
    else:
        raise ValueError(f"unknown op {op}")


def main() -> None:
    store = ModelStore(sys.argv[1])
    for line in sys.stdin:
        start, op, *args = line.split()
        delay = float(start) - time.time()
        if delay > 0:
            time.sleep(delay)
        try:
            run(store, op, args)
            answer = "ok"
        except Exception as exc:  # reported to the test, which decides what is acceptable
            answer = f"err {type(exc).__name__}: {exc}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()

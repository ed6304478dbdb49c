"""What the stack tools print: one line per step, so a new user sees what is happening."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A step failed; the message says what and what to do about it."""


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def info(message: str) -> None:
    print(f"    {message}", flush=True)


def run(
    argv: Sequence[str],
    *,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    quiet: bool = True,
    line_filter: Callable[[str], str | None] | None = None,
) -> str:
    """Runs a command; on failure raises StackError with the command and its last output lines.

    With `line_filter`, output is streamed and each line the filter maps to text is printed:
    that is how a long download shows its progress.
    """
    proc = subprocess.Popen(  # noqa: S603 - argv is built by this module, never from input
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line_filter is not None:
            shown = line_filter(line.rstrip("\n"))
            if shown:
                info(shown)
        elif not quiet:
            print(line, end="", file=sys.stdout, flush=True)
    code = proc.wait()
    if code != 0:
        tail = "\n".join(lines[-25:])
        raise StackError(
            f"{what} failed (exit {code}): {shlex.join(argv)}\n--- last output ---\n{tail}"
        )
    return "\n".join(lines)

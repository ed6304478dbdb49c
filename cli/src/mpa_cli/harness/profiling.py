"""Sampling profiles of running services with py-spy (by pid, without changing them).

`record` runs `py-spy record --format raw` (folded stacks: `frame;frame;... count`) for a
while; `summarise` turns that into the top of the profile: the functions where the samples
were (self) and the functions they were under (total), as shares of the active samples
(py-spy leaves out idle threads, so waiting on the network or the database is not counted
unless Python code spins while waiting).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


# With uvloop the loop runs in C: samples taken there end in the frame that started it.
_LOOP_FRAME = "Runner.run (runners.py)"
EVENT_LOOP = "(event loop: uvloop's C code, I/O and callbacks)"


@dataclass(frozen=True)
class Hotspot:
    frame: str  # "function (file)"
    self_share: float
    total_share: float


@dataclass(frozen=True)
class Profile:
    service: str
    samples: int
    by_self: list[Hotspot]
    by_total: list[Hotspot]

    def text(self, top: int = 12) -> str:
        lines = [f"{self.service}: {self.samples} active samples"]
        lines.append("  self   total  function (where the samples were)")
        for spot in self.by_self[:top]:
            lines.append(f"  {spot.self_share:5.1%} {spot.total_share:6.1%}  {spot.frame}")
        lines.append("  total  function (what they were under)")
        for spot in self.by_total[:top]:
            lines.append(f"  {spot.total_share:5.1%}  {spot.frame}")
        return "\n".join(lines)


def py_spy() -> str:
    # Beside the interpreter first: `.venv/bin/python bench/e2e.py` need not have .venv on PATH.
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed (it is in the dev dependencies: make venv)")
    return found


async def record(pid: int, seconds: float, out: Path, *, rate: int = 67) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(round(seconds)),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0 or not _exists(out):
        raise RuntimeError(f"py-spy failed for pid {pid}: {output.decode()[-1000:]}")
    return out


def _exists(path: Path) -> bool:
    return path.exists()


def _function(frame: str) -> str:
    """`f (path/to/file.py:12)` -> `f (file.py)`: lines of one function are one hotspot."""
    frame = _FRAME_LINE.sub(")", frame.strip())
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')')).name})" if where else name


def summarise(service: str, raw: Path) -> Profile:
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        count = int(match["count"])
        frames = [_function(f) for f in match["stack"].split(";") if f]
        if not frames:
            continue
        samples += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            total_counts[frame] += count
    if samples == 0:
        return Profile(service, 0, [], [])

    def spot(frame: str) -> Hotspot:
        name = EVENT_LOOP if frame == _LOOP_FRAME else frame
        return Hotspot(name, self_counts[frame] / samples, total_counts[frame] / samples)

    # The frames every sample of the main thread is under (runpy, main, uvicorn's run, the
    # loop) say nothing; the total list starts below them.
    root = max(total_counts.values())
    below_root = [(f, n) for f, n in total_counts.most_common() if n < root]
    return Profile(
        service,
        samples,
        [spot(f) for f, _ in self_counts.most_common(40)],
        [spot(f) for f, _ in below_root[:60]],
    )


async def dump(pid: int) -> str:
    """Every thread's Python stack of a running process, now (what a stuck service waits on)."""
    process = await asyncio.create_subprocess_exec(
        py_spy(),
        "dump",
        "--pid",
        str(pid),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return output.decode(errors="replace")

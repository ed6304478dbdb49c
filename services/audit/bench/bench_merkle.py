"""Benchmark of the audit log's Merkle core on one CPU core.

Usage (from the repository root)::

    .venv/bin/python services/audit/bench/bench_merkle.py [--leaves N] [--samples S]

Reports appends per second into the tests' in-memory tree (``MemoryTree``), ``root_hash``
over N leaf hashes streamed from a list, and p50/p99 latency of inclusion and consistency
proof generation (from stored nodes) and verification in a tree of N leaves, plus ``root_at``
for historical sizes. Every generated proof is verified, so a wrong result stops the run.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from mpa_audit.domain.proof_plans import consistency_proof, inclusion_proof, root_at
from mpa_audit_verify.hashing import leaf_hash, root_hash
from mpa_audit_verify.proofs import verify_consistency, verify_inclusion

# The in-memory node store lives with the unit tests (the service keeps its nodes in
# PostgreSQL); the benchmark borrows it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audit_memory_tree import MemoryTree

Input = TypeVar("Input")
Output = TypeVar("Output")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def microseconds_each(
    operation: Callable[[Input], Output], inputs: Sequence[Input]
) -> tuple[list[float], list[Output]]:
    """Sorted wall time of ``operation`` on each input in microseconds, and its results."""
    timings: list[float] = []
    results: list[Output] = []
    clock = time.perf_counter_ns
    for item in inputs:
        started = clock()
        result = operation(item)
        timings.append((clock() - started) / 1000)
        results.append(result)
    return sorted(timings), results


def report_latency(label: str, timings: Sequence[float]) -> None:
    p50, p99 = percentile(timings, 0.50), percentile(timings, 0.99)
    print(f"  {label:<30} {p50:>9.1f} {p99:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="tree size N")
    parser.add_argument("--samples", type=int, default=2_000, help="latency samples per row")
    parser.add_argument("--seed", type=int, default=6962)
    arguments = parser.parse_args()
    leaves: int = arguments.leaves
    samples: int = arguments.samples
    if leaves < 2 or samples < 1:
        parser.error("need --leaves >= 2 and --samples >= 1")
    rng = random.Random(arguments.seed)

    print(f"leaves={leaves:,} samples={samples:,} python={platform.python_version()}")

    started = time.perf_counter()
    leaf_hashes = [leaf_hash(i.to_bytes(8, "big")) for i in range(leaves)]
    print(f"leaf hashes prepared            {time.perf_counter() - started:8.2f} s")

    tree = MemoryTree()
    started = time.perf_counter()
    for leaf in leaf_hashes:
        tree.append(leaf)
    elapsed = time.perf_counter() - started
    print(f"MemoryTree append               {elapsed:8.2f} s  ({leaves / elapsed:,.0f} appends/s)")

    started = time.perf_counter()
    streamed_root = root_hash(iter(leaf_hashes))
    elapsed = time.perf_counter() - started
    print(f"root_hash over N leaf hashes    {elapsed:8.2f} s  ({leaves / elapsed:,.0f} leaves/s)")
    if streamed_root != tree.root():
        raise SystemExit("root_hash disagrees with MemoryTree.root()")

    root = tree.root()
    print(f"\nlatency at N={leaves:,} ({samples:,} samples)   p50 us    p99 us")

    indexes = [rng.randrange(leaves) for _ in range(samples)]
    timings, inclusion_proofs = microseconds_each(
        lambda index: inclusion_proof(index, leaves, tree), indexes
    )
    report_latency("inclusion proof generate", timings)
    timings, _ = microseconds_each(
        lambda case: verify_inclusion(case[0], leaves, leaf_hashes[case[0]], case[1], root),
        list(zip(indexes, inclusion_proofs, strict=True)),
    )
    report_latency("inclusion proof verify", timings)

    old_sizes = [rng.randrange(1, leaves) for _ in range(samples)]
    timings, old_roots = microseconds_each(lambda size: root_at(size, tree), old_sizes)
    report_latency("root_at (historical size)", timings)
    timings, consistency_proofs = microseconds_each(
        lambda size: consistency_proof(size, leaves, tree), old_sizes
    )
    report_latency("consistency proof generate", timings)
    timings, _ = microseconds_each(
        lambda case: verify_consistency(case[0], leaves, case[1], root, case[2]),
        list(zip(old_sizes, old_roots, consistency_proofs, strict=True)),
    )
    report_latency("consistency proof verify", timings)


if __name__ == "__main__":
    main()

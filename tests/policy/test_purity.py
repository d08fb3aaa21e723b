"""sim/policy stays pure: no simpy, asyncio, sockets, clocks or global randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import sim.policy

FORBIDDEN = {"simpy", "asyncio", "socket", "time", "random", "threading", "sim.world", "sim.live"}


def test_policy_modules_import_nothing_impure() -> None:
    root = Path(sim.policy.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(root.glob("*.py"))) >= 8

"""Cycle detection over named references (variables that reference variables, tags that sequence tags)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["find_cycles"]


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every reference cycle in ``edges`` (a name and the names it refers to), each as ``[a, b, ..., a]``.

    Names that are not keys of ``edges`` (built-ins, unknown names) are ignored. A cycle is reported
    once, starting at the first of its names reached in the mapping's order.

    >>> find_cycles({"A": ["B"], "B": ["C", "X"], "C": ["A"], "F": ["F"], "G": []})
    [['A', 'B', 'C', 'A'], ['F', 'F']]
    """
    cycles: list[list[str]] = []
    seen_cycles: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for ref in edges[name]:
            if ref not in edges:
                continue
            if state.get(ref) == 1:
                cycle = [*stack[stack.index(ref):], ref]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    cycles.append(cycle)
            elif ref not in state:
                visit(ref)
        stack.pop()
        state[name] = 2

    for name in edges:
        if name not in state:
            visit(name)
    return cycles

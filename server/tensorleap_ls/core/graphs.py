"""Strongly connected components, for the resolutions that follow cycles (star-import webs, modules
importing each other, functions calling each other): each component is handled once, so the work stays
linear whatever the cycles."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, TypeVar

N = TypeVar("N", bound=Hashable)


def components(nodes: Iterable[N], successors: Callable[[N], list[N]]) -> list[list[N]]:
    """Tarjan's algorithm, iterative (no recursion limit). Components come out in reverse topological
    order: every component a node reaches comes before the node's own. Members are listed in the order
    they were found (roots in ``nodes`` order, successors in ``successors`` order)."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    out: list[list[N]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[N, int, list[N]]] = [(root, 0, [])]
        while work:
            v, i, succ = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
                succ = successors(v)
            if i < len(succ):
                work.append((v, i + 1, succ))
                w = succ[i]
                if w not in index:
                    work.append((w, 0, []))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                members = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    members.append(w)
                    if w == v:
                        break
                members.sort(key=index.__getitem__)
                out.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out

"""Which nodes of a dataflow graph only feed given tensors: shared by the ONNX and TensorRT precision steps."""

from __future__ import annotations

from typing import Iterable, Sequence

# one node: (name, input tensor names, output tensor names)
Node = tuple[str, Sequence[str], Sequence[str]]


def ancestors(nodes: Iterable[Node], tensors: Iterable[str], stop: frozenset[str] = frozenset()) -> set[str]:
    """Names of the nodes that (transitively) produce `tensors`; nodes named in `stop` are included but not
    walked through."""
    nodes = list(nodes)
    producer = {o: n for n in nodes for o in n[2]}
    seen: set[str] = set()
    todo = list(tensors)
    while todo:
        node = producer.get(todo.pop())
        if node is None or node[0] in seen:
            continue
        seen.add(node[0])
        if node[0] not in stop:
            todo.extend(node[1])
    return seen


def feeding_only(nodes: Iterable[Node], sinks: Sequence[str], targets: Iterable[str],
                 outputs: Iterable[str]) -> set[str]:
    """Nodes that feed the `targets` tensors (inputs of the `sinks` nodes) and reach the graph `outputs` only
    through a sink: e.g. the CE ranking branch, whose scores only decide TopK's indices."""
    nodes = list(nodes)
    stop = frozenset(sinks)
    return ancestors(nodes, targets) - ancestors(nodes, outputs, stop)

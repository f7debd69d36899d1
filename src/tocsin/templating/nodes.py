"""Parse tree of a Go-syntax template.

Each node keeps its offset in the source so execution errors can say
``name:line:col`` the way Go does, and prints back as template source for
the ``at <...>`` part of those errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Source:
    """The text a tree was parsed from: errors turn offsets into line:col."""

    name: str
    text: str

    def location(self, pos: int) -> tuple[int, int]:
        """(1-based line, 0-based byte column) of an offset, as Go counts them."""
        line = self.text.count("\n", 0, pos) + 1
        line_start = self.text.rfind("\n", 0, pos) + 1
        return line, len(self.text[line_start:pos].encode())


class Node:
    __slots__ = ("pos", "src")

    def __init__(self, pos: int, src: Source) -> None:
        self.pos = pos
        self.src = src


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, src: Source, text: str) -> None:
        super().__init__(pos, src)
        self.text = text

    def __str__(self) -> str:
        return self.text


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, src: Source) -> None:
        super().__init__(pos, src)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, src: Source, value: bool) -> None:
        super().__init__(pos, src)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    """A numeric constant. Like Go's, it is untyped until used."""

    __slots__ = ("as_float", "as_int", "ideal", "is_float", "is_int", "text")

    def __init__(self, pos: int, src: Source, text: str) -> None:
        super().__init__(pos, src)
        self.text = text
        self.is_int = False
        self.is_float = False
        self.as_int = 0
        self.as_float = 0.0
        self.ideal: Any = None  # value when the context takes any type

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, src: Source, quoted: str, text: str) -> None:
        super().__init__(pos, src)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class IdentifierNode(Node):
    """A function name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, src: Source, name: str) -> None:
        super().__init__(pos, src)
        self.name = name

    def __str__(self) -> str:
        return self.name


class FieldNode(Node):
    """.a.b: fields of dot."""

    __slots__ = ("ident",)

    def __init__(self, pos: int, src: Source, ident: list[str]) -> None:
        super().__init__(pos, src)
        self.ident = ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class VariableNode(Node):
    """$x.a.b: a variable and optional fields."""

    __slots__ = ("ident",)

    def __init__(self, pos: int, src: Source, ident: list[str]) -> None:
        super().__init__(pos, src)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident[0] + "".join("." + i for i in self.ident[1:])


class ChainNode(Node):
    """(pipeline).a.b: fields of an arbitrary term."""

    __slots__ = ("field", "node")

    def __init__(self, pos: int, src: Source, node: Node, fields: list[str]) -> None:
        super().__init__(pos, src)
        self.node = node
        self.field = fields

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.field)


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, src: Source) -> None:
        super().__init__(pos, src)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int, src: Source) -> None:
        super().__init__(pos, src)
        self.decl: list[VariableNode] = []
        self.is_assign = False
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return out + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, src: Source, pipe: PipeNode) -> None:
        super().__init__(pos, src)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    """if / range / with."""

    __slots__ = ("else_list", "keyword", "list", "pipe")

    def __init__(
        self,
        pos: int,
        src: Source,
        keyword: str,
        pipe: PipeNode,
        body: ListNode,
        else_list: ListNode | None,
    ) -> None:
        super().__init__(pos, src)
        self.keyword = keyword
        self.pipe = pipe
        self.list = body
        self.else_list = else_list

    def __str__(self) -> str:
        out = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"


class IfNode(BranchNode):
    __slots__ = ()


class RangeNode(BranchNode):
    __slots__ = ()


class WithNode(BranchNode):
    __slots__ = ()


class BreakNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class TemplateNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, src: Source, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos, src)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        tail = f" {self.pipe}" if self.pipe is not None else ""
        return "{{template " + f'"{self.name}"' + tail + "}}"


@dataclass(slots=True)
class Tree:
    """One named template: its body and where it came from."""

    name: str
    root: ListNode
    src: Source
    defined: bool = False  # came from {{define}} / {{block}}
    extra: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Go's IsEmptyTree: only whitespace text (and comments)."""
        return all(isinstance(n, TextNode) and not n.text.strip() for n in self.root.nodes)

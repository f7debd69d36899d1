"""Executes parsed template trees with Go text/template semantics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tocsin.templating.errors import TemplateExecError
from tocsin.templating.funcs import ANY, BOOL, FLOAT, INT, KIND_CHECKS, STRING, GoFunc, go_method
from tocsin.templating.gofmt import NO_VALUE, format_value, go_type_name, is_true, sort_map_keys
from tocsin.templating.htmlescape import TEXT, URL, context_of, escape_url_value, html_escape
from tocsin.templating.nodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
)

MAX_DEPTH = 100


class _Missing:
    """No value was piped in (Go's missingVal), distinct from a nil value."""

    __slots__ = ()


MISSING: Any = _Missing()


class SafeHTML(str):
    """A string that HTML-mode execution prints without escaping (Go's template.HTML)."""

    go_type = "template.HTML"
    __slots__ = ()


class SafeURL(str):
    """A URL that HTML-mode execution trusts in URL attributes (Go's template.URL)."""

    go_type = "template.URL"
    __slots__ = ()


_MAP_KEY: Any = object()
_ATTRIBUTE: Any = object()
_RESOLVED: dict[tuple[type, str], Any] = {}


def _resolve(cls: type, name: str) -> Any:
    """How `.name` reads on a value of class `cls`: a Go method, a map key, or an attribute."""
    how: Any = go_method(cls, name)
    if how is None:
        how = _MAP_KEY if issubclass(cls, Mapping) else _ATTRIBUTE
    if len(_RESOLVED) < 10_000:
        _RESOLVED[(cls, name)] = how
    return how


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


Lookup = Callable[[str], Tree | None]


class State:
    """One execution: output buffer, variable stack, where we are for errors."""

    __slots__ = (
        "context",
        "depth",
        "funcs",
        "html",
        "lookup",
        "missingkey",
        "name",
        "node",
        "out",
        "owner",
        "root",
        "vars",
    )

    def __init__(
        self,
        lookup: Lookup,
        funcs: Mapping[str, GoFunc],
        name: str,
        missingkey: str,
        html: bool,
        context: Any = None,
        owner: Any = None,
    ) -> None:
        self.context = context  # what state-aware functions (GoFunc.wants_state) read
        self.owner = owner  # the TemplateSet executing, for functions that render text
        self.root: Any = None
        self.lookup = lookup
        self.funcs = funcs
        self.name = name
        self.missingkey = missingkey
        self.html = html
        self.out: list[str] = []
        self.vars: list[list[Any]] = []
        self.node: Node | None = None
        self.depth = 0

    # -- errors --------------------------------------------------------------

    def error(self, message: str) -> TemplateExecError:
        node = self.node
        if node is None:
            return TemplateExecError(
                message, template=self.name, text=f"template: {self.name}: {message}"
            )
        line, col = node.src.location(node.pos)
        ctx = str(node)
        text = (
            f'template: {node.src.name}:{line}:{col}: executing "{self.name}" at <{ctx}>: {message}'
        )
        return TemplateExecError(message, template=self.name, line=line, column=col, text=text)

    # -- entry points ----------------------------------------------------------

    def run(self, tree: Tree, data: Any, extra_vars: Mapping[str, Any] | None = None) -> str:
        self.root = data
        self.vars = [["$", data]]
        if extra_vars:
            self.vars.extend([k, v] for k, v in extra_vars.items())
        self.name = tree.name
        try:
            self.walk(data, tree.root)
        except RecursionError:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})") from None
        return "".join(self.out)

    def execute_named(self, name: str, data: Any) -> str:
        """Run another template into a string (for functions such as `tmpl`)."""
        tree = self.lookup(name)
        if tree is None:
            raise ValueError(f'template "{name}" not defined')
        saved = (self.out, self.vars, self.name, self.depth)
        self.out, self.vars, self.name = [], [["$", data]], tree.name
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        try:
            self.walk(data, tree.root)
            return "".join(self.out)
        finally:
            self.out, self.vars, self.name, self.depth = saved

    # -- walking ---------------------------------------------------------------

    def walk(self, dot: Any, node: Node) -> None:
        t = type(node)
        if t is ListNode:
            out = self.out
            for child in node.nodes:  # type: ignore[attr-defined]
                ct = type(child)
                if ct is TextNode:
                    out.append(child.text)
                elif ct is ActionNode:
                    self.walk_action(dot, child)
                else:
                    self.walk(dot, child)
        elif t is TextNode:
            self.out.append(node.text)  # type: ignore[attr-defined]
        elif t is ActionNode:
            self.walk_action(dot, node)  # type: ignore[arg-type]
        elif t is IfNode or t is WithNode:
            self.node = node
            self.walk_if_or_with(dot, node)  # type: ignore[arg-type]
        elif t is RangeNode:
            self.walk_range(dot, node)  # type: ignore[arg-type]
        elif t is TemplateNode:
            self.walk_template(dot, node)  # type: ignore[arg-type]
        elif t is BreakNode:
            raise _Break
        elif t is ContinueNode:
            raise _Continue
        else:  # pragma: no cover - the parser builds no other statements
            self.node = node
            raise self.error(f"unknown node: {node}")

    def walk_action(self, dot: Any, node: ActionNode) -> None:
        self.node = node
        pipe = node.pipe
        value = self.eval_pipeline(dot, pipe)
        if pipe.decl:
            return
        if type(value) is str and not self.html:
            self.out.append(value)
        else:
            self.print_value(value)

    def print_value(self, value: Any) -> None:
        if type(value) is str:
            text = value
        elif value is NO_VALUE or value is None:
            text = "<no value>"
        elif isinstance(value, str):
            text = str(value)
        else:
            text = format_value(value)
        if self.html:
            text = self.html_escape_here(text, value)
        self.out.append(text)

    def html_escape_here(self, text: str, value: Any) -> str:
        """Escape for the HTML context the output has reached (text, attribute, URL)."""
        tail = ""
        for chunk in reversed(self.out):
            tail = chunk + tail
            if "<" in chunk or ">" in chunk or len(tail) > 4096:
                break
        kind, _, so_far = context_of(tail)
        if kind == URL:
            return escape_url_value(text, so_far, isinstance(value, SafeURL))
        if kind == TEXT and isinstance(value, SafeHTML):
            return text
        return html_escape(text)

    def walk_if_or_with(self, dot: Any, node: IfNode | WithNode) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if type(node) is WithNode else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        self.node = node
        outer = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            mark = len(self.vars)
            decl = node.pipe.decl
            is_assign = node.pipe.is_assign
            body = node.list
            vars_ = self.vars

            def one(index: Any, elem: Any) -> None:
                if decl:
                    if is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1].ident[0], elem)
                    else:
                        vars_[-1][1] = elem
                        if len(decl) > 1:
                            vars_[-2][1] = index
                try:
                    self.walk(elem, body)
                except _Continue:
                    pass
                finally:
                    del vars_[mark:]

            ran = False
            try:
                for index, elem in self._iterate(value, len(decl)):
                    ran = True
                    one(index, elem)
            except _Break:
                ran = True
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[outer:]

    def _iterate(self, value: Any, nvars: int) -> Iterable[tuple[Any, Any]]:
        if value is NO_VALUE or value is None:
            return ()
        if isinstance(value, list | tuple):
            return enumerate(value)
        if isinstance(value, Mapping):
            return ((k, value[k]) for k in sort_map_keys(list(value.keys())))
        if isinstance(value, int) and not isinstance(value, bool):
            if nvars > 1:
                raise self.error(f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        if isinstance(value, Iterable) and not isinstance(value, str | bytes):
            return enumerate(value)
        raise self.error(f"range can't iterate over {format_value(value)}")

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.lookup(node.name)
        if tree is None:
            raise self.error(f'template "{node.name}" not defined')
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else NO_VALUE
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        saved_vars, saved_name = self.vars, self.name
        self.vars, self.name = [["$", value]], tree.name
        self.depth += 1
        try:
            self.walk(value, tree.root)
        finally:
            self.vars, self.name = saved_vars, saved_name
            self.depth -= 1

    # -- variables ------------------------------------------------------------

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    # -- pipelines and commands -------------------------------------------------

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value = MISSING
        for cmd in pipe.cmds:
            first = cmd.args[0]
            if type(first) is VariableNode and len(cmd.args) == 1 and value is MISSING:
                # Fast path for the most common command: {{ $labels.x }}.
                value = self.eval_variable(dot, first, None, MISSING)
            else:
                value = self.eval_command(dot, cmd, value)
        if not pipe.decl:
            return value
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is FieldNode:
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)  # type: ignore[attr-defined]
        if t is VariableNode:
            return self.eval_variable(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is IdentifierNode:
            self.node = first
            return self.eval_function(dot, first, cmd, cmd.args, final)  # type: ignore[arg-type]
        if t is ChainNode:
            return self.eval_chain(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)  # type: ignore[arg-type]
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is StringNode:
            return first.text  # type: ignore[attr-defined]
        if t is NumberNode:
            return first.ideal  # type: ignore[attr-defined]
        if t is BoolNode:
            return first.value  # type: ignore[attr-defined]
        if t is DotNode:
            return dot
        if t is NilNode:
            raise self.error("nil is not a command")
        raise self.error(f"can't evaluate command {first}")  # pragma: no cover

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_variable(
        self, dot: Any, node: VariableNode, args: list[Node] | None, final: Any
    ) -> Any:
        self.node = node
        value = self.var_value(node.ident[0])
        if len(node.ident) == 1:
            if args is not None:
                self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, node, node.ident[1:], args, final)

    def eval_chain(self, dot: Any, node: ChainNode, args: list[Node] | None, final: Any) -> Any:
        self.node = node
        if type(node.node) is NilNode:
            raise self.error(f"indirection through explicit nil in {node}")
        receiver = self.eval_arg(dot, ANY, node.node)
        return self.eval_field_chain(dot, receiver, node, node.field, args, final)

    def eval_field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: Node,
        ident: list[str],
        args: list[Node] | None,
        final: Any,
    ) -> Any:
        last = len(ident) - 1
        for i in range(last):
            receiver = self.eval_field(dot, ident[i], node, None, MISSING, receiver)
        return self.eval_field(dot, ident[last], node, args, final, receiver)

    def eval_field(
        self,
        dot: Any,
        name: str,
        node: Node,
        args: list[Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        if receiver is NO_VALUE or receiver is None:
            # Go: nil data or a missing key earlier in the chain yields no value.
            if self.missingkey == "error":
                raise self.error(f'nil data; no entry for key "{name}"')
            return NO_VALUE
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        cls = type(receiver)
        # Go looks for a method first, then a map key or struct field; which
        # one a (type, name) resolves to never changes, so it is cached.
        how = _RESOLVED.get((cls, name))
        if how is None:
            how = _resolve(cls, name)
        if how is not _MAP_KEY:
            if how is not _ATTRIBUTE:
                return self.eval_call(dot, how, node, name, args, final, receiver)
        else:
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            try:
                return receiver[name]
            except KeyError:
                pass
            except TypeError:
                raise self.error(
                    f"can't evaluate field {name} in type {go_type_name(receiver)}"
                ) from None
            if self.missingkey == "error":
                raise self.error(f'map has no entry for key "{name}"')
            if self.missingkey == "zero":
                return getattr(cls, "go_zero", None)
            return NO_VALUE
        if not name.startswith("_") and not isinstance(receiver, str | int | float | list | tuple):
            try:
                value = getattr(receiver, name)
            except AttributeError:
                pass
            else:
                if has_args:
                    raise self.error(f"{name} is not a method but has arguments")
                return value
        raise self.error(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def eval_function(
        self, dot: Any, node: IdentifierNode, cmd: Node, args: list[Node] | None, final: Any
    ) -> Any:
        self.node = node
        fn = self.funcs.get(node.name)
        if fn is None:
            raise self.error(f'"{node.name}" is not a defined function')
        return self.eval_call(dot, fn, cmd, node.name, args, final)

    def eval_call(
        self,
        dot: Any,
        fn: GoFunc,
        node: Node,
        name: str,
        args: list[Node] | None,
        final: Any,
        receiver: Any = MISSING,
    ) -> Any:
        arg_nodes = args[1:] if args else []
        num_in = len(arg_nodes) + (0 if final is MISSING else 1)
        params = fn.params
        nfixed = len(params)
        variadic = fn.variadic
        if variadic is not None:
            if num_in < nfixed:
                raise self.error(
                    f"wrong number of args for {name}: want at least {nfixed} got {num_in}"
                )
        elif num_in != nfixed:
            raise self.error(f"wrong number of args for {name}: want {nfixed} got {num_in}")
        if fn.lazy:
            return self._and_or(dot, name, arg_nodes, final)
        argv: list[Any] = []
        if receiver is not MISSING:
            argv.append(receiver)
        for i, arg in enumerate(arg_nodes):
            argv.append(self.eval_arg(dot, params[i] if i < nfixed else variadic or ANY, arg))
        if final is not MISSING:
            i = num_in - 1
            argv.append(self.validate(final, params[i] if i < nfixed else variadic or ANY))
        try:
            if fn.wants_state:
                return fn.fn(self, *argv)
            return fn.fn(*argv)
        except (TemplateExecError, _Break, _Continue, RecursionError):
            raise
        except Exception as exc:
            self.node = node
            raise self.error(f"error calling {name}: {exc}") from exc

    def _and_or(self, dot: Any, name: str, arg_nodes: list[Node], final: Any) -> Any:
        want = name == "or"
        value: Any = NO_VALUE
        for arg in arg_nodes:
            value = self.eval_arg(dot, ANY, arg)
            if is_true(value) == want:
                return value
        if final is not MISSING:
            value = self.validate(final, ANY)
        return value

    def eval_arg(self, dot: Any, kind: str, node: Node) -> Any:
        self.node = node
        t = type(node)
        if t is FieldNode:
            value = self.eval_field_chain(dot, dot, node, node.ident, [node], MISSING)  # type: ignore[attr-defined]
        elif t is VariableNode:
            value = self.eval_variable(dot, node, None, MISSING)  # type: ignore[arg-type]
        elif t is DotNode:
            value = dot
        elif t is PipeNode:
            value = self.eval_pipeline(dot, node)  # type: ignore[arg-type]
        elif t is IdentifierNode:
            value = self.eval_function(dot, node, node, [node], MISSING)  # type: ignore[arg-type]
        elif t is ChainNode:
            value = self.eval_chain(dot, node, None, MISSING)  # type: ignore[arg-type]
        else:
            return self.eval_literal(kind, node)
        return self.validate(value, kind)

    def eval_literal(self, kind: str, node: Node) -> Any:
        t = type(node)
        if t is NilNode:
            if kind in (STRING, FLOAT, INT, BOOL):
                raise self.error(f"cannot assign nil to {kind}")
            return None
        if kind == ANY or kind not in (STRING, FLOAT, INT, BOOL):
            if t is StringNode:
                value: Any = node.text  # type: ignore[attr-defined]
            elif t is NumberNode:
                value = node.ideal  # type: ignore[attr-defined]
            else:
                value = node.value  # type: ignore[attr-defined]
            return value if kind == ANY else self.validate(value, kind)
        if kind == STRING and t is StringNode:
            return node.text  # type: ignore[attr-defined]
        if kind == FLOAT and t is NumberNode and node.is_float:  # type: ignore[attr-defined]
            return node.as_float  # type: ignore[attr-defined]
        if kind == INT and t is NumberNode and node.is_int:  # type: ignore[attr-defined]
            return node.as_int  # type: ignore[attr-defined]
        if kind == BOOL and t is BoolNode:
            return node.value  # type: ignore[attr-defined]
        expected = {STRING: "string", FLOAT: "float", INT: "integer", BOOL: "bool"}[kind]
        raise self.error(f"expected {expected}; found {node}")

    def validate(self, value: Any, kind: str) -> Any:
        if kind == ANY:
            return None if value is NO_VALUE else value
        if value is NO_VALUE or (value is None and kind in (STRING, FLOAT, INT, BOOL)):
            raise self.error(f"invalid value; expected {kind}")
        if kind == STRING:
            ok = isinstance(value, str)
        elif kind == FLOAT:
            if isinstance(value, int) and not isinstance(value, bool):
                return float(value)
            ok = isinstance(value, float)
        elif kind == INT:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == BOOL:
            ok = isinstance(value, bool)
        else:
            check = KIND_CHECKS.get(kind)
            ok = value is None or check is None or check(value)
        if not ok:
            raise self.error(f"wrong type for value; expected {kind}; got {go_type_name(value)}")
        return value

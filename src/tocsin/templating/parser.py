"""Parser for Go text/template syntax.

Produces one Tree per template name: the top level of the text under the
given name, plus one per ``{{define}}`` / ``{{block}}``. Checks at parse
time what Go checks: functions exist, variables are declared, ``break`` and
``continue`` sit inside ``range``, pipelines are well formed.
"""

from __future__ import annotations

from collections.abc import Container

from tocsin.gostrings import go_unquote
from tocsin.templating.errors import TemplateParseError
from tocsin.templating.gofmt import go_quote
from tocsin.templating.lexer import LexError, T, Token, lex
from tocsin.templating.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
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
    Source,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
)


def _parse_number(node: NumberNode) -> None:
    """Fill in a NumberNode's int/float views following Go's rules for constants."""
    text = node.text
    if text.endswith("i"):
        raise ValueError(f"complex constants are not supported: {text}")
    body = text.lstrip("+-").replace("_", "")
    value: int | None = None
    if not _is_float_text(text):
        try:
            if len(body) > 1 and body[0] == "0" and body.isdigit():
                value = int(body, 8)  # Go's legacy octal: 010 == 8
            else:
                value = int(body, 0)
        except ValueError:
            value = None
        if value is not None and text.startswith("-"):
            value = -value
    if value is not None:
        node.is_int = True
        node.as_int = value
        node.is_float = True
        node.as_float = float(value)
        node.ideal = value
        return
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            f = float.fromhex(text.replace("_", ""))
        else:
            if "_" in text and not _valid_underscores(text):
                raise ValueError
            f = float(text.replace("_", ""))
    except (ValueError, OverflowError):
        raise ValueError(f"illegal number syntax: {text!r}") from None
    node.is_float = True
    node.as_float = f
    node.ideal = f
    if f.is_integer():
        node.is_int = True
        node.as_int = int(f)


def _is_float_text(text: str) -> bool:
    lower = text.lower().lstrip("+-")
    if lower.startswith("0x"):
        return "." in lower or "p" in lower
    return any(c in lower for c in ".e")


def _valid_underscores(text: str) -> bool:
    return "__" not in text and not text.startswith("_") and not text.endswith("_")


class _Parser:
    def __init__(
        self, name: str, text: str, funcs: Container[str], predeclared: list[str] | None = None
    ) -> None:
        self.name = name
        self.src = Source(name, text)
        self.funcs = funcs
        try:
            self.tokens = lex(text)
        except LexError as exc:
            raise self._error_at(exc.message, exc.pos) from None
        self.i = 0
        self.vars: list[str] = ["$", *(predeclared or ())]
        self.range_depth = 0
        self.trees: dict[str, Tree] = {}

    # -- errors ------------------------------------------------------------

    def _error_at(self, message: str, pos: int) -> TemplateParseError:
        line, col = self.src.location(pos)
        return TemplateParseError(
            message,
            template=self.name,
            line=line,
            column=col,
            text=f"template: {self.name}:{line}:{col}: {message}",
        )

    def error(self, message: str, tok: Token | None = None) -> TemplateParseError:
        tok = tok or self.tokens[min(self.i, len(self.tokens) - 1)]
        return self._error_at(message, tok.pos)

    # -- token stream ------------------------------------------------------

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not T.EOF:
            self.i += 1
        return tok

    def peek(self) -> Token:
        return self.tokens[self.i]

    def backup(self) -> None:
        self.i -= 1

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.kind is T.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        j = self.i
        while self.tokens[j].kind is T.SPACE:
            j += 1
        self.i = j
        return self.tokens[j]

    def expect(self, kind: T, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind is not kind:
            raise self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Token, context: str) -> TemplateParseError:
        if tok.kind is T.EOF:
            return self.error("unexpected EOF", tok)
        desc = _describe(tok)
        return self.error(f"unexpected {desc} in {context}", tok)

    # -- top level ---------------------------------------------------------

    def parse(self) -> dict[str, Tree]:
        root = ListNode(0, self.src)
        while True:
            tok = self.peek()
            if tok.kind is T.EOF:
                break
            if tok.kind is T.LEFT:
                start = self.i
                self.next()
                kw = self.peek_non_space()
                if kw.kind is T.KEYWORD and kw.val == "define":
                    self.next()
                    self.parse_definition()
                    continue
                self.i = start
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                raise self.error(f"unexpected {node}", node.tok)
            if node is not None:
                root.nodes.append(node)
        tree = Tree(self.name, root, self.src)
        self.trees = {self.name: tree, **self.trees}
        return self.trees

    def parse_definition(self) -> None:
        tok = self.next_non_space()
        if tok.kind not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(tok, "define clause")
        name = self.unquote(tok)
        self.expect(T.RIGHT, "define clause")
        saved_vars = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, _End):
            raise self.error(f"unexpected {end} in definition", end.tok)
        self.add_tree(Tree(name, body, self.src, defined=True))

    def add_tree(self, tree: Tree) -> None:
        old = self.trees.get(tree.name)
        if old is not None and tree.is_empty() and not old.is_empty():
            return
        self.trees[tree.name] = tree

    def item_list(self) -> tuple[ListNode, _End | _Else]:
        tok = self.peek_non_space()
        body = ListNode(tok.pos, self.src)
        while True:
            tok = self.peek()
            if tok.kind is T.EOF:
                raise self.error("unexpected EOF", tok)
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                return body, node
            if node is not None:
                body.nodes.append(node)

    def text_or_action(self) -> Node | _End | _Else | None:
        tok = self.next()
        if tok.kind is T.TEXT:
            return TextNode(tok.pos, self.src, tok.val)
        if tok.kind is T.LEFT:
            return self.action(tok)
        raise self.unexpected(tok, "input")

    def action(self, left: Token) -> Node | _End | _Else | None:
        tok = self.next_non_space()
        if tok.kind is T.KEYWORD:
            kw = tok.val
            if kw == "if":
                return self.control(IfNode, "if", tok)
            if kw == "range":
                return self.range_control(tok)
            if kw == "with":
                return self.control(WithNode, "with", tok)
            if kw == "end":
                self.expect(T.RIGHT, "end")
                return _End(tok)
            if kw == "else":
                return self.else_control(tok)
            if kw == "template":
                return self.template_control(tok)
            if kw == "block":
                return self.block_control(tok)
            if kw == "break" or kw == "continue":
                if self.range_depth == 0:
                    raise self.error("{{" + kw + "}} outside {{range}}", tok)
                self.expect(T.RIGHT, kw)
                return (
                    BreakNode(tok.pos, self.src)
                    if kw == "break"
                    else ContinueNode(tok.pos, self.src)
                )
            if kw == "define":
                raise self.error("unexpected define: {{define}} is only allowed at top level", tok)
        if tok.kind is T.RIGHT:
            raise self.error("missing value for command", tok)
        self.backup()
        pipe = self.pipeline("command", T.RIGHT)
        return ActionNode(left.pos, self.src, pipe)

    def else_control(self, tok: Token) -> _Else:
        nxt = self.peek_non_space()
        if nxt.kind is T.KEYWORD and nxt.val in ("if", "with"):
            # "{{else if}}" is sugar for "{{else}}{{if}}...{{end}}" sharing one {{end}}.
            return _Else(tok, chained=nxt.val)
        self.expect(T.RIGHT, "else")
        return _Else(tok)

    def control(self, cls: type[BranchNode], context: str, tok: Token) -> BranchNode:
        mark = len(self.vars)
        pipe = self.pipeline(context, T.RIGHT)
        if context == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if context == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if isinstance(nxt, _Else):
            if nxt.chained == context:
                kw = self.next_non_space()
                else_list = ListNode(kw.pos, self.src)
                else_list.nodes.append(self.control(cls, context, kw))
            else:
                first = self.action(nxt.tok) if nxt.chained else None
                else_list, end = self.item_list()
                if not isinstance(end, _End):
                    raise self.error("expected end; found {{else}}", end.tok)
                if isinstance(first, Node):
                    else_list.nodes.insert(0, first)
        del self.vars[mark:]
        return cls(tok.pos, self.src, context, pipe, body, else_list)

    def range_control(self, tok: Token) -> BranchNode:
        return self.control(RangeNode, "range", tok)

    def template_control(self, tok: Token) -> TemplateNode:
        name_tok = self.next_non_space()
        if name_tok.kind not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(name_tok, "template clause")
        name = self.unquote(name_tok)
        pipe: PipeNode | None = None
        if self.next_non_space().kind is not T.RIGHT:
            self.backup()
            pipe = self.pipeline("template clause", T.RIGHT)
        return TemplateNode(tok.pos, self.src, name, pipe)

    def block_control(self, tok: Token) -> TemplateNode:
        name_tok = self.next_non_space()
        if name_tok.kind not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(name_tok, "block clause")
        name = self.unquote(name_tok)
        pipe: PipeNode | None = None
        if self.next_non_space().kind is not T.RIGHT:
            self.backup()
            pipe = self.pipeline("block clause", T.RIGHT)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved_vars, saved_depth
        if not isinstance(end, _End):
            raise self.error("unexpected {{else}} in block clause", end.tok)
        self.add_tree(Tree(name, body, self.src, defined=True))
        return TemplateNode(tok.pos, self.src, name, pipe)

    def unquote(self, tok: Token) -> str:
        try:
            return go_unquote(tok.val)
        except ValueError:
            raise self.error(f"invalid syntax: {tok.val}", tok) from None

    # -- pipelines ---------------------------------------------------------

    def pipeline(self, context: str, end: T) -> PipeNode:
        start = self.peek_non_space()
        pipe = PipeNode(start.pos, self.src)
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.kind is end:
                self.check_pipeline(pipe, context, tok)
                return pipe
            if tok.kind in (
                T.BOOL,
                T.CHAR,
                T.DOT,
                T.FIELD,
                T.IDENT,
                T.NUMBER,
                T.NIL,
                T.RAW_STRING,
                T.STRING,
                T.VARIABLE,
                T.LPAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command(end))
            else:
                raise self.unexpected(tok, context)

    def declarations(self, pipe: PipeNode, context: str) -> None:
        save = self.i
        v = self.peek_non_space()
        if v.kind is not T.VARIABLE:
            return
        self.next()
        tok = self.peek_non_space()
        if tok.kind in (T.DECLARE, T.ASSIGN):
            self.next()
            pipe.is_assign = tok.kind is T.ASSIGN
            pipe.decl.append(self.declare_var(v, pipe.is_assign))
            return
        if tok.kind is T.COMMA and context == "range":
            self.next()
            v2 = self.next_non_space()
            if v2.kind is not T.VARIABLE:
                raise self.error(f"range can only initialize variables, found {_describe(v2)}", v2)
            op = self.next_non_space()
            if op.kind not in (T.DECLARE, T.ASSIGN):
                raise self.error("expected := or = after range variables", op)
            pipe.is_assign = op.kind is T.ASSIGN
            pipe.decl.append(self.declare_var(v, pipe.is_assign))
            pipe.decl.append(self.declare_var(v2, pipe.is_assign))
            return
        if tok.kind is T.COMMA:
            raise self.error(f"too many declarations in {context}", tok)
        self.i = save

    def declare_var(self, tok: Token, is_assign: bool) -> VariableNode:
        if is_assign:
            if tok.val not in self.vars:
                raise self.error(f'undefined variable "{tok.val}"', tok)
        else:
            self.vars.append(tok.val)
        return VariableNode(tok.pos, self.src, [tok.val])

    def check_pipeline(self, pipe: PipeNode, context: str, tok: Token) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}", tok)
        for i, cmd in enumerate(pipe.cmds[1:], start=2):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self.error(f"non executable command in pipeline stage {i}", tok)

    def command(self, end: T) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos, self.src)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind is T.SPACE:
                continue
            if tok.kind is end or tok.kind is T.RPAREN:
                self.backup()
            elif tok.kind is T.PIPE:
                pass
            else:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind is T.FIELD:
            fields: list[str] = []
            first = self.peek()
            while self.peek().kind is T.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(node.pos, self.src, node.ident + fields)
            if isinstance(node, VariableNode):
                return VariableNode(node.pos, self.src, node.ident + fields)
            if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                raise self.error(f'unexpected . after term "{node}"', first)
            return ChainNode(node.pos, self.src, node, fields)
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        kind = tok.kind
        if kind is T.IDENT:
            if tok.val not in self.funcs:
                raise self.error(f'function "{tok.val}" not defined', tok)
            return IdentifierNode(tok.pos, self.src, tok.val)
        if kind is T.DOT:
            return DotNode(tok.pos, self.src)
        if kind is T.NIL:
            return NilNode(tok.pos, self.src)
        if kind is T.VARIABLE:
            if tok.val not in self.vars:
                raise self.error(f'undefined variable "{tok.val}"', tok)
            return VariableNode(tok.pos, self.src, [tok.val])
        if kind is T.FIELD:
            return FieldNode(tok.pos, self.src, [tok.val[1:]])
        if kind is T.BOOL:
            return BoolNode(tok.pos, self.src, tok.val == "true")
        if kind in (T.NUMBER, T.CHAR):
            return self.number(tok)
        if kind is T.LPAREN:
            pipe = self.pipeline("parenthesized pipeline", T.RPAREN)
            return pipe
        if kind in (T.STRING, T.RAW_STRING):
            return StringNode(tok.pos, self.src, tok.val, self.unquote(tok))
        self.backup()
        return None

    def number(self, tok: Token) -> NumberNode:
        node = NumberNode(tok.pos, self.src, tok.val)
        if tok.kind is T.CHAR:
            try:
                ch = go_unquote(tok.val)
            except ValueError:
                raise self.error(f"malformed character constant: {tok.val}", tok) from None
            node.is_int = node.is_float = True
            node.as_int = ord(ch)
            node.as_float = float(ord(ch))
            node.ideal = ord(ch)
            return node
        try:
            _parse_number(node)
        except ValueError as exc:
            raise self.error(str(exc), tok) from None
        return node


class _End:
    def __init__(self, tok: Token) -> None:
        self.tok = tok

    def __str__(self) -> str:
        return "{{end}}"


class _Else:
    def __init__(self, tok: Token, chained: str = "") -> None:
        self.tok = tok
        self.chained = chained

    def __str__(self) -> str:
        return "{{else}}"


def _describe(tok: Token) -> str:
    """A token as Go's parser names it in errors: <if>, "}}", "abc"."""
    if tok.kind is T.KEYWORD:
        return f"<{tok.val}>"
    if tok.kind is T.EOF:
        return "EOF"
    if len(tok.val) > 10:
        return go_quote(tok.val[:10]) + "..."
    return go_quote(tok.val)


def parse(
    name: str, text: str, funcs: Container[str], predeclared: list[str] | None = None
) -> dict[str, Tree]:
    """Parse template text. Returns the top-level tree under `name` plus every definition.

    `predeclared` names variables (besides `$`) the top level may use.
    """
    return _Parser(name, text, funcs, predeclared).parse()

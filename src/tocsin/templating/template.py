"""Template sets: named templates parsed once, executed many times."""

from __future__ import annotations

import contextlib
import glob as _glob
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tocsin.templating.builtins import BUILTINS
from tocsin.templating.errors import TemplateError, TemplateExecError
from tocsin.templating.execute import State
from tocsin.templating.funcs import GoFunc, describe
from tocsin.templating.nodes import Tree
from tocsin.templating.parser import parse

FuncMap = Mapping[str, Callable[..., Any] | GoFunc]

_MISSINGKEY = ("default", "invalid", "zero", "error")


class Template:
    """One named template of a set. Execute it with `execute(data)`."""

    __slots__ = ("name", "set")

    def __init__(self, name: str, tset: TemplateSet) -> None:
        self.name = name
        self.set = tset

    def execute(self, data: Any = None, *, html: bool = False) -> str:
        return self.set.execute(self.name, data, html=html)

    def __repr__(self) -> str:
        return f"Template({self.name!r})"


class TemplateSet:
    """A namespace of templates sharing functions, like a Go *template.Template.

    `funcs` adds to (and may override) Go's predefined functions.
    `missingkey` is Go's option: "default" (a missing map key yields
    ``<no value>``), "zero" (the map's zero value: "" for label maps), or
    "error". Text passed to `execute_text` is parsed once and cached.
    """

    def __init__(
        self,
        funcs: FuncMap | None = None,
        *,
        missingkey: str = "default",
        text_cache_size: int = 4096,
    ) -> None:
        if missingkey not in _MISSINGKEY:
            raise ValueError(f"unrecognized option missingkey={missingkey}")
        self.missingkey = "default" if missingkey == "invalid" else missingkey
        self._funcs: dict[str, GoFunc] = dict(BUILTINS)
        self._trees: dict[str, Tree] = {}
        self._text_cache: OrderedDict[tuple[str, frozenset[str]], dict[str, Tree]] = OrderedDict()
        self._text_cache_size = text_cache_size
        if funcs:
            self.add_funcs(funcs)

    # -- functions ------------------------------------------------------------

    @property
    def funcs(self) -> Mapping[str, GoFunc]:
        return self._funcs

    def add_funcs(self, funcs: FuncMap) -> TemplateSet:
        """Add or replace functions. Affects templates parsed afterwards too."""
        for name, fn in funcs.items():
            if not name.isidentifier():
                raise ValueError(f"function name {name!r} is not a valid identifier")
            self._funcs[name] = describe(name, fn)
        self._text_cache.clear()
        return self

    # -- parsing --------------------------------------------------------------

    def parse(self, name: str, text: str) -> Template:
        """Parse `text` as template `name`; its {{define}}s join the set.

        Raises TemplateParseError. A definition replaces an earlier one of
        the same name, except that an empty body never replaces a non-empty
        one (Go's rule, which lets a file of definitions have blank text).
        """
        trees = parse(name, text, self._funcs)
        for tname, tree in trees.items():
            old = self._trees.get(tname)
            if old is not None and tree.is_empty() and not old.is_empty():
                continue
            self._trees[tname] = tree
        self._text_cache.clear()
        return Template(name, self)

    def add_file(self, path: str | os.PathLike[str]) -> Template:
        """Parse a template file under its base name, like Go's ParseFiles."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"cannot read template file {p}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise TemplateError(f"template file {p} is not UTF-8: {exc}") from exc
        return self.parse(p.name, text)

    def add_glob(self, pattern: str) -> list[Template]:
        """Parse every file matching a glob; no match is not an error (Alertmanager's rule)."""
        return [self.add_file(path) for path in sorted(_glob.glob(pattern))]

    def lookup(self, name: str) -> Template | None:
        return Template(name, self) if name in self._trees else None

    def names(self) -> list[str]:
        return sorted(self._trees)

    def clone(self) -> TemplateSet:
        """An independent copy: later parses or funcs on either do not affect the other."""
        other = TemplateSet.__new__(TemplateSet)
        other.missingkey = self.missingkey
        other._funcs = dict(self._funcs)
        other._trees = dict(self._trees)  # trees are immutable once parsed
        other._text_cache = OrderedDict()
        other._text_cache_size = self._text_cache_size
        return other

    # -- execution ------------------------------------------------------------

    def execute(self, name: str, data: Any = None, *, html: bool = False) -> str:
        """Execute template `name` with `data` as dot. Raises TemplateExecError.

        `html=True` escapes every printed value for an HTML body unless it is
        a SafeHTML (what ``safeHtml`` returns).
        """
        tree = self._trees.get(name)
        if tree is None:
            raise TemplateExecError(
                f'no template "{name}" in this set',
                template=name,
                text=f'template: no template "{name}" associated with this set',
            )
        state = State(self._trees.get, self._funcs, name, self.missingkey, html, None, self)
        return state.run(tree, data)

    def execute_text(
        self,
        text: str,
        data: Any = None,
        *,
        name: str = "",
        html: bool = False,
        variables: Mapping[str, Any] | None = None,
        funcs: Mapping[str, GoFunc] | None = None,
        context: Any = None,
    ) -> str:
        """Parse (cached) and execute ad-hoc text that may call the set's templates.

        Definitions inside `text` are visible only to this text, as with
        Alertmanager's ExecuteTextString. `variables` predeclares template
        variables (names starting with "$") besides `$`. `funcs` replaces
        implementations of functions the set already has, for this call only
        (parsing depends only on their names). `context` is handed to
        state-aware functions (GoFunc.wants_state) as ``state.context``.
        """
        if text == "":
            return ""
        trees = self.parse_text(text, name=name, variables=variables)
        local = trees

        def lookup(tname: str) -> Tree | None:
            return local.get(tname) or self._trees.get(tname)

        call_funcs: Mapping[str, GoFunc] = self._funcs
        if funcs:
            unknown = funcs.keys() - self._funcs.keys()
            if unknown:
                raise ValueError(f"functions not in this set: {', '.join(sorted(unknown))}")
            call_funcs = {**self._funcs, **funcs}
        state = State(lookup, call_funcs, name, self.missingkey, html, context, self)
        return state.run(trees[name], data, variables)

    def parse_text(
        self, text: str, *, name: str = "", variables: Iterable[str] | None = None
    ) -> dict[str, Tree]:
        """Parse ad-hoc text once; later calls with the same text reuse the trees."""
        var_names = frozenset(variables or ())
        key = (name + "\0" + text, var_names)
        cache = self._text_cache
        trees = cache.get(key)
        if trees is not None:
            # Another thread may have evicted it meanwhile; the trees stay valid.
            with contextlib.suppress(KeyError):
                cache.move_to_end(key)
            return trees
        trees = parse(name, text, self._funcs, predeclared=sorted(var_names))
        cache[key] = trees
        if len(cache) > self._text_cache_size:
            with contextlib.suppress(KeyError):
                cache.popitem(last=False)
        return trees

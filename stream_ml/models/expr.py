"""Safe parsing of River model expressions written in configuration files.

A config names a model with a Python-looking expression such as
``"preprocessing.StandardScaler() | linear_model.LogisticRegression()"``. It is parsed with
:mod:`ast` and built by walking the tree: only River classes (``module.Class`` or
``module.sub.Class`` inside the ``river`` package), literal arguments (numbers, strings, booleans,
``None``, lists, tuples, dicts of literals), nested River constructors and the ``|`` (pipeline) and
``+`` (union) operators are allowed. Nothing is ever passed to ``eval``.

>>> model = parse_model("preprocessing.StandardScaler() | linear_model.LogisticRegression()")
>>> type(model).__name__
'Pipeline'
>>> parse_model("tree.HoeffdingTreeClassifier(grace_period=50, delta=1e-5)").grace_period
50
>>> parse_model("__import__('os').system('true')")
Traceback (most recent call last):
...
stream_ml.errors.ModelExpressionError: bad model expression "__import__('os').system('true')" \
at column 1: only River classes may be called, like tree.HoeffdingTreeClassifier(); \
got a call on an expression
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from functools import cache
from typing import Any

import river
import river.base

from stream_ml.errors import ModelExpressionError

_MAX_LENGTH = 2000


@cache
def _river_modules() -> frozenset[str]:
    names = {m.name for m in pkgutil.iter_modules(river.__path__) if not m.name.startswith("_")}
    return frozenset(names - _DENIED)


# modules whose classes touch files or the network when built or used: never from a config
_DENIED = {"datasets", "stream", "api", "compat", "conftest", "test_estimators", "checks"}


def parse_model(expression: str) -> Any:
    """Build a fresh River estimator from ``expression`` (see the module docstring)."""
    model = _Builder(expression, namespace=None).build()
    if not isinstance(model, river.base.Estimator):
        raise ModelExpressionError(expression, f"{type(model).__name__} is not a River estimator")
    return model


def parse_in(expression: str, module: str) -> Any:
    """Build an object from ``expression`` where bare names resolve inside ``river.<module>``.

    Used for metric names: ``parse_in("F1(pos_val=1)", "metrics")``.

    >>> type(parse_in("Accuracy", "metrics")).__name__
    'Accuracy'
    """
    return _Builder(expression, namespace=module).build()


class _Builder:
    def __init__(self, expression: str, namespace: str | None) -> None:
        self.expression = expression
        self.namespace = namespace

    def fail(self, node: ast.AST | None, reason: str) -> ModelExpressionError:
        col = getattr(node, "col_offset", None) if node is not None else None
        return ModelExpressionError(self.expression, reason, col)

    def build(self) -> Any:
        if not isinstance(self.expression, str) or not self.expression.strip():
            raise self.fail(None, "the expression is empty")
        if len(self.expression) > _MAX_LENGTH:
            raise self.fail(None, f"longer than {_MAX_LENGTH} characters")
        try:
            tree = ast.parse(self.expression.strip(), mode="eval")
        except SyntaxError as exc:
            col = (exc.offset or 1) - 1
            raise ModelExpressionError(self.expression, f"syntax error: {exc.msg}", col) from exc
        value = self.node(tree.body)
        if isinstance(value, type):
            if self.namespace is None:
                raise self.fail(
                    tree.body, f"{value.__name__} is a class; call it: {value.__name__}()"
                )
            value = self.instantiate(tree.body, value, [], {})
        return value

    def node(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            left, right = self.node(node.left), self.node(node.right)
            if isinstance(node.op, ast.BitOr):
                op = "|"
            elif isinstance(node.op, ast.Add):
                op = "+"
            else:
                raise self.fail(node, "only | (pipeline) and + (union) combine models")
            try:
                return left | right if op == "|" else left + right
            except Exception as exc:
                raise self.fail(node, f"cannot combine with {op}: {exc}") from exc
        if isinstance(node, ast.Name | ast.Attribute):
            return self.resolve(node)
        return self.literal(node)

    def literal(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = self.literal(node.operand)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(node, "a sign applies only to numbers")
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.argument(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.fail(node, "** in a dict literal is not allowed")
            return {self.literal(k): self.argument(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
        raise self.fail(
            node, f"{type(node).__name__} is not allowed; use literals and River classes"
        )

    def argument(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Call | ast.BinOp):
            return self.node(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.resolve(node)
        return self.literal(node)

    def dotted(self, node: ast.AST) -> list[str]:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f"private names are not allowed: {node.attr}")
            return [*self.dotted(node.value), node.attr]
        raise self.fail(
            node,
            "only River classes may be called, like tree.HoeffdingTreeClassifier(); "
            "got a call on an expression",
        )

    def resolve(self, node: ast.AST) -> Any:
        parts = self.dotted(node)
        if any(p.startswith("_") for p in parts):
            raise self.fail(node, f"private names are not allowed: {'.'.join(parts)}")
        if parts[0] == "river":
            parts = parts[1:]
        if self.namespace is not None and len(parts) == 1:
            parts = [self.namespace, *parts]
        if not parts or parts[0] not in _river_modules():
            raise self.fail(
                node,
                f"{'.'.join(parts) or 'river'!s} is not a River module or class; "
                f"write e.g. linear_model.LogisticRegression()",
            )
        obj: Any = importlib.import_module(f"river.{parts[0]}")
        for i, part in enumerate(parts[1:], start=1):
            nxt = getattr(obj, part, None)
            if nxt is None and inspect.ismodule(obj):
                try:
                    nxt = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    nxt = None
            if nxt is None:
                where = ".".join(parts[:i])
                raise self.fail(node, f"river.{where} has no {part!r}")
            obj = nxt
        if inspect.ismodule(obj):
            return obj
        if not (inspect.isclass(obj) and obj.__module__.split(".")[0] == "river"):
            raise self.fail(node, f"{'.'.join(parts)} is not a River class")
        return obj

    def call(self, node: ast.Call) -> Any:
        cls = self.resolve(node.func)
        if not inspect.isclass(cls):
            raise self.fail(node, f"{ast.unparse(node.func)} is a module, not a class")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.fail(node, "*args and **kwargs are not allowed")
        args = [self.argument(a) for a in node.args]
        kwargs = {k.arg: self.argument(k.value) for k in node.keywords if k.arg is not None}
        return self.instantiate(node, cls, args, kwargs)

    def instantiate(self, node: ast.AST, cls: type, args: list[Any], kwargs: dict[str, Any]) -> Any:
        try:
            inspect.signature(cls).bind(*args, **kwargs)
        except TypeError as exc:
            raise self.fail(node, f"{cls.__name__}: {exc}") from exc
        try:
            return cls(*args, **kwargs)
        except Exception as exc:
            raise self.fail(
                node, f"{cls.__name__}(...) raised {type(exc).__name__}: {exc}"
            ) from exc

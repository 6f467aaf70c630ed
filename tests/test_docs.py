"""The documentation is tested: every fenced block of README.md and docs/*.md is a case here.

One pytest case per block, named ``FILE:LINE`` (the line of its opening fence). By language:

* ``python``: executed with the repository root as the current directory, in a fresh
  namespace, with ``tempfile`` making its files under the case's ``tmp_path``. A block whose
  fence follows ``<!-- docs-test: continue -->`` builds on the file's previous python block and
  runs in that block's namespace (running it first when it has not run). A block that talks to
  ``127.0.0.1:8000`` runs against a real ``stream-ml serve``: the command of the nearest earlier
  bash block of its file that runs one (its ``export`` lines, e.g. ``STREAM_ML_TOKEN``, are the
  server's environment), with only the port rewritten, in the command and in the block.
  Tracebacks point at the Markdown file's own lines. **Printed values are checked**: on a line
  that prints, a trailing comment made of Python literals or JSON values (``# 60.0``,
  ``# 3 {'line': 300} ()``, ``# {"kind": "ack", "learned": true}``) is the expected output and must equal what that line printed; a comment equal to the printed
  text (``# bad_feedback label``) is checked too; other comments are prose.
* ``toml``: parsed. A complete config (one with ``[models...]``) is validated with
  ``parse_config`` and built with ``Engine.from_config``; when its ``[source]`` file exists, a
  replay of its first ``REPLAY_LIMIT`` records runs. A fragment is validated against its
  section's own model (``FeaturesConfig``, ``RouterConfig``, ``MonitorConfig``,
  ``SnapshotPolicyConfig``, ``ServeSettings``) and, wrapped into a config with two models
  ``lr`` and ``tree``, by ``parse_config`` and ``Engine.from_config`` (a ``[snapshots]`` store
  is opened under ``tmp_path``). A comment line ``# key = value; key = value   prose`` under a
  ``[table]`` is an alternative of that table and is validated the same way.
* ``bash`` / ``sh`` / ``shell`` / ``console``: not executed (the serve block above aside), but
  every ``stream-ml ...`` command named exists (``--help`` exits 0 through click's
  ``CliRunner``), every ``--option`` it names is one of that command's, a ``CONFIG`` argument
  that is a path in the repository loads, every ``python -m MODULE`` (and ``module:attr``)
  module can be found, and repository paths named (``examples/weather.toml``) exist.
* no language: text (a diagram, a directory layout). It must not look like code, and the
  directories a layout names at the start of its lines must exist.

No block is skipped silently: ``<!-- docs-test: skip (reason) -->`` right before a fence makes
that block's case a pytest skip with the reason; there may be at most ``MAX_SKIPS`` of them,
and ``test_skip_markers_are_few`` lists them. Any other language, marker or unclosed fence
fails ``test_every_block_has_a_handler``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import tokenize
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from pydantic import TypeAdapter

from stream_ml.cli import main as cli_main
from stream_ml.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
MAX_SKIPS = 3
REPLAY_LIMIT = 1000
WRAP_MODELS = {
    "lr": {"model": "preprocessing.StandardScaler() | linear_model.LogisticRegression()"},
    "tree": {"model": "tree.HoeffdingTreeClassifier()"},
}
SHELLS = {"bash", "sh", "shell", "console"}
DOC_PORT = "127.0.0.1:8000"

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)\s*(?:\((?P<reason>.*)\))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str  # dedented to the fence's indentation
    marker: str | None
    reason: str | None
    closed: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def collect(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the marker comment right before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        info = m["info"].strip()
        start, body, i = i, [], i + 1
        while i < len(lines) and not re.fullmatch(rf"\s*{fence[0]}{{{len(fence)},}}\s*", lines[i]):
            text = lines[i]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            i += 1
        mark = MARKER.match(lines[start - 1]) if start else None
        lang = info.split()[0].lower() if info else ""
        kind, reason = (mark["kind"], mark["reason"]) if mark else (None, None)
        code = "\n".join(body) + "\n"
        blocks.append(Block(path, start + 1, lang, code, kind, reason, i < len(lines)))
        i += 1
    return blocks


BLOCKS = [b for p in DOCS for b in collect(p)]


def _cases(pred: Callable[[Block], bool]) -> list[Any]:
    return [pytest.param(b, id=b.id) for b in BLOCKS if pred(b)]


def _skip_if_marked(block: Block) -> None:
    if block.marker == "skip":
        pytest.skip(f"docs-test: skip ({block.reason})")


# -- the inventory ------------------------------------------------------------------------------


def test_every_block_has_a_handler() -> None:
    assert len(DOCS) >= 2 and BLOCKS, "no documentation found"
    problems = []
    for b in BLOCKS:
        if not b.closed:
            problems.append(f"{b.id}: the fence is never closed")
        if b.lang not in {"python", "toml", "", "text", *SHELLS}:
            problems.append(f"{b.id}: no test handles ```{b.lang} blocks (add one, or a skip)")
        if b.marker not in (None, "skip", "continue"):
            problems.append(f"{b.id}: unknown marker docs-test: {b.marker}")
        if b.marker == "skip" and not (b.reason or "").strip():
            problems.append(f"{b.id}: a skip marker needs its reason: skip (why)")
        if b.marker == "continue" and (b.lang != "python" or _previous_python(b) is None):
            problems.append(f"{b.id}: 'continue' needs an earlier python block in its file")
    for path in DOCS:  # a marker that is not right before a fence tests nothing
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, text in enumerate(lines):
            if MARKER.match(text) and not (n + 1 < len(lines) and FENCE.match(lines[n + 1])):
                problems.append(f"{path.relative_to(ROOT)}:{n + 1}: marker not before a fence")
    assert not problems, "\n".join(problems)


def test_skip_markers_are_few() -> None:
    skipped = [f"{b.id} ({b.reason})" for b in BLOCKS if b.marker == "skip"]
    print("skipped blocks:", skipped or "none")
    assert len(skipped) <= MAX_SKIPS, f"too many skipped blocks: {skipped}"


# -- python -------------------------------------------------------------------------------------

_NAMESPACES: dict[str, dict[str, Any]] = {}


def _previous_python(block: Block) -> Block | None:
    earlier = [b for b in BLOCKS if b.path == block.path and b.lang == "python"]
    earlier = [b for b in earlier if b.line < block.line]
    return earlier[-1] if earlier else None


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return json.loads(text)  # a JSON value, as the server examples show their answers


def _literals(text: str) -> list[Any] | None:
    """``text`` read as Python literals (or JSON values) separated by spaces, else None."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text.strip():
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == " " and depth == 0 and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    try:
        return [_literal(p) for p in parts if p]
    except ValueError:  # json.JSONDecodeError too
        return None


def _comments(code: str, first: int) -> dict[int, str]:
    """Trailing comments by Markdown line number."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT and tok.line[: tok.start[1]].strip():
            out[first + tok.start[0]] = tok.string[1:].strip()
    return out


class _Observe(ast.NodeTransformer):
    """``print(...)`` reports what it prints, and a top-level expression its value, with the
    line the call or expression ends on (where its trailing comment is)."""

    def __init__(self) -> None:
        self.print_lines: set[int] = set()

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "print":
            line = node.end_lineno or node.lineno
            self.print_lines.add(line)
            node.func = ast.Name("__docs_print__", ast.Load())
            node.keywords.append(ast.keyword("docs_line", ast.Constant(line)))
        return node

    def observe(self, tree: ast.Module) -> ast.Module:
        tree = self.visit(tree)
        for i, stmt in enumerate(tree.body):
            value = stmt.value if isinstance(stmt, ast.Expr) else None
            if value is not None and not (
                isinstance(value, ast.Call) and getattr(value.func, "id", "") == "__docs_print__"
            ):
                line = ast.Constant(stmt.end_lineno or stmt.lineno)
                call = ast.Call(ast.Name("__docs_value__", ast.Load()), [value, line], [])
                tree.body[i] = ast.copy_location(ast.Expr(call), stmt)
        return ast.fix_missing_locations(tree)


def _check_outputs(block: Block, code: str, shown: dict[int, list[Any]], prints: set[int]) -> None:
    """A comment made of literals is the expected output of its line (module docstring)."""
    wrong = []
    for line, comment in _comments(code, block.line).items():
        want = _literals(comment)
        if line not in shown:
            if want is not None and line in prints:
                wrong.append(f"line {line}: never printed; the comment says {comment!r}")
            continue
        for kind, got in shown[line]:
            if kind == "print" and got.strip() == comment:
                continue
            if want is None:
                continue
            if (_literals(got) if kind == "print" else [got]) != want:
                wrong.append(f"line {line}: {kind} {got!r}; the comment says {comment!r}")
    assert not wrong, "\n".join(wrong)


def _run_python(block: Block, code: str) -> dict[str, Any]:
    """Run ``code`` (the block's text, maybe with its port rewritten) in its namespace."""
    if block.marker == "continue":
        prev = _previous_python(block)
        assert prev is not None
        if prev.id not in _NAMESPACES:
            _run_python(prev, prev.code)
        ns = dict(_NAMESPACES[prev.id])
    else:
        ns = {"__name__": "__main__"}  # as when a reader runs the block as a script
    shown: dict[int, list[Any]] = {}

    def docs_print(*args: Any, docs_line: int, sep: str | None = " ", end: str | None = "\n",
                   file: Any = None, flush: bool = False) -> None:  # fmt: skip
        if file is None:
            text = (" " if sep is None else sep).join(map(str, args))
            shown.setdefault(docs_line, []).append(("print", text))
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)

    def docs_value(value: Any, docs_line: int) -> None:
        shown.setdefault(docs_line, []).append(("value", value))

    ns.update(__docs_print__=docs_print, __docs_value__=docs_value)
    # leading newlines make the block's line numbers the Markdown file's: the traceback shows
    # the Markdown lines (pytest's own would print the whole file up to the failing line)
    observe = _Observe()
    tree = observe.observe(ast.parse("\n" * block.line + code, str(block.path)))
    try:
        exec(compile(tree, str(block.path), "exec"), ns)
    except Exception as exc:
        pytest.fail(f"{block.id} raised:\n{''.join(traceback.format_exception(exc))}", False)
    _check_outputs(block, code, shown, observe.print_lines)
    _NAMESPACES[block.id] = ns
    return ns


@pytest.fixture
def docs_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Repository root as the current directory; temporary files under ``tmp_path``."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _needs_server(block: Block) -> bool:
    return DOC_PORT in block.code or "localhost:8000" in block.code


@pytest.mark.parametrize("block", _cases(lambda b: b.lang == "python" and not _needs_server(b)))
def test_python_block(block: Block, docs_cwd: Path) -> None:
    _skip_if_marked(block)
    _run_python(block, block.code)


# -- python blocks against a live server ---------------------------------------------------------


def _serve_block(block: Block) -> Block:
    found = [
        b
        for b in BLOCKS
        if b.path == block.path and b.lang in SHELLS and b.line < block.line
        and any(cmd[:2] == ["stream-ml", "serve"] for _, cmd in _commands(b.code))
    ]  # fmt: skip
    assert found, f"{block.id} needs a server: no earlier bash block of its file runs one"
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[[Block], int]]:
    """``start(bash_block) -> port``: that block's ``stream-ml serve`` command, really run in a
    subprocess on a free loopback port (a fresh server per case: none sees another's state),
    with the block's ``export`` lines as its environment; stopped at the end of the case."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(bash: Block) -> int:
        env, cmd = {}, None
        for assigns, words in _commands(bash.code):
            env.update(assigns)
            if words[:2] == ["stream-ml", "serve"]:
                cmd = words
        assert cmd is not None
        port, args = _free_port(), list(cmd[1:])
        if "--port" in args:
            args[args.index("--port") + 1] = str(port)
        else:
            args += ["--port", str(port)]
        log_path = tmp_path / f"serve-{port}.log"
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            procs.append(subprocess.Popen([sys.executable, "-m", "stream_ml.cli", *args],
                                          cwd=ROOT, env={**os.environ, **env},
                                          stdout=log, stderr=log))  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return port
            except httpx.TransportError:
                pass
            text = log_path.read_text(errors="replace")
            assert procs[-1].poll() is None, f"stream-ml {' '.join(args)} exited:\n{text}"
            assert time.monotonic() < deadline, f"stream-ml serve did not start:\n{text}"
            time.sleep(0.1)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("block", _cases(lambda b: b.lang == "python" and _needs_server(b)))
def test_python_block_against_the_server(
    block: Block, docs_cwd: Path, server: Callable[[Block], int]
) -> None:
    _skip_if_marked(block)
    port = server(_serve_block(block))
    code = block.code.replace(DOC_PORT, f"127.0.0.1:{port}")
    _run_python(block, code.replace("localhost:8000", f"localhost:{port}"))


# -- toml ---------------------------------------------------------------------------------------


def _alternatives(code: str) -> list[tuple[str, dict[str, Any]]]:
    """``# key = value; key = value   prose`` comment lines under a ``[table]`` header."""
    out, table = [], None
    for text in code.splitlines():
        header = re.match(r"^\s*(\[\[?)\s*([\w.]+)\s*\]", text)
        if header:
            table = header[2] if header[1] == "[" else None
            continue
        m = re.match(r"^\s*#\s*([A-Za-z_]\w*\s*=.*)$", text)
        if m:
            assert table is not None, f"an alternative outside a [table]: {text!r}"
            body = re.split(r"\s{2,}", m[1].strip())[0].replace(";", "\n")
            out.append((table, tomllib.loads(body)))
    return out


def _check_sections(doc: dict[str, Any]) -> None:
    """Each section against its own model (the config's validators build some of them)."""
    from stream_ml.experiments import RouterConfig
    from stream_ml.features import FeaturesConfig
    from stream_ml.serve.settings import ServeSettings
    from stream_ml.snapshots.policy import SnapshotPolicyConfig
    from stream_ml.stages.monitoring import MonitorConfig

    if "features" in doc:
        FeaturesConfig.from_toml_dict(doc)
    if "router" in doc:
        TypeAdapter(RouterConfig).validate_python(doc["router"])
    for monitor in doc.get("drift", []):
        MonitorConfig.model_validate(monitor)
    if "snapshots" in doc:
        fields = SnapshotPolicyConfig.model_fields
        SnapshotPolicyConfig.model_validate(
            {k: v for k, v in doc["snapshots"].items() if k in fields}
        )
    if "serve" in doc:
        ServeSettings.model_validate(doc["serve"])


def _writing_under(cfg: Any, tmp_path: Path) -> Any:
    """``cfg`` with its sinks and snapshot store in ``tmp_path`` (the replay reads the repo)."""
    sinks = [s.model_copy(update={"path": str(tmp_path / Path(s.path).name)})
             if hasattr(s, "path") else s for s in cfg.sinks]  # fmt: skip
    snaps = cfg.snapshots
    if snaps is not None:
        snaps = snaps.model_copy(update={"path": str(tmp_path / Path(snaps.path).name)})
    return cfg.model_copy(update={"sinks": sinks, "snapshots": snaps})


def _check_config(doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stream_ml import Engine
    from stream_ml.runtime.build import build_replay, close_replay, open_snapshots

    _check_sections(doc)
    complete = "models" in doc
    cfg = parse_config(doc if complete else {"models": WRAP_MODELS, **doc}, where="docs block")
    monkeypatch.setenv(cfg.snapshots.key_env if cfg.snapshots else "STREAM_ML_SNAPSHOT_KEY", "k")
    source = getattr(cfg.source, "path", None)
    if complete and source is not None and (ROOT / source).exists():
        monkeypatch.chdir(ROOT)
        replay = build_replay(_writing_under(cfg, tmp_path))
        try:
            summary = replay.run(limit=REPLAY_LIMIT)
        finally:
            close_replay(replay)
        assert summary["events"] > 0 and summary["errors"]["total"] == 0, summary["errors"]
        for name, model in summary["models"].items():
            assert set(model["metrics"]) == set(cfg.evaluation.metrics), name
        return
    monkeypatch.chdir(tmp_path)  # a fragment's relative paths (a snapshot store) land here
    engine = Engine.from_config(cfg)
    stage = open_snapshots(cfg, engine)
    if stage is not None:
        stage.close()


@pytest.mark.parametrize("block", _cases(lambda b: b.lang == "toml"))
def test_toml_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_if_marked(block)
    doc = tomllib.loads(block.code)
    _check_config(doc, tmp_path, monkeypatch)
    for table, alternative in _alternatives(block.code):
        _check_config({**doc, table: alternative}, tmp_path, monkeypatch)


# -- shell --------------------------------------------------------------------------------------


def _commands(code: str) -> list[tuple[dict[str, str], list[str]]]:
    """The simple commands of a shell block: (its VAR=value assignments, its words)."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        words: list[str] = []
        for word in [*shlex.split(line, comments=True), "&&"]:
            if word in {"&&", "||", "|", "&", ";"} or word.endswith(";"):
                if word.endswith(";") and len(word) > 1:
                    words.append(word[:-1])
                if words:
                    assigns = {}
                    if words[0] == "export":
                        words = words[1:]
                    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
                        k, _, v = words.pop(0).partition("=")
                        assigns[k] = v
                    out.append((assigns, words))
                words = []
            else:
                words.append(word)
    return out


def _cli_paths(words: list[str]) -> list[tuple[list[str], click.Command]]:
    """Every command path a ``stream-ml`` line names (``list|show`` names several)."""
    paths: list[tuple[list[str], click.Command]] = [([], cli_main)]
    for word in (w.strip("[]") for w in words):
        group = paths[0][1]
        if not isinstance(group, click.Group) or word.startswith("-"):
            break
        names = word.split("|")
        for name in names:
            assert name in group.commands, f"stream-ml {' '.join(paths[0][0])}: no {name!r}"
        paths = [([*p, n], group.commands[n]) for p, _ in paths for n in names]
    return paths


def _check_stream_ml(words: list[str]) -> None:
    runner = CliRunner()
    for path, command in _cli_paths(words[1:]):
        result = runner.invoke(cli_main, [*path, "--help"])
        assert result.exit_code == 0, f"stream-ml {' '.join(path)} --help: {result.output}"
        rest = [w.strip("[]") for w in words[1 + len(path) :]]
        if isinstance(command, click.Group):  # only its own options, e.g. --version
            missing = f"stream-ml {' '.join(path)}: which subcommand?"
            assert rest and all(w.startswith("-") for w in rest), missing
        opts = {"--help", *(o for p in command.params for o in (*p.opts, *p.secondary_opts))}
        for word in (w.strip("[]") for w in words):
            if word.startswith("--"):
                assert word.split("=")[0] in opts, f"stream-ml {' '.join(path)}: no {word}"
        args = [w for w in words[1 + len(path) :] if not w.startswith(("-", "["))]
        if path[-1:] in (["run"], ["serve"]) and args and (ROOT / args[0]).is_file():
            load_config(ROOT / args[0])


def _check_paths(words: list[str]) -> None:
    for word in words:
        w = word.strip("[]'\"")
        if re.fullmatch(r"[\w.-]+(/[\w.-]+)+\.(toml|json|py|gz|csv|jsonl|md)", w):
            assert (ROOT / w).exists(), f"{w} does not exist in the repository"


def _check_python(words: list[str]) -> None:
    if "-m" not in words:
        return
    module = words[words.index("-m") + 1]
    assert importlib.util.find_spec(module) is not None, f"python -m {module}: no such module"
    for word in words:
        if re.fullmatch(r"stream_ml(\.\w+)+:\w+", word):
            mod = word.split(":")[0]
            assert importlib.util.find_spec(mod) is not None, f"{word}: no module {mod}"


@pytest.mark.parametrize("block", _cases(lambda b: b.lang in SHELLS))
def test_shell_block(block: Block) -> None:
    _skip_if_marked(block)
    commands = _commands(block.code)
    assert commands, "a shell block with no command"
    with contextlib.chdir(ROOT):
        for _, words in commands:
            if not words:
                continue
            _check_paths(words)
            if words[0] == "stream-ml":
                _check_stream_ml(words)
            elif words[0] in {"python", "python3"}:
                _check_python(words)


# -- text ---------------------------------------------------------------------------------------

CODE_LIKE = re.compile(r"^\s*(\$ |>>> |stream-ml |python |pip |import \w|from \w+ import )")


@pytest.mark.parametrize("block", _cases(lambda b: b.lang == ""))
def test_text_block(block: Block) -> None:
    _skip_if_marked(block)
    code_like = [t for t in block.code.splitlines() if CODE_LIKE.match(t)]
    assert not code_like, f"looks like code: give the fence its language: {code_like}"
    for text in block.code.splitlines():
        m = re.match(r"^([\w.-]+/)\s", text)  # a directory layout: its top-level folders
        if m:
            assert (ROOT / m[1]).is_dir(), f"{m[1]} is not a directory of the repository"


@pytest.mark.parametrize("block", _cases(lambda b: b.lang == "text"))
def test_captured_output_block(block: Block) -> None:
    """A ```text block is captured output (a session, a report): its ``$ stream-ml ...`` lines
    name subcommands and options that exist, and a captured run report has the columns the
    command prints today."""
    _skip_if_marked(block)
    assert block.code.strip(), "an empty output block"
    for text in block.code.splitlines():
        if text.startswith("$ stream-ml "):
            words = shlex.split(text[2:], comments=True)
            _check_stream_ml(words)
    for text in block.code.splitlines():
        if re.match(r"^\s*model\s+role\s", text):  # the run report's table header
            for column in ("served", "scored", "learned"):
                assert column in text.split(), f"the captured report has no {column!r} column"


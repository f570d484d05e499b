"""Static checks on a submission's own cells: what honest answers never do.

A sandbox keeps a submission away from the course, but not from the interpreter it shares
with the tests. So before execution the grader reads every cell the learner could edit (the
solution cells and any cell they added) with Python's ``ast`` and flags:

* assignments to attributes of imported modules and objects (``np.allclose = ...``,
  ``torch.Tensor.__eq__ = ...``), ``setattr``/``delattr`` on them, writes to ``sys.modules``
  or ``os.environ``, and anything done through ``builtins``;
* hooks into IPython (``get_ipython()`` beyond a few harmless line magics) and into the
  interpreter (``sys.excepthook``, tracing, audit hooks);
* classes whose comparison methods ignore what they compare with, or that claim to be arrays
  (``__array_ufunc__``, ``__torch_function__``);
* ``exec``/``eval``/``compile``/``__import__``, ``ctypes``, ``gc``, frame introspection,
  processes, sockets and databases;
* string literals naming a path outside the submission's folder or a course folder;
* for exercises that say "from scratch": any use of what the source notebook's solution cell
  forbids (its metadata ``rnnkit.forbid``, a list of dotted names such as ``torch.nn.LSTM``).

Each finding is a :class:`Flag` with the cell it is in and a sentence for the instructor.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

COMPARISONS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}
IMPERSONATION = {"__array_ufunc__", "__array_function__", "__array_priority__",
                 "__torch_function__", "__instancecheck__", "__subclasscheck__"}
DYNAMIC = {"exec", "eval", "compile", "__import__", "globals", "breakpoint"}
MODULES = {"ctypes": "calls C directly", "cffi": "calls C directly", "gc": "walks live objects",
           "inspect": "inspects the caller's frames", "importlib": "imports dynamically",
           "builtins": "can replace Python's builtins", "IPython": "can hook the kernel",
           "ipykernel": "can hook the kernel", "subprocess": "starts processes",
           "multiprocessing": "starts processes", "socket": "opens network connections",
           "sqlite3": "opens databases", "signal": "handles signals (timeouts)",
           "pty": "starts terminals", "resource": "changes resource limits",
           "threading": "starts threads", "atexit": "runs code at exit",
           "sys": None, "os": None}  # sys and os are fine; some of their parts are not
NAMES = {"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
         "sys.addaudithook", "sys.excepthook", "sys.displayhook", "sys.modules", "sys.stdout",
         "sys.stderr", "sys.meta_path", "sys.path_hooks", "os.system", "os.popen", "os.fork",
         "os.forkpty", "os.kill", "os.killpg", "os.setsid", "os.dup2", "os.close",
         "os.closerange", "os.environ", "os.execv", "os.execve", "os.execvp", "os.spawnv",
         "os.posix_spawn", "os.chdir", "os.listdir", "os.scandir", "os.walk"}
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame",
               "cr_frame", "__globals__", "__closure__", "__subclasses__", "__builtins__",
               "__code__", "__self__", "__mro__", "__bases__"}
SAFE_MAGICS = {"time", "timeit", "matplotlib"}
COURSE_WORDS = ("solutions", "gradebook", "nbgrader_config", "autograded", "submitted",
                "feedback", "release", ".ipynb")


@dataclass(frozen=True)
class Flag:
    """One reason to review a submission: where, and what, in a sentence."""

    cell: int           # index of the notebook cell
    reason: str


def to_python(source: str) -> str:
    """A cell's source as plain Python (IPython's % and ! syntax turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def imported_names(tree: ast.AST) -> dict[str, str]:
    """Names bound by imports in `tree` -> the dotted name they stand for."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def dotted(node: ast.AST, names: dict[str, str]) -> str | None:
    """``np.linalg.norm`` -> ``numpy.linalg.norm`` when its root is an imported name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "getattr" and len(node.args) >= 2 and \
            isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        parts.append(node.args[1].value)  # getattr(torch.nn, "LSTM") is torch.nn.LSTM
        return dotted(node.args[0], names) and ".".join([dotted(node.args[0], names),
                                                          *reversed(parts)])
    if isinstance(node, ast.Name) and node.id in names:
        return ".".join([names[node.id], *reversed(parts)])
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return ".".join(["builtins", *reversed(parts)])
    return None


def _uses(function: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(function))


def _ignores_other(function: ast.AST) -> bool:
    """A comparison method (def or lambda) that never reads its second argument."""
    args = function.args.args
    if len(args) < 2:
        return True
    body = function.body if isinstance(function.body, list) else [function.body]
    return not any(_uses(stmt, args[1].arg) for stmt in body)


def _path_like(text: str) -> bool:
    """A string that names a file outside the submission's folder, or a course file."""
    if any(ch.isspace() for ch in text):
        return False
    return text.startswith(("/", "~/", "../")) or "/../" in text or text.endswith(".ipynb") \
        or any(w in text.split("/") for w in COURSE_WORDS) or "gradebook" in text


class _Checker(ast.NodeVisitor):
    def __init__(self, names: dict[str, str], forbid: tuple[str, ...]):
        self.names, self.forbid, self.found = names, forbid, []

    def flag(self, reason: str):
        if reason not in self.found:
            self.found.append(reason)

    # imports --------------------------------------------------------------------------------
    def _module(self, name: str):
        top = name.split(".")[0]
        why = MODULES.get(top)
        if why:
            self.flag(f"imports {top}, which {why}")
        self._forbidden(name)

    def visit_Import(self, node):
        for a in node.names:
            self._module(a.name)

    def visit_ImportFrom(self, node):
        if node.level:
            self.flag("uses a relative import")
        for a in node.names:
            self._module(f"{node.module}.{a.name}")
            if node.module in ("sys", "os") and f"{node.module}.{a.name}" in NAMES:
                self.flag(f"imports {node.module}.{a.name}")

    # names and attributes -------------------------------------------------------------------
    def _forbidden(self, name: str | None):
        for f in self.forbid:
            if name and (name == f or name.startswith(f + ".")):
                self.flag(f"uses {name}, which this from-scratch exercise may not call")

    def visit_Name(self, node):
        if node.id in DYNAMIC:
            self.flag(f"calls {node.id}(), which runs code the grader cannot read")
        elif node.id == "get_ipython":
            self.flag("uses get_ipython(), which can hook the kernel that runs the tests")
        elif node.id in ("setattr", "delattr", "vars"):
            pass  # judged at the call, by what it is applied to
        self._forbidden(self.names.get(node.id))

    def visit_Attribute(self, node):
        name = dotted(node, self.names)
        if name in NAMES:
            self.flag(f"uses {name}")
        if name and name.split(".")[0] == "builtins":
            self.flag(f"uses {name} through builtins")
        if node.attr in FRAME_ATTRS:
            self.flag(f"reads .{node.attr}, which reaches into other code's internals")
        if node.attr in ("custom_exceptions", "set_custom_exc", "input_transformers_post",
                         "input_transformers_cleanup", "ast_transformers", "events"):
            self.flag(f"touches IPython's {node.attr}")
        self._forbidden(name)
        self.generic_visit(node)

    # writes ---------------------------------------------------------------------------------
    def _target(self, target):
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._target(t)
        elif isinstance(target, ast.Attribute):
            owner = dotted(target.value, self.names)
            if owner:
                self.flag(f"assigns {owner}.{target.attr}, an attribute of {owner}, which it "
                          f"did not define")
            elif target.attr.startswith("__") and target.attr.endswith("__"):
                self.flag(f"assigns {target.attr} on an object")
        elif isinstance(target, ast.Subscript):
            owner = dotted(target.value, self.names)
            if owner:
                self.flag(f"writes into {owner}")

    def visit_Assign(self, node):
        for t in node.targets:
            self._target(t)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._target(t)
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            owner = dotted(node.args[0], self.names)
            if owner or not isinstance(node.args[0], ast.Name):
                self.flag(f"calls {func.id}() on {owner or 'an object it did not make'}")
        if isinstance(func, ast.Attribute) and func.attr in (
                "update", "pop", "setdefault", "__setitem__", "clear", "popitem") and \
                dotted(func.value, self.names) in ("sys.modules", "os.environ"):
            self.flag(f"changes {dotted(func.value, self.names)}")
        if isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic",
                                                              "system", "getoutput"):
            magic = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) \
                else None
            if func.attr == "run_line_magic" and magic in SAFE_MAGICS and \
                    isinstance(func.value, ast.Call) and \
                    getattr(func.value.func, "id", None) == "get_ipython":
                for arg in node.args[1:]:
                    self.visit(arg)  # `%time f(x)`: check f(x), not the magic itself
                return
        self.generic_visit(node)

    # classes --------------------------------------------------------------------------------
    def _method(self, name: str, function):
        if name in COMPARISONS and _ignores_other(function):
            self.flag(f"defines {name} that ignores what it is compared with")
        elif name in IMPERSONATION:
            self.flag(f"defines {name}, which lets an object pass for an array or a type")
        elif name in ("__bool__", "__len__", "__float__", "__abs__") and isinstance(
                function, (ast.FunctionDef, ast.Lambda)):
            body = function.body if isinstance(function.body, list) else \
                [ast.Return(function.body)]
            if all(isinstance(s, ast.Return) and isinstance(s.value, ast.Constant)
                   for s in body if not isinstance(s, ast.Expr)):
                self.flag(f"defines {name} that returns a constant")

    def visit_ClassDef(self, node):
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._method(stmt.name, stmt)
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
                for t in stmt.targets:
                    if isinstance(t, ast.Name):
                        self._method(t.id, stmt.value)
        self.generic_visit(node)

    def visit_Dict(self, node):  # type("A", (), {"__eq__": lambda s, o: True})
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and isinstance(value, ast.Lambda) and \
                    key.value in COMPARISONS | IMPERSONATION:
                self._method(key.value, value)
        self.generic_visit(node)

    # strings --------------------------------------------------------------------------------
    def visit_Constant(self, node):
        if isinstance(node.value, str) and 2 < len(node.value) < 500 and "\n" not in node.value \
                and _path_like(node.value.strip()):
            self.flag(f"names the path {node.value.strip()!r}, outside its own folder")


def check_cells(cells: list[tuple[int, str, bool, tuple[str, ...]]]) -> list[Flag]:
    """Flags for a notebook's code cells, given as (index, source, is_student, forbid).

    Imports are tracked across all cells in order (cells share one namespace), but only the
    learner's own cells are judged. A cell that is not valid Python is not judged: it fails
    when it runs, which is its own penalty.
    """
    names: dict[str, str] = {}
    flags = []
    for index, source, student, forbid in cells:
        try:
            tree = ast.parse(to_python(source))
        except (SyntaxError, ValueError):
            continue
        names.update(imported_names(tree))
        if student:
            checker = _Checker(names, tuple(forbid))
            checker.visit(tree)
            flags += [Flag(index, reason) for reason in checker.found]
    return flags

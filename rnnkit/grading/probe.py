"""Checks at run time, from the grader's side: a probe run in the kernel before every test cell.

The grader sends :func:`source` as an extra execute request (not part of the notebook, not in
its history) before the first cell, before each test cell and after the last cell. The probe
reports the state that tampering changes:

* IPython's machinery: custom exception handlers, event callbacks, input and AST
  transformers, methods replaced on the shell, ``sys.excepthook`` / ``displayhook``, and the
  output streams (a test's failure is only seen through them);
* attributes of the modules the tests rely on (builtins, numpy, torch, rnnkit, ...): any
  function defined in a notebook cell, and the identity of every callable, which the grader
  compares with what it saw the first time (a new object from another package is a flag);
* classes defined in the notebook whose comparison methods never read their second
  argument.

It answers on stdout with a random nonce, and writes the nonce to the audit pipe as well. A
probe that does not answer, or whose nonce never reaches the pipe, means the kernel's output
or the audit hook was tampered with; that is a flag too. A determined attacker who controls
the interpreter could still forge an answer; the static checks (tamper.py) flag the known
ways to get that control, so forging needs code the grader has already flagged.
"""
from __future__ import annotations

import json
import secrets

WATCHED = ("builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "torch", "torch.nn",
           "torch.nn.functional", "torch.testing", "rnnkit")

_TEMPLATE = r'''
def __rnnkit_probe(nonce, watched):
    import dis as _dis, json as _json, os as _os, re as _re, sys as _sys, types as _types
    cell = _re.compile(r"ipykernel_\d+/\d+\.py$|^<ipython-input-").search
    shell = get_ipython()
    def describe(f):  # what a hook is, stable across executions (bound methods are remade)
        f = getattr(f, "__func__", f)
        kind = f if isinstance(f, (type, _types.FunctionType, _types.BuiltinFunctionType)) \
            else type(f)
        where = "cell" if isinstance(f, _types.FunctionType) and cell(f.__code__.co_filename) \
            else getattr(kind, "__module__", "?")
        return where + ":" + getattr(kind, "__qualname__", "?")
    out = {"custom_exc": [getattr(t, "__name__", str(t)) for t in shell.custom_exceptions],
           "callbacks": sorted(k + ": " + describe(f) for k, v in shell.events.callbacks.items()
                               for f in v),
           "transformers": [len(shell.input_transformers_cleanup),
                            len(shell.input_transformers_post), len(shell.ast_transformers)],
           "shell_overrides": sorted(k for k, v in vars(shell).items()
                                     if callable(v) and not k.startswith("_trait")
                                     and isinstance(v, _types.FunctionType)),
           "hooks": [describe(_sys.excepthook), describe(_sys.displayhook)],
           "streams": [type(_sys.stdout).__name__, type(_sys.stderr).__name__],
           "defined_in_cells": [], "ids": {}, "comparisons": []}
    def from_cell(value):
        if not isinstance(value, (_types.FunctionType, _types.MethodType)):
            return False  # only Python functions come from cells (and torch.ops answers anything)
        code = getattr(value, "__code__", None) or value.__func__.__code__
        return bool(cell(code.co_filename))
    for name, module in list(_sys.modules.items()):
        if not (name in watched or name.startswith("rnnkit.")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) or isinstance(value, _types.ModuleType):
                where = getattr(value, "__module__", None) or getattr(value, "__name__", "")
                out["ids"][name + "." + attr] = [id(getattr(value, "__func__", value)),
                                                 str(where).split(".")[0]]
                if from_cell(value):
                    out["defined_in_cells"].append(name + "." + attr)
    for cls in [v for v in list(shell.user_ns.values()) if isinstance(v, type)]:
        for meth in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            f = cls.__dict__.get(meth)
            if not from_cell(f):
                continue
            code = f.__code__
            reads = {i.argval for i in _dis.get_instructions(code)
                     if i.opname.startswith("LOAD_FAST") or i.opname == "LOAD_DEREF"}
            if code.co_argcount < 2 or code.co_varnames[1] not in reads:
                out["comparisons"].append(cls.__name__ + "." + meth)
    fd = int(_os.environ.get("RNNKIT_AUDIT_FD", "-1"))
    if fd >= 0:
        _os.write(fd, (_json.dumps({"event": "probe", "cell": "", "detail": nonce}) + "\n").encode())
    print("RNNKIT-PROBE", nonce, _json.dumps(out))
try:
    __rnnkit_probe(NONCE, WATCHED)
finally:
    del __rnnkit_probe
'''


def source() -> tuple[str, str]:
    """(code to execute, its nonce)."""
    nonce = secrets.token_hex(16)
    code = _TEMPLATE.replace("NONCE", repr(nonce)).replace("WATCHED", repr(WATCHED))
    return code, nonce


def parse(outputs: list, nonce: str) -> dict | None:
    """The probe's answer from its cell outputs, or None when it did not answer."""
    text = "".join(out.get("text", "") for out in outputs  # a long answer comes in pieces
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head == "RNNKIT-PROBE" and rest.startswith(nonce + " "):
            try:
                return json.loads(rest[len(nonce) + 1:])
            except ValueError:
                return None
    return None


def compare(first: dict, seen: dict, now: dict) -> list[str]:
    """Reasons to flag, from the first answer (before any cell ran), every callable's first
    identity (`seen`, updated in place), and this answer."""
    reasons = []
    if now["custom_exc"]:
        reasons.append(f"installed a custom exception handler for {now['custom_exc']}")
    for callback in now["callbacks"]:  # matplotlib's inline backend adds its own: fine
        if callback.split(": ", 1)[1].startswith(("cell:", "__main__:")):
            reasons.append(f"registered an IPython callback of its own ({callback})")
    if now["transformers"] != first["transformers"]:
        reasons.append("added an IPython input or AST transformer")
    added = sorted(set(now["shell_overrides"]) - set(first["shell_overrides"]))
    if added:
        reasons.append(f"replaced the IPython shell's {', '.join(added)}")
    if any(h.startswith(("cell:", "__main__:")) for h in now["hooks"]):
        reasons.append(f"replaced sys.excepthook or sys.displayhook ({now['hooks']})")
    if now["streams"] != first["streams"]:
        reasons.append(f"replaced sys.stdout or sys.stderr (now {now['streams']})")
    for name in now["defined_in_cells"]:
        reasons.append(f"replaced {name} with a function of its own")
    for name in now["comparisons"]:
        reasons.append(f"defines {name} that ignores what it is compared with")
    for name, (ident, package) in now["ids"].items():
        # A library may rewrap its own functions (torch._dynamo rewraps torch.manual_seed when
        # it loads): a new object from the same package is that; one from elsewhere is not.
        if seen.setdefault(name, ident) != ident and package != name.split(".")[0]:
            reasons.append(f"replaced {name} with {package or 'an object'}'s")
    return reasons

r"""Generate ``Testing/Data/slicer/slicer-rules.json``: what Slicer's source says about using its API beyond
names (read by ``Testing/slicer_contract.py``).

From one commit of the Slicer repository:

- ``deprecated.methods``: C++ methods of the VTK/MRML classes that Slicer marks deprecated, either with a
  warning or error macro in the method's body saying "deprecated" (``vtkWarningMacro("X is deprecated ...")``,
  the message every call prints) or with a doc comment right before the declaration that starts with
  "Deprecated" or holds ``\deprecated``. Macro-generated accessors (``vtkSetMacro(Name, ...)``) under such a
  comment count as ``SetName``/``GetName``/``NameOn``/``NameOff``.
- ``deprecated.python``: functions of Slicer's Python modules whose docstring has ``.. deprecated::`` or whose
  body warns "deprecated" unconditionally, and parameters documented as ``:param x: Deprecated``.
- ``required_arguments``: parameters that default to ``None`` but are used as sized collections
  (``len(x)``, ``for _ in x``, ``zip(x, ...)``) with no ``None`` check on the way, so leaving them out raises
  TypeError; also parameters passed on by keyword to such a parameter of another function of the module.
- ``kwargs_forwarded_to``: functions that pass ``**kwargs`` on to a function of another module, so their
  keyword arguments are checked against that function.

Usage::

    python tools/gen_slicer_rules.py --git-dir <Slicer .git> --rev <commit> --out Testing/Data/slicer/slicer-rules.json

The output has no timestamps: the same commit gives the same file.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

SCHEMA = "hitit-slicer-rules/1"
#: Python modules of Slicer read here (module name -> file), the same set slicer-api.json covers.
PYTHON_MODULES = {
    "slicer.util": "Base/Python/slicer/util.py",
    "slicer.packaging": "Base/Python/slicer/packaging.py",
    "slicer.testing": "Base/Python/slicer/testing.py",
    "slicer.ScriptedLoadableModule": "Base/Python/slicer/ScriptedLoadableModule.py",
    "sitkUtils": "Base/Python/sitkUtils.py",
    "SampleData": "Modules/Scripted/SampleData/SampleData.py",
}
_WARNING = re.compile(
    r"vtk(?:Generic)?(?:Warning|Error)(?:WithObject)?Macro\s*\((?:[^;\"]*?,)?\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)"
)
_ACCESSOR_MACROS = {
    "vtkSetMacro": ["Set{}"],
    "vtkGetMacro": ["Get{}"],
    "vtkSetStringMacro": ["Set{}"],
    "vtkGetStringMacro": ["Get{}"],
    "vtkBooleanMacro": ["{}On", "{}Off"],
    "vtkSetObjectMacro": ["Set{}"],
    "vtkGetObjectMacro": ["Get{}"],
    "vtkSetVector3Macro": ["Set{}"],
    "vtkGetVector3Macro": ["Get{}"],
    "vtkSetClampMacro": ["Set{}"],
}


class Git:
    """Read files of one commit."""

    def __init__(self, git_dir: str, rev: str):
        self.git_dir = git_dir
        self.commit = self._git("rev-parse", rev).strip()
        self.date = self._git("show", "-s", "--format=%cs", self.commit).strip()

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.git_dir, *args], check=True, capture_output=True, text=True, errors="replace"
        ).stdout

    def grep_files(self, pattern: str, *pathspecs: str) -> list[str]:
        """Files under ``pathspecs`` at the commit whose text matches ``pattern`` (case-insensitive)."""
        out = subprocess.run(
            ["git", "--git-dir", self.git_dir, "grep", "-l", "-i", "-e", pattern, self.commit, "--", *pathspecs],
            capture_output=True,
            text=True,
            errors="replace",
        ).stdout
        return sorted(line.split(":", 1)[1] for line in out.splitlines())

    def read(self, path: str) -> str:
        """A file's text at the commit."""
        return self._git("show", f"{self.commit}:{path}")


# ----------------------------------------------------------------------------- C++


def _message(literals: str) -> str:
    return " ".join("".join(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", literals)).split())


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return len(text)


def _blank_comments(text: str) -> str:
    """``text`` with every comment replaced by spaces (offsets and line breaks kept)."""

    def blank(match):
        return re.sub(r"[^\n]", " ", match.group(0))

    return re.sub(r"//[^\n]*|/\*.*?\*/", blank, text, flags=re.DOTALL)


def _argument_counts(params: str) -> list[int]:
    """Numbers of arguments a C++ parameter list accepts (defaulted parameters may be left out)."""
    parts, depth, current = [], 0, ""
    for ch in params:
        depth += {"(": 1, "<": 1, ")": -1, ">": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts = [p for p in [*parts, current] if p.strip() and p.strip() != "void"]
    required = sum(1 for p in parts if "=" not in p)
    return list(range(required, len(parts) + 1))


def _params_after(text: str, open_paren: int) -> str:
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_paren + 1 : i]
    return ""


def _add(found: dict, cls: str, method: str, note: str, counts: list[int] | None) -> None:
    """Record one deprecated overload; ``counts`` None means every overload of the name."""
    entry = found.setdefault((cls, method), {"note": note, "arguments": []})
    if counts is None or entry["arguments"] is None:
        entry["arguments"] = None
    else:
        entry["arguments"] = sorted(set(entry["arguments"]) | set(counts))


def _deprecated_warning(body: str) -> str | None:
    for warning in _WARNING.finditer(body):
        message = _message(warning.group(1))
        if "deprecated" in message.lower():
            return message
    return None


def deprecated_in_definitions(text: str, found: dict) -> None:
    """Out-of-line definitions ``T Class::Method(...) { ... warning "deprecated" ... }``."""
    text = _blank_comments(text)
    for match in re.finditer(r"\b(\w+)::(\w+)\s*\(", text):
        params = _params_after(text, match.end() - 1)
        tail = re.match(r"\s*(?:const)?\s*\{", text[match.end() + len(params) + 1 :])
        if not tail:
            continue
        brace = match.end() + len(params) + 1 + tail.end() - 1
        message = _deprecated_warning(text[brace : _matching_brace(text, brace) + 1])
        if message:
            _add(found, match.group(1), match.group(2), message, _argument_counts(params))


def deprecated_in_header(text: str, found: dict) -> None:
    r"""A header's inline bodies that warn "deprecated", and the declarations right after a doc comment that
    starts with "Deprecated" or holds ``\deprecated``.
    """
    code = _blank_comments(text)
    classes = [
        (m.start(), m.group(1)) for m in re.finditer(r"\bclass\s+(?:\w+_EXPORT\s+)?(vtk\w+)\s*(?::[^{;]*)?\{", code)
    ]

    def owner(position: int) -> str | None:
        names = [name for start, name in classes if start < position]
        return names[-1] if names else None

    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    i = 0
    while i < len(lines):
        comment, start = [], i
        while i < len(lines) and lines[i].lstrip().startswith("//"):
            comment.append(lines[i].lstrip().lstrip("/").strip())
            i += 1
        note = " ".join(c for c in comment if c and not c.startswith(("@{", "@}")))
        if comment and (re.match(r"(\\deprecated|deprecated\b)", note, re.IGNORECASE) or "\\deprecated" in note):
            # the declarations right below the comment, up to a blank or comment line; inline bodies skipped
            while i < len(lines) and code[offsets[i] : offsets[i + 1]].strip():
                cls = owner(offsets[i])
                macro = re.match(r"\s*(vtk\w+Macro)\s*\(\s*(\w+)", lines[i])
                if macro:
                    for pattern in _ACCESSOR_MACROS.get(macro.group(1), []):
                        _add(found, cls, pattern.format(macro.group(2)), note, None) if cls else None
                    i += 1
                    continue
                head_start = offsets[i]
                declaration = re.search(r"(\w+)\s*\(", code[head_start : offsets[min(i + 6, len(lines))]])
                if declaration and cls and not declaration.group(1).startswith("vtk"):
                    paren = head_start + declaration.end() - 1
                    _add(found, cls, declaration.group(1), note, _argument_counts(_params_after(code, paren)))
                stop = re.compile(r"[;{]").search(code, head_start)
                end = (
                    _matching_brace(code, stop.start())
                    if stop and code[stop.start()] == "{"
                    else (stop.start() if stop else len(code))
                )
                while i < len(lines) and offsets[i + 1] <= end:
                    i += 1
                i += 1
        i = max(i, start + 1)
    for match in re.finditer(r"\b(\w+)\s*\(", code):
        name, cls = match.group(1), owner(match.start())
        if not cls or name in ("if", "for", "while", "switch", "return") or name.endswith("Macro") or name.isupper():
            continue
        params = _params_after(code, match.end() - 1)
        tail = re.match(
            r"\s*(?:const)?\s*(?:override)?\s*(?:VTK_\w+\([^()]*\))?\s*\{", code[match.end() + len(params) + 1 :]
        )
        if tail:
            brace = match.end() + len(params) + 1 + tail.end() - 1
            message = _deprecated_warning(code[brace : _matching_brace(code, brace) + 1])
            if message:
                _add(found, cls, name, message, _argument_counts(params))


def cxx_deprecations(git: Git) -> dict[str, dict[str, dict]]:
    """``{class: {method: {"note", "arguments"}}}`` over every VTK/MRML source file that mentions 'deprecated';
    ``arguments`` lists the argument counts of the deprecated overloads (null: all of them).
    """
    found: dict[tuple[str, str], dict] = {}
    for path in git.grep_files("deprecated", "*.h", "*.cxx"):
        name = path.rsplit("/", 1)[-1]
        if not name.startswith("vtk") or "/Testing/" in path or "Templates" in path:
            continue
        (deprecated_in_header if path.endswith(".h") else deprecated_in_definitions)(git.read(path), found)
    result: dict[str, dict[str, dict]] = {}
    for (cls, method), entry in sorted(found.items()):
        result.setdefault(cls, {})[method] = entry
    return result


# ----------------------------------------------------------------------------- Python


def _functions(tree: ast.Module):
    """(qualified name, function) for module functions, methods, and classes (as their __init__)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield (node.name if item.name == "__init__" else f"{node.name}.{item.name}"), item


def _none_defaults(func: ast.FunctionDef) -> list[str]:
    args = func.args.posonlyargs + func.args.args
    pairs = list(zip(args[len(args) - len(func.args.defaults) :], func.args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True) if d is not None]
    return [a.arg for a, d in pairs if isinstance(d, ast.Constant) and d.value is None]


def _none_checked(func: ast.FunctionDef) -> set[str]:
    """Names compared with None or tested for truth somewhere in the function."""
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            if any(isinstance(c, ast.Constant) and c.value is None for c in node.comparators):
                names.add(node.left.id)
        tests = []
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests.append(node.test)
        if isinstance(node, ast.BoolOp):
            tests += node.values
        for test in tests:
            test = test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else test
            if isinstance(test, ast.Name):
                names.add(test.id)
    return names


def _sized_uses(func: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("len", "zip"):
            names |= {a.id for a in node.args if isinstance(a, ast.Name)}
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Name):
            names.add(node.iter.id)
    return names


def required_arguments(source: str) -> dict[str, list[str]]:
    """``{function: [parameters]}`` that default to None but cannot be left out (see module doc)."""
    functions = dict(_functions(ast.parse(source)))
    required = {}
    for name, func in functions.items():
        params = set(_none_defaults(func)) & _sized_uses(func)
        required[name] = params - _none_checked(func)
    changed = True
    while changed:  # a parameter passed by keyword to a required parameter of another function is required
        changed = False
        for name, func in functions.items():
            candidates = set(_none_defaults(func)) - _none_checked(func) - required[name]
            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                callee = (
                    node.func.id
                    if isinstance(node.func, ast.Name)
                    else (
                        f"{node.func.value.id}.{node.func.attr}"
                        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                        else None
                    )
                )
                for keyword in node.keywords:
                    if (
                        callee in required
                        and keyword.arg in required[callee]
                        and isinstance(keyword.value, ast.Name)
                        and keyword.value.id in candidates
                    ):
                        required[name].add(keyword.value.id)
                        changed = True
    return {name: sorted(params) for name, params in sorted(required.items()) if params}


def _warns_deprecated(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        name = ast.unparse(call.func)
        if name in ("logging.warning", "warnings.warn", "logging.error") and call.args:
            text = ast.unparse(call.args[0])
            if "deprecated" in text.lower():
                return (
                    " ".join(str(ast.literal_eval(call.args[0])).split())
                    if isinstance(call.args[0], ast.Constant)
                    else text
                )
    return None


def python_deprecations(source: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(``{function: note}``, ``{function: [deprecated parameters]}``) of one Python module."""
    functions, parameters = {}, {}
    for name, func in _functions(ast.parse(source)):
        doc = ast.get_docstring(func) or ""
        marker = re.search(r"\.\. deprecated::\s*(\S+)", doc)
        warning = next(filter(None, (_warns_deprecated(s) for s in func.body)), None)
        if marker or warning:
            functions[name] = warning or f"deprecated since Slicer {marker.group(1)}"
        deprecated_params = re.findall(r":param (\w+):\s*[Dd]eprecated", doc)
        if deprecated_params:
            parameters[name] = sorted(set(deprecated_params))
    return functions, parameters


def kwargs_forwarding(source: str) -> dict[str, str]:
    """``{function: module.function}`` where ``**kwargs`` goes on to a function imported from another module."""
    result = {}
    for name, func in _functions(ast.parse(source)):
        if not func.args.kwarg:
            continue
        imported = {}
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in imported
                and any(
                    k.arg is None and isinstance(k.value, ast.Name) and k.value.id == func.args.kwarg.arg
                    for k in node.keywords
                )
            ):
                result[name] = imported[node.func.id]
    return result


def main(argv: list[str] | None = None) -> int:
    """Read Slicer's source at the commit and write the rules file; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--rev", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    git = Git(args.git_dir, args.rev)
    python_functions, python_parameters, required, forwarded = {}, {}, {}, {}
    for module, path in PYTHON_MODULES.items():
        source = git.read(path)
        functions, parameters = python_deprecations(source)
        python_functions[module], python_parameters[module] = functions, parameters
        required[module] = required_arguments(source)
        forwarded[module] = kwargs_forwarding(source)
    methods = cxx_deprecations(git)
    data = {
        "schema": SCHEMA,
        "generated_by": "tools/gen_slicer_rules.py",
        "slicer": {"repository": "https://github.com/Slicer/Slicer", "commit": git.commit, "commit_date": git.date},
        "deprecated": {"methods": methods, "python": python_functions, "python_parameters": python_parameters},
        "required_arguments": required,
        "kwargs_forwarded_to": forwarded,
    }
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(
        f"{args.out}: {sum(len(v) for v in methods.values())} deprecated methods in {len(methods)} classes, "
        f"{sum(len(v) for v in python_functions.values())} deprecated Python functions",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

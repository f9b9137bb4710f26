r"""Generate ``Testing/Data/slicer/qt-api.json``: signals, slots and properties of the widget classes
Slicer's Python sees, for the static checks of the modules' Qt side (``Testing/slicer_qt_contract.py``).

Sources, each recorded in the output with its version:

- CTK and Slicer classes (``ctk*``, ``qMRML*``, ``qSlicer*``) are read from their C++ headers at a git
  commit: ``Q_PROPERTY`` (writable when it has ``WRITE``), the declarations under ``signals:``/``Q_SIGNALS:``
  and ``slots:``/``Q_SLOTS:``, ``Q_INVOKABLE`` methods, the base classes, and methods that Slicer's PythonQt
  decorator headers add to a class. PythonQt reaches only these members of CTK/Slicer classes: CTK's
  wrapper generator (CMake/ctkWrapPythonQt.py) wraps their constructors and nothing else.
- Qt's own classes (QtCore, QtGui, QtWidgets) are read from the real meta-objects of Qt 5 (PyQt5) and
  Qt 6 (PySide6), because Slicer builds with either (Slicer's CMakeLists.txt: Qt 5.15, or 6.8 with Qt6_DIR).
  Slicer's PythonQt wraps every public method of Qt's classes, so their method names are listed too.
- Helper functions of ``slicer.util`` that return a Qt object built inside them (e.g. createProgressDialog),
  and those that copy ``**kwargs`` onto it with ``setattr`` only where the attribute exists (so a wrong name
  is silently ignored), read with ``ast`` from Base/Python/slicer/util.py.

Usage (PyQt5 and PySide6 only need to be installed in the interpreters named here, never in the project)::

    python tools/gen_qt_api.py --slicer-git-dir <Slicer .git> --slicer-rev <commit> \
        --ctk-git-dir <CTK .git> --ctk-rev <commit> --qt5-python <python with PyQt5> \
        --qt6-python <python with PySide6> --out Testing/Data/slicer/qt-api.json

The output has no timestamps: the same sources give the same file.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

SCHEMA = "hitit-qt-api/1"

# ----------------------------------------------------------------------------- Qt meta-objects

_DUMP_QT = r"""
import json, sys
binding = sys.argv[1]
if binding == "PyQt5":
    from PyQt5 import QtCore, QtGui, QtWidgets
    version, binding_version = QtCore.QT_VERSION_STR, QtCore.PYQT_VERSION_STR
    signature = lambda m: bytes(m.methodSignature()).decode()
else:
    import PySide6
    from PySide6 import QtCore, QtGui, QtWidgets
    version, binding_version = QtCore.qVersion(), PySide6.__version__
    signature = lambda m: m.methodSignature().data().decode()
classes = {}
for module in (QtCore, QtGui, QtWidgets):
    for name in dir(module):
        cls = getattr(module, name)
        mo = getattr(cls, "staticMetaObject", None)
        if not isinstance(cls, type) or mo is None or not hasattr(mo, "methodOffset") or mo.className() != name:
            continue
        entry = {"base": mo.superClass().className() if mo.superClass() else None,
                 "signals": [], "slots": [], "invokables": [], "properties": {}}
        for i in range(mo.methodOffset(), mo.methodCount()):
            method = mo.method(i)
            sig = signature(method)
            if sig.startswith("_q_"):
                continue  # Qt-private slots
            kind = {1: "signals", 2: "slots", 0: "invokables"}.get(
                getattr(method.methodType(), "value", method.methodType())
            )
            public = getattr(method.access(), "value", method.access()) == 2  # QMetaMethod::Public
            if kind == "signals" or (kind and public):
                entry[kind].append(sig)
        for i in range(mo.propertyOffset(), mo.propertyCount()):
            prop = mo.property(i)
            entry["properties"][prop.name()] = {"writable": bool(prop.isWritable())}
        inherited = set(dir(cls.__mro__[1])) if len(cls.__mro__) > 1 else set()
        entry["methods"] = sorted(k for k in set(dir(cls)) - inherited if not k.startswith("_")
                                  and callable(getattr(cls, k, None)) and k not in entry["properties"])
        classes[name] = entry
print(json.dumps({"qt": version, "binding": f"{binding} {binding_version}", "classes": classes}))
"""


def dump_qt(python: str, binding: str) -> dict:
    """Meta-object contents of every QObject class of QtCore/QtGui/QtWidgets, read by ``python``."""
    out = subprocess.run(
        [python, "-c", _DUMP_QT, binding],
        check=True,
        capture_output=True,
        text=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    data = json.loads(out.stdout)
    for entry in data["classes"].values():
        for kind in ("signals", "slots", "invokables"):
            entry[kind] = sorted(set(entry[kind]))
    return data


# ----------------------------------------------------------------------------- C++ headers


class Git:
    """Read files of one commit of a bare or normal git directory."""

    def __init__(self, git_dir: str, rev: str):
        self.git_dir, self.rev = git_dir, rev
        self.commit = self._git("rev-parse", rev).strip()
        self.date = self._git("show", "-s", "--format=%cs", self.commit).strip()

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.git_dir, *args], check=True, capture_output=True, text=True, errors="replace"
        ).stdout

    def files(self) -> list[str]:
        """Every file path of the tree at the commit."""
        return self._git("ls-tree", "-r", "--name-only", self.commit).splitlines()

    def read(self, path: str) -> str:
        """A file's text at the commit."""
        return self._git("show", f"{self.commit}:{path}")


_CLASS = re.compile(r"\bclass\s+(?:[A-Z_][A-Z0-9_]*\s+)?(\w+)\s*(?::\s*([^{;]+))?\{")
_DEPRECATED = re.compile(r"\\deprecated|\bdeprecated\b", re.IGNORECASE)


def _strip_comments(text: str) -> str:
    """Text without comments or preprocessor lines; a deprecation note in a comment becomes a marker
    ``@DEPRECATED@`` so that the declaration next to it can be flagged.
    """

    def block(match):
        return " @DEPRECATED@ " if _DEPRECATED.search(match.group(0)) else " "

    text = re.sub(r"/\*.*?\*/", block, text, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", block, text)
    return "\n".join("" if line.lstrip().startswith("#") else line for line in text.splitlines())


def _class_bodies(text: str):
    """(name, bases, body) of each class that has Q_OBJECT at its top level."""
    for match in _CLASS.finditer(text):
        start = match.end()
        depth, i = 1, start
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[start : i - 1]
        top = _top_level(body)
        if "Q_OBJECT" not in top:
            continue
        bases = [
            re.sub(r"\b(public|protected|private|virtual)\b", "", b).strip()
            for b in (match.group(2) or "").split(",")
            if b.strip()
        ]
        yield match.group(1), [b for b in bases if b], top


def _top_level(body: str) -> str:
    """Class body with inline function bodies and nested braces replaced by ';'."""
    out, depth = [], 0
    for ch in body:
        if ch == "{":
            if depth == 0:
                out.append(";")
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def normalize_type(text: str) -> str:
    """One parameter type as Qt's normalized signatures spell it (``const QString &`` -> ``QString``)."""
    text = " ".join(text.split())
    if text.startswith("const ") and text.endswith("&"):
        text = text[len("const ") : -1].strip()
    elif text.startswith("const ") and not text.endswith("*"):
        text = text[len("const ") :].strip()
    text = re.sub(r"\s*([*&<>,])\s*", r"\1", text)
    return text


def _split_params(params: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in params:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _param_type(param: str) -> tuple[str, bool]:
    """(normalized type, has default) of one declared parameter."""
    has_default = "=" in param
    param = param.split("=")[0].strip()
    if param in ("", "void"):
        return "", has_default
    match = re.match(r"^(.*?[\w>*&\s])\s*\b([A-Za-z_]\w*)$", param)
    words = param.replace("*", " ").replace("&", " ").split()
    qualifiers = {"unsigned", "signed", "long", "short", "int", "char", "double", "float", "bool", "const"}
    if match and len(words) > 1 and words[-1] not in qualifiers:
        param = match.group(1)
    return normalize_type(param), has_default


def signatures(name: str, params: str) -> list[str]:
    """Normalized signatures of one declaration; defaulted trailing parameters give shorter ones too,
    as moc generates them.
    """
    types = [_param_type(p) for p in _split_params(params)]
    types = [t for t in types if t[0]]
    result = [f"{name}({','.join(t for t, _ in types)})"]
    for n in range(len(types) - 1, -1, -1):
        if not types[n][1]:
            break
        result.append(f"{name}({','.join(t for t, _ in types[:n])})")
    return result


_DECL = re.compile(
    r"(~?\w+)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:const)?(?:\s*(?:override|final|Q_DECL_OVERRIDE|VTK_OVERRIDE|noexcept))*\s*(?:=\s*0)?\s*$"
)
_SECTION = re.compile(r"\b(?:(public|protected|private)\s*(Q_SLOTS|slots)?|(Q_SIGNALS|signals))\s*:(?!:)")


def sections(body: str):
    """(section, statement) for each ';'-terminated statement of a class body; section is one of
    public, protected, private, public_slots, protected_slots, private_slots, signals.
    """
    section, position = "private", 0
    for match in list(_SECTION.finditer(body)) + [None]:
        chunk = body[position : match.start() if match else len(body)]
        for statement in chunk.split(";"):
            if statement.strip():
                yield section, statement
        if match:
            level, slots, signals = match.groups()
            section = "signals" if signals else f"{level}_slots" if slots else level
            position = match.end()


def parse_class(body: str) -> dict:
    """Properties, signals, public slots and public Q_INVOKABLE methods of a class body (top level only):
    what PythonQt's class info looks up (PythonQtClassInfo: public slots and methods, and signals).
    """
    entry = {"signals": [], "slots": [], "invokables": [], "properties": {}}
    for match in re.finditer(
        r"(@DEPRECATED@\s*)?Q_PROPERTY\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*(@DEPRECATED@)?", body
    ):
        words = match.group(2).split()
        keyword = next((i for i, w in enumerate(words) if w in ("READ", "MEMBER", "WRITE")), len(words))
        prop = {"writable": "WRITE" in words or "MEMBER" in words}
        if match.group(1) or match.group(3):
            prop["deprecated"] = True
        entry["properties"][words[keyword - 1]] = prop
    body = re.sub(r"\bQ_PROPERTY\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", " ", body)
    for section, statement in sections(body):
        text = " ".join(statement.replace("@DEPRECATED@", " ").split())
        invokable = "Q_INVOKABLE" in text
        decl = _DECL.search(text.replace("Q_INVOKABLE", ""))
        if not decl or decl.group(1).startswith(("~", "Q_")) or decl.group(1).isupper():
            continue
        sigs = signatures(decl.group(1), decl.group(2))
        if section == "signals":
            entry["signals"] += sigs
        elif section == "public_slots":
            entry["slots"] += sigs
        elif invokable and section == "public":
            entry["invokables"] += sigs
    for kind in ("signals", "slots", "invokables"):
        entry[kind] = sorted(set(entry[kind]))
    return entry


def header_classes(git: Git, paths: list[str], origin: str) -> dict:
    """Every Q_OBJECT class declared in ``paths``."""
    classes = {}
    for path in paths:
        text = _strip_comments(git.read(path))
        for name, bases, body in _class_bodies(text):
            entry = parse_class(body)
            entry.update(origin=origin, header=path, bases=bases)
            classes[name] = entry
    return classes


def decorator_methods(git: Git, paths: list[str]) -> dict[str, set[str]]:
    """``{class: {method names}}`` added by PythonQt decorator classes (a public slot whose first parameter
    is ``Class*`` becomes a method of Class; ``static_Class_name`` a static method; ``new_``/``delete_``
    are constructors).
    """
    added: dict[str, set[str]] = {}
    for path in paths:
        for _, _, body in _class_bodies(_strip_comments(git.read(path))):
            for section, statement in sections(body):
                decl = _DECL.search(" ".join(statement.split()))
                if section != "public_slots" or not decl:
                    continue
                name, params = decl.group(1), _split_params(decl.group(2))
                static = re.match(r"static_([A-Za-z0-9]+)_(\w+)$", name)
                if static:
                    added.setdefault(static.group(1), set()).add(static.group(2))
                elif params and not name.startswith(("new_", "delete_")):
                    added.setdefault(_param_type(params[0])[0].rstrip("*"), set()).add(name)
    return added


# ----------------------------------------------------------------------------- slicer.util helpers


def util_returns(util_source: str) -> dict:
    """``{function: {"returns": QtClass, "kwargs_set_if_present": bool}}`` for slicer.util functions that
    build a Qt object (``x = qt.QClass(...)``) and return it.
    """
    result = {}
    for func in ast.parse(util_source).body:
        if not isinstance(func, ast.FunctionDef):
            continue
        built = {}
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id in ("qt", "ctk")
            ):
                built[node.targets[0].id] = node.value.func.attr
        returns = {n.value.id for n in ast.walk(func) if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)}
        if len(returns) != 1 or next(iter(returns)) not in built:
            continue
        var = next(iter(returns))
        entry = {"returns": built[var]}
        kwarg = func.args.kwarg.arg if func.args.kwarg else None
        for node in ast.walk(func):
            if (
                kwarg
                and isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "setattr"
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == var
            ):
                entry["kwargs_set_if_present"] = True
        result[func.name] = entry
    return result


# ----------------------------------------------------------------------------- main


def _is_header(path: str, pattern: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    lowered = path.lower()
    return (
        re.fullmatch(pattern, name) is not None
        and "/testing/" not in lowered
        and "template" not in lowered
        and "designerplugins" not in lowered
        and "_p.h" not in name
    )


def main(argv: list[str] | None = None) -> int:
    """Read the sources named on the command line and write the API file; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slicer-git-dir", required=True)
    parser.add_argument("--slicer-rev", required=True)
    parser.add_argument("--ctk-git-dir", required=True)
    parser.add_argument("--ctk-rev", required=True)
    parser.add_argument("--qt5-python", required=True, help="interpreter with PyQt5 installed")
    parser.add_argument("--qt6-python", required=True, help="interpreter with PySide6 installed")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    slicer, ctk = Git(args.slicer_git_dir, args.slicer_rev), Git(args.ctk_git_dir, args.ctk_rev)
    slicer_files, ctk_files = slicer.files(), ctk.files()
    classes = header_classes(
        ctk, sorted(p for p in ctk_files if p.startswith("Libs/") and _is_header(p, r"ctk\w+\.h")), "ctk"
    )
    slicer_headers = sorted(
        p for p in slicer_files if _is_header(p, r"q(MRML|Slicer)\w+\.h") and "PythonQtDecorators" not in p
    )
    classes.update(header_classes(slicer, slicer_headers, "slicer"))
    for cls, names in decorator_methods(
        slicer, sorted(p for p in slicer_files if p.endswith("PythonQtDecorators.h"))
    ).items():
        if cls in classes:
            classes[cls]["decorator_methods"] = sorted(names)
    qt5, qt6 = dump_qt(args.qt5_python, "PyQt5"), dump_qt(args.qt6_python, "PySide6")
    data = {
        "schema": SCHEMA,
        "generated_by": "tools/gen_qt_api.py",
        "sources": {
            "slicer": {
                "repository": "https://github.com/Slicer/Slicer",
                "commit": slicer.commit,
                "commit_date": slicer.date,
            },
            "ctk": {"repository": "https://github.com/commontk/CTK", "commit": ctk.commit, "commit_date": ctk.date},
            "qt5": {"qt": qt5["qt"], "read_with": qt5["binding"]},
            "qt6": {"qt": qt6["qt"], "read_with": qt6["binding"]},
        },
        "notes": [
            "Signatures are normalized as Qt does (const T& -> T, no parameter names); a declaration with "
            "default arguments also gives its shorter signatures, as moc generates them.",
            "classes: CTK and Slicer classes from their headers, with 'bases' to follow; a chain ends in Qt's "
            "classes, which are in qt5/qt6 (Slicer builds with Qt 5.15 or Qt 6).",
            "PythonQt reaches a CTK/Slicer class only through its properties, signals, slots, Q_INVOKABLE "
            "methods and decorator methods; every public method of a Qt class is wrapped.",
        ],
        "classes": dict(sorted(classes.items())),
        "qt5": dict(sorted(qt5["classes"].items())),
        "qt6": dict(sorted(qt6["classes"].items())),
        "slicer_util": util_returns(slicer.read("Base/Python/slicer/util.py")),
    }
    Path(args.out).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(
        f"{args.out}: {len(classes)} CTK/Slicer classes, {len(qt5['classes'])} Qt {qt5['qt']} and "
        f"{len(qt6['classes'])} Qt {qt6['qt']} classes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

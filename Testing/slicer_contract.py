"""Static check of a scripted module's use of Slicer's API against ``Data/slicer/slicer-api.json``.

Reads module source with :mod:`ast` (nothing is imported or run) and reports every use of a
Slicer name that does not exist at the Slicer commit the contract was generated from:

- ``slicer.util.f(...)``: the function (or class) exists, the number of positional arguments fits,
  every keyword argument is a parameter (unless the function takes ``**kwargs``), required ones are given;
- ``slicer.vtkMRML*`` / ``slicer.vtkSlicer*`` classes, their constants and static methods;
- ``from slicer import X``, ``from slicer.util import X``, ``from slicer.parameterNodeWrapper import X``;
- ``slicer.modules.<name>.logic()`` is a known module logic, and methods called on it exist;
- methods called on ``slicer.mrmlScene`` and on variables whose MRML class is known from
  ``AddNewNodeByClass("cls")``, ``slicer.vtkMRMLXNode()``, a type annotation, a parameter-node field
  (``<...parameterNode>.field``) or ``self.ui.<combo>.currentNode()`` with one node type in the .ui;
- names missing in an older release (``availability.revisions.<tag>.missing_names``) unless the use
  sits inside ``if hasattr(<obj>, "<name>")``.

Usage: ``check_source(source, Contract.load(path), ui_node_types={"widget": ["vtkMRML..."]})``
returns a list of :class:`Finding`.
"""

from __future__ import annotations

import ast
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONTRACT = Path(__file__).parent / "Data" / "slicer" / "slicer-api.json"
#: Oldest Slicer release the extension supports.
OLDEST_SUPPORTED = "v5.10.0"


@dataclass(frozen=True)
class Finding:
    """One problem found in a module source."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class Contract:
    """The API contract JSON with the lookups the checker needs."""

    def __init__(self, data: dict, oldest: str = OLDEST_SUPPORTED):
        self.data = data
        self.python = data["python"]
        self.classes = data["classes"]
        self.all_class_names = set(data.get("all_class_names", [])) | set(self.classes)
        self.vtk_root = set(data["vtk_root_methods"]["names"])
        self.module_logics = data["module_logics"]
        self.missing = set(data["availability"]["revisions"][oldest]["missing_names"])
        self.oldest = oldest

    @classmethod
    def load(cls, path: Path | str = DEFAULT_CONTRACT, oldest: str = OLDEST_SUPPORTED) -> Contract:
        """Read the contract JSON file."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), oldest)

    def python_module(self, name: str) -> dict | None:
        """Entry of a Python module (``slicer.util``, ``SampleData``...) or None."""
        return self.python.get(name)

    def has_method(self, cls: str, method: str) -> bool:
        """True if ``method`` is callable on instances (or the class) ``cls``."""
        info = self.classes.get(cls)
        if info is None:
            return True  # class not covered by the contract: cannot judge
        return method in info["all_methods"] or method in info.get("all_constants", {}) or method in self.vtk_root

    def declaring_class(self, cls: str, method: str) -> str:
        """The class that declares ``method`` (for availability lookups)."""
        return self.classes.get(cls, {}).get("all_methods", {}).get(method, cls)


def ui_node_types(ui_path: Path | str) -> dict[str, list[str]]:
    """``{widget name: nodeTypes}`` of the qMRMLNodeComboBox widgets of a Qt Designer file."""
    result = {}
    for widget in ET.parse(ui_path).getroot().iter("widget"):
        if widget.get("class") != "qMRMLNodeComboBox":
            continue
        for prop in widget.findall("property"):
            if prop.get("name") == "nodeTypes":
                result[widget.get("name")] = [s.text for s in prop.iter("string")]
    return result


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _hasattr_names(test: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(test):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr"
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            names.add(node.args[1].value)
    return names


class _Checker(ast.NodeVisitor):
    def __init__(self, contract: Contract, ui_types: dict[str, list[str]]):
        self.c = contract
        self.ui_types = ui_types
        self.findings: list[Finding] = []
        self.guards: list[set[str]] = [set()]
        self.scopes: list[dict[str, str]] = [{}]
        self.parameter_fields: dict[str, str] = {}
        self.imported_slicer_classes: set[str] = set()

    # ------------------------------------------------------------ helpers
    def report(self, node: ast.AST, message: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), message))

    def guarded(self, name: str) -> bool:
        parts = set(name.split("."))
        return any(parts & guard for guard in self.guards)

    def check_available(self, node: ast.AST, name: str) -> None:
        if name in self.c.missing and not self.guarded(name):
            self.report(node, f"{name} does not exist in Slicer {self.c.oldest}: guard it with hasattr(...)")

    def class_name(self, annotation: ast.AST | None) -> str | None:
        """MRML class named by an annotation (``vtkMRMLX``, ``slicer.vtkMRMLX``, ``X | None``)."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.BinOp):
            left, right = self.class_name(annotation.left), self.class_name(annotation.right)
            return left or right if not (left and right) else None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                return self.class_name(ast.parse(annotation.value, mode="eval").body)
            except SyntaxError:
                return None
        name = _dotted(annotation)
        if name:
            last = name.split(".")[-1]
            if last in self.c.classes and (name == last and last in self.imported_slicer_classes or name == f"slicer.{last}"):
                return last
        return None

    def type_of(self, node: ast.AST) -> str | None:
        """MRML class of an expression, when it can be known statically."""
        if isinstance(node, ast.Name):
            for scope in reversed(self.scopes):
                if node.id in scope:
                    return scope[node.id]
            return None
        name = _dotted(node)
        if name == "slicer.mrmlScene":
            return "vtkMRMLScene"
        if isinstance(node, ast.Attribute) and node.attr in self.parameter_fields:
            owner = ast.unparse(node.value).lower()
            if "parameternode" in owner:
                return self.parameter_fields[node.attr]
        if isinstance(node, ast.Call):
            func = node.func
            fname = _dotted(func) or ""
            if isinstance(func, ast.Attribute) and func.attr in ("AddNewNodeByClass", "CreateNodeByClass", "GetFirstNodeByClass"):
                if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in self.c.classes:
                    return node.args[0].value
            if fname.startswith("slicer.") and fname.split(".")[-1] in self.c.classes and fname.count(".") == 1:
                return fname.split(".")[1]
            if isinstance(func, ast.Attribute) and func.attr == "currentNode":
                widget = _dotted(func.value) or ""
                types = self.ui_types.get(widget.split(".")[-1], [])
                if widget.startswith("self.ui.") and len(types) == 1 and types[0] in self.c.classes:
                    return types[0]
            if isinstance(func, ast.Attribute) and func.attr == "logic":
                parts = (_dotted(func.value) or "").split(".")
                if len(parts) == 3 and parts[:2] == ["slicer", "modules"] and parts[2] in self.c.module_logics:
                    return self.c.module_logics[parts[2]]["logic_class"]
        return None

    # ------------------------------------------------------------ scopes and guards
    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self.guards.append(_hasattr_names(node.test))
        for child in node.body:
            self.visit(child)
        self.guards.pop()
        for child in node.orelse:
            self.visit(child)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self.guards.append(_hasattr_names(node.test))
        self.visit(node.body)
        self.guards.pop()
        self.visit(node.orelse)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        # "hasattr(x, 'n') and x.n(...)" guards the later operands
        self.guards.append(set())
        for value in node.values:
            self.visit(value)
            if isinstance(node.op, ast.And):
                self.guards[-1] |= _hasattr_names(value)
        self.guards.pop()

    def _visit_function(self, node) -> None:
        scope = {}
        for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
            cls = self.class_name(arg.annotation)
            if cls:
                scope[arg.arg] = cls
        self.scopes.append(scope)
        # flow-insensitive: learn assignments first, then check
        for child in ast.walk(node):
            if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name):
                cls = self.type_of(child.value)
                if cls:
                    scope[child.targets[0].id] = cls
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                cls = self.class_name(child.annotation) or (self.type_of(child.value) if child.value else None)
                if cls:
                    scope[child.target.id] = cls
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        decorators = {(_dotted(d.func if isinstance(d, ast.Call) else d) or "").split(".")[-1] for d in node.decorator_list}
        if "parameterNodeWrapper" in decorators:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    annotation = item.annotation
                    if isinstance(annotation, ast.Subscript) and (_dotted(annotation.value) or "").endswith("Annotated"):
                        elements = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
                        annotation = elements[0]
                    cls = self.class_name(annotation)
                    if cls:
                        self.parameter_fields[item.target.id] = cls
                    elif _dotted(annotation) and _dotted(annotation).split(".")[-1].startswith("vtkMRML"):
                        self.report(item, f"parameter node field type {_dotted(annotation)} is not a Slicer class "
                                          "imported with 'from slicer import ...'")
        self.generic_visit(node)

    # ------------------------------------------------------------ imports
    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                continue
            if module == "slicer":
                if alias.name.startswith("vtk"):
                    if alias.name not in self.c.all_class_names:
                        self.report(node, f"slicer.{alias.name} is not a Slicer class")
                    self.imported_slicer_classes.add(alias.asname or alias.name)
            elif module == "slicer.parameterNodeWrapper":
                exports = self.c.python_module(module).get("package_exports", [])
                if alias.name not in exports:
                    self.report(node, f"slicer.parameterNodeWrapper has no {alias.name}")
            elif self.c.python_module(module) is not None:
                self.check_python_name(node, module, alias.name)
        self.generic_visit(node)

    def check_python_name(self, node: ast.AST, module: str, name: str) -> dict | None:
        entry = self.c.python_module(module)
        info = entry.get("functions", {}).get(name) or entry.get("classes", {}).get(name)
        if info is None and name not in entry.get("constants", {}) and name not in entry.get("__all__", []):
            self.report(node, f"{module}.{name} does not exist")
            return None
        self.check_available(node, f"{module}.{name}")
        return info

    # ------------------------------------------------------------ uses
    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = _dotted(node)
        if name:
            parts = name.split(".")
            if parts[0] == "slicer" and len(parts) >= 2 and parts[1].startswith(("vtkMRML", "vtkSlicer", "vtkSegment", "vtkOrientedImageData")):
                cls = parts[1]
                if cls not in self.c.all_class_names:
                    self.report(node, f"slicer.{cls} is not a Slicer class")
                elif len(parts) == 3 and not self.c.has_method(cls, parts[2]):
                    self.report(node, f"{cls} has no {parts[2]}")
                elif len(parts) == 3:
                    self.check_available(node, f"{self.c.declaring_class(cls, parts[2])}.{parts[2]}")
                return  # do not descend: the chain is handled
            for module in ("slicer.util", "slicer.packaging", "slicer.testing", "slicer.cli", "sitkUtils", "SampleData"):
                mparts = module.split(".")
                if parts[:len(mparts)] == mparts and len(parts) > len(mparts) and self.c.python_module(module):
                    member = parts[len(mparts)]
                    info = self.check_python_name(node, module, member)
                    if info is not None and len(parts) > len(mparts) + 1 and "methods" in info:
                        method = parts[len(mparts) + 1]
                        if method not in info["methods"] and method not in info.get("class_attributes", []):
                            self.report(node, f"{module}.{member} has no {method}")
                        else:
                            self.check_available(node, f"{module}.{member}.{method}")
                    return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func) or ""
        if name.startswith("slicer.util.") and name.count(".") == 2:
            info = self.c.python_module("slicer.util")["functions"].get(name.split(".")[-1])
            if info is not None:
                self.check_arguments(node, name, info)
        if name.startswith("slicer.modules.") and name.endswith(".logic") and name.count(".") == 3:
            module = name.split(".")[2]
            if module not in self.c.module_logics:
                self.report(node, f"slicer.modules.{module}.logic() is not a known module logic")
        if isinstance(node.func, ast.Attribute):
            cls = self.type_of(node.func.value)
            if cls and not self.c.has_method(cls, node.func.attr):
                self.report(node, f"{cls} has no method {node.func.attr}")
            elif cls:
                self.check_available(node, f"{self.c.declaring_class(cls, node.func.attr)}.{node.func.attr}")
        self.generic_visit(node)

    def check_arguments(self, node: ast.Call, name: str, info: dict) -> None:
        params = list(info.get("params", []))
        if params and params[0] in ("self", "cls"):
            params = params[1:]
        defaults = set(info.get("defaults", []))
        kwonly = list(info.get("kwonly", []))
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return
        if len(node.args) > len(params) and not info.get("vararg"):
            self.report(node, f"{name}() takes at most {len(params)} positional arguments, {len(node.args)} given")
        given = set(params[:len(node.args)])
        for keyword in node.keywords:
            if keyword.arg not in params and keyword.arg not in kwonly and not info.get("kwarg"):
                self.report(node, f"{name}() has no keyword argument {keyword.arg!r}")
            given.add(keyword.arg)
        missing = [p for p in params + kwonly if p not in defaults and p not in given]
        if missing:
            self.report(node, f"{name}() misses required argument(s) {', '.join(missing)}")


def check_source(source: str, contract: Contract, ui_types: dict[str, list[str]] | None = None,
                 filename: str = "<module>") -> list[Finding]:
    """Every use of a Slicer name in ``source`` that the contract does not have."""
    tree = ast.parse(source, filename=filename)
    checker = _Checker(contract, ui_types or {})
    # parameter node classes and 'from slicer import' must be known before functions are checked
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "slicer":
            checker.imported_slicer_classes |= {a.asname or a.name for a in node.names}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            checker.visit_ClassDef(ast.ClassDef(name=node.name, bases=[], keywords=[], body=[
                item for item in node.body if isinstance(item, ast.AnnAssign)], decorator_list=node.decorator_list,
                type_params=[]))
    checker.findings.clear()
    checker.visit(tree)
    return sorted(set(checker.findings), key=lambda f: (f.line, f.message))


def check_module_file(path: Path | str, contract: Contract | None = None) -> list[Finding]:
    """Check a module file, with node types of its ``Resources/UI/<Name>.ui`` when present."""
    path = Path(path)
    ui_path = path.parent / "Resources" / "UI" / f"{path.stem}.ui"
    types = ui_node_types(ui_path) if ui_path.is_file() else {}
    return check_source(path.read_text(encoding="utf-8"), contract or Contract.load(), types, str(path))

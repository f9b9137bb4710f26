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
#: Deprecations, arguments that cannot be left out, **kwargs forwarding (tools/gen_slicer_rules.py).
DEFAULT_RULES = DEFAULT_CONTRACT.parent / "slicer-rules.json"
#: Argument counts of the wrapped VTK/MRML methods, from the slicer-core wheel (tools/gen_mrml_signatures.py).
DEFAULT_SIGNATURES = DEFAULT_CONTRACT.parent / "mrml-signatures.json"
#: Python modules whose calls get their arguments checked (``module.function(...)``, ``module.Class.method(...)``).
CHECKED_CALL_MODULES = ("slicer.util", "slicer.packaging", "slicer.testing", "sitkUtils", "SampleData")
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

    def __init__(
        self, data: dict, oldest: str = OLDEST_SUPPORTED, rules: dict | None = None, signatures: dict | None = None
    ):
        self.data = data
        self.rules = rules or {
            "deprecated": {"methods": {}, "python": {}, "python_parameters": {}},
            "required_arguments": {},
            "kwargs_forwarded_to": {},
        }
        self.signatures = (signatures or {"classes": {}})["classes"]
        self.python = data["python"]
        self.classes = data["classes"]
        self.all_class_names = set(data.get("all_class_names", [])) | set(self.classes)
        self.vtk_root = set(data["vtk_root_methods"]["names"])
        self.module_logics = data["module_logics"]
        self.missing = set(data["availability"]["revisions"][oldest]["missing_names"])
        self.oldest = oldest

    @classmethod
    def load(
        cls,
        path: Path | str = DEFAULT_CONTRACT,
        oldest: str = OLDEST_SUPPORTED,
        rules: Path | str | None = DEFAULT_RULES,
        signatures: Path | str | None = DEFAULT_SIGNATURES,
    ) -> Contract:
        """Read the contract JSON file (and the rules and signature files beside it)."""

        def read(file):
            return json.loads(Path(file).read_text(encoding="utf-8")) if file else None

        return cls(read(path), oldest, read(rules), read(signatures))

    def overloads(self, cls: str, method: str) -> list[list[int]] | None:
        """``[[min, max], ...]`` argument counts of ``cls.method`` (inherited ones too), None if unknown."""
        while cls in self.signatures:
            found = self.signatures[cls]["methods"].get(method)
            if found:
                return found
            cls = self.signatures[cls]["base"]
        return None

    def deprecation(self, cls: str, method: str, count: int) -> str | None:
        """Slicer's note when ``cls.method`` called with ``count`` arguments is deprecated, else None."""
        chain = []
        while cls and cls not in chain:
            chain.append(cls)
            cls = self.signatures.get(cls, {}).get("base")
        chain.append(self.classes.get(chain[0], {}).get("all_methods", {}).get(method))
        for name in filter(None, chain):
            entry = self.rules["deprecated"]["methods"].get(name, {}).get(method)
            if entry and (entry["arguments"] is None or count in entry["arguments"]):
                return entry["note"]
        return None

    def python_callable(self, dotted: str) -> tuple[str, str, dict] | None:
        """(module, qualified name, entry) of ``module.function`` or ``module.Class.method``, else None."""
        for module in CHECKED_CALL_MODULES:
            if not dotted.startswith(module + "."):
                continue
            entry, rest = self.python.get(module), dotted[len(module) + 1 :].split(".")
            if entry is None:
                return None
            if len(rest) == 1 and rest[0] in entry.get("functions", {}):
                return module, rest[0], entry["functions"][rest[0]]
            if len(rest) == 2 and rest[1] in entry.get("classes", {}).get(rest[0], {}).get("methods", {}):
                return module, ".".join(rest), entry["classes"][rest[0]]["methods"][rest[1]]
        return None

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
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "hasattr"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
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
            if last in self.c.classes and (
                name == last and last in self.imported_slicer_classes or name == f"slicer.{last}"
            ):
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
            if isinstance(func, ast.Attribute) and func.attr in (
                "AddNewNodeByClass",
                "CreateNodeByClass",
                "GetFirstNodeByClass",
            ):
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
        decorators = {
            (_dotted(d.func if isinstance(d, ast.Call) else d) or "").split(".")[-1] for d in node.decorator_list
        }
        if "parameterNodeWrapper" in decorators:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    annotation = item.annotation
                    if isinstance(annotation, ast.Subscript) and (_dotted(annotation.value) or "").endswith(
                        "Annotated"
                    ):
                        elements = (
                            annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
                        )
                        annotation = elements[0]
                    cls = self.class_name(annotation)
                    if cls:
                        self.parameter_fields[item.target.id] = cls
                    elif _dotted(annotation) and _dotted(annotation).split(".")[-1].startswith("vtkMRML"):
                        self.report(
                            item,
                            f"parameter node field type {_dotted(annotation)} is not a Slicer class "
                            "imported with 'from slicer import ...'",
                        )
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
            if (
                parts[0] == "slicer"
                and len(parts) >= 2
                and parts[1].startswith(("vtkMRML", "vtkSlicer", "vtkSegment", "vtkOrientedImageData"))
            ):
                cls = parts[1]
                if cls not in self.c.all_class_names:
                    self.report(node, f"slicer.{cls} is not a Slicer class")
                elif len(parts) == 3 and not self.c.has_method(cls, parts[2]):
                    self.report(node, f"{cls} has no {parts[2]}")
                elif len(parts) == 3:
                    self.check_available(node, f"{self.c.declaring_class(cls, parts[2])}.{parts[2]}")
                return  # do not descend: the chain is handled
            for module in (
                "slicer.util",
                "slicer.packaging",
                "slicer.testing",
                "slicer.cli",
                "sitkUtils",
                "SampleData",
            ):
                mparts = module.split(".")
                if parts[: len(mparts)] == mparts and len(parts) > len(mparts) and self.c.python_module(module):
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
        found = self.c.python_callable(name)
        if found is not None:
            self.check_python_call(node, name, *found)
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
                self.check_method_arguments(node, cls, node.func.attr)
        self.generic_visit(node)

    def check_method_arguments(self, node: ast.Call, cls: str, method: str) -> None:
        """Argument count against the wrapped overloads (slicer-core), and Slicer's deprecations."""
        if any(isinstance(a, ast.Starred) for a in node.args) or node.keywords:
            return
        count = len(node.args)
        overloads = self.c.overloads(cls, method)
        if overloads and not any(low <= count and (high < 0 or count <= high) for low, high in overloads):
            accepted = " or ".join(f"{low}" if low == high else f"{low}-{high}" for low, high in overloads)
            self.report(node, f"{cls}.{method}() takes {accepted} arguments, {count} given")
        note = self.c.deprecation(cls, method, count)
        if note:
            self.report(node, f"{cls}.{method}() is deprecated in Slicer: {note}")

    def check_python_call(self, node: ast.Call, name: str, module: str, qualified: str, info: dict) -> None:
        """Arguments of a call into Slicer's Python modules: the signature, arguments that cannot be left out,
        **kwargs passed on to another function, deprecated functions and parameters.
        """
        self.check_arguments(node, name, info)
        rules = self.c.rules
        given = {k.arg for k in node.keywords}
        params = [p for p in info.get("params", []) if p not in ("self", "cls")]
        given |= set(params[: len(node.args)])
        if not any(k.arg is None for k in node.keywords) and not any(isinstance(a, ast.Starred) for a in node.args):
            needed = [p for p in rules["required_arguments"].get(module, {}).get(qualified, []) if p not in given]
            if needed:
                self.report(
                    node,
                    f"{name}() needs {', '.join(needed)}: Slicer uses them as lists without a None "
                    "check, so leaving them out raises TypeError",
                )
        target = rules["kwargs_forwarded_to"].get(module, {}).get(qualified)
        forwarded = self.c.python_callable(target) if target else None
        if forwarded is not None:
            accepted = set(forwarded[2].get("params", [])) | set(forwarded[2].get("kwonly", []))
            for keyword in node.keywords:
                if keyword.arg is not None and keyword.arg not in params and keyword.arg not in accepted:
                    self.report(node, f"{name}() passes {keyword.arg}= on to {target}(), which has no such parameter")
        note = rules["deprecated"]["python"].get(module, {}).get(qualified)
        if note:
            self.report(node, f"{name}() is deprecated in Slicer: {note}")
        for parameter in rules["deprecated"]["python_parameters"].get(module, {}).get(qualified, []):
            if parameter in given:
                self.report(node, f"{name}(): the {parameter} argument is deprecated in Slicer")

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
        given = set(params[: len(node.args)])
        for keyword in node.keywords:
            if keyword.arg not in params and keyword.arg not in kwonly and not info.get("kwarg"):
                self.report(node, f"{name}() has no keyword argument {keyword.arg!r}")
            given.add(keyword.arg)
        missing = [p for p in params + kwonly if p not in defaults and p not in given]
        if missing:
            self.report(node, f"{name}() misses required argument(s) {', '.join(missing)}")


def check_source(
    source: str, contract: Contract, ui_types: dict[str, list[str]] | None = None, filename: str = "<module>"
) -> list[Finding]:
    """Every use of a Slicer name in ``source`` that the contract does not have."""
    tree = ast.parse(source, filename=filename)
    checker = _Checker(contract, ui_types or {})
    # parameter node classes and 'from slicer import' must be known before functions are checked
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "slicer":
            checker.imported_slicer_classes |= {a.asname or a.name for a in node.names}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            checker.visit_ClassDef(
                ast.ClassDef(
                    name=node.name,
                    bases=[],
                    keywords=[],
                    body=[item for item in node.body if isinstance(item, ast.AnnAssign)],
                    decorator_list=node.decorator_list,
                    type_params=[],
                )
            )
    checker.findings.clear()
    checker.visit(tree)
    return sorted(set(checker.findings), key=lambda f: (f.line, f.message))


def check_module_file(path: Path | str, contract: Contract | None = None) -> list[Finding]:
    """Check a module file, with node types of its ``Resources/UI/<Name>.ui`` when present."""
    path = Path(path)
    ui_path = path.parent / "Resources" / "UI" / f"{path.stem}.ui"
    types = ui_node_types(ui_path) if ui_path.is_file() else {}
    return check_source(path.read_text(encoding="utf-8"), contract or Contract.load(), types, str(path))

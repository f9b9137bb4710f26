"""Module layout, class names and bases, CMake lists and the extension metadata (Extensions Index rules)."""

from __future__ import annotations

import ast
import builtins
import fnmatch
import json
import re
import struct
import symtable
import sys

import pytest

from slicer_modules import REPO, module_files

MODULES = module_files()
#: Names the parameter node wrapper reserves (Slicer's parameterNodeWrapper documentation).
RESERVED = {
    "allParameters",
    "default",
    "isCached",
    "dataType",
    "getValue",
    "setValue",
    "connectGui",
    "connectParametersToGui",
    "disconnectGui",
    "StartModify",
    "EndModify",
    "AddObserver",
    "RemoveObserver",
    "Modified",
    "parameterNode",
}
#: Extensions Index categories accepted by scripts/check_description_files.py (the relevant subset).
CATEGORIES = {
    "Planning",
    "IGT",
    "Quantification",
    "Segmentation",
    "Radiotherapy",
    "Utilities",
    "Examples",
    "Registration",
    "Simulation",
    "Analysis",
}
#: slicer-extension-catalog-entry-schema-v1.0.2.json, written out.
SCHEMA_REQUIRED = {"$schema", "category", "scm_url"}
SCHEMA_ALLOWED = SCHEMA_REQUIRED | {
    "scm_revision",
    "scm_type",
    "build_dependencies",
    "build_subdirectory",
    "enabled",
    "tier",
    "dicom_support_rule",
}


def classes(module):
    return {n.name: n for n in ast.parse(module.read_text(encoding="utf-8")).body if isinstance(n, ast.ClassDef)}


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_module_classes(module):
    name = module.stem
    found = classes(module)
    bases = {cls: [ast.unparse(b) for b in node.bases] for cls, node in found.items()}
    assert bases[name] == ["ScriptedLoadableModule"]
    # the shared plumbing (hitit_slicer.application) comes first, so that its enter/exit/cleanup are the ones Slicer
    # calls
    assert bases[f"{name}Widget"] == ["ModuleWidgetMixin", "ScriptedLoadableModuleWidget", "VTKObservationMixin"]
    assert bases[f"{name}Logic"] == ["ScriptedLoadableModuleLogic"]
    assert bases[f"{name}Test"] == ["ModuleTestMixin", "ScriptedLoadableModuleTest"]
    wrappers = [n for n in found.values() if any("parameterNodeWrapper" in ast.unparse(d) for d in n.decorator_list)]
    assert len(wrappers) == 1
    fields = [i.target.id for i in wrappers[0].body if isinstance(i, ast.AnnAssign)]
    assert not set(fields) & RESERVED
    tests = [f.name for f in found[f"{name}Test"].body if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")]
    assert tests, "the Test class has no test_* method"
    listed = next(
        ast.literal_eval(i.value)
        for i in found[f"{name}Test"].body
        if isinstance(i, ast.Assign) and ast.unparse(i.targets[0]) == "TESTS"
    )
    assert sorted(listed) == sorted(tests), "runTest (ModuleTestMixin.TESTS) must run every test_* method"
    # every public method has a docstring
    for cls in (f"{name}Widget", f"{name}Logic"):
        for item in found[cls].body:
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                assert ast.get_docstring(item), f"{cls}.{item.name} has no docstring"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_module_metadata_set(module):
    init = next(f for f in classes(module)[module.stem].body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    text = ast.unparse(init)
    for attribute in ("title", "categories", "contributors", "helpText", "acknowledgementText"):
        assert f"self.parent.{attribute} =" in text, attribute
    assert 'translate("qSlicerAbstractCoreModule"' in text.replace("'", '"')
    assert "_(" in text  # user strings are translatable


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_module_compiles_and_defers_core_imports(module):
    source = module.read_text(encoding="utf-8")
    tree = ast.parse(source, str(module), feature_version=(3, 12))  # Slicer 5.10+ runs Python 3.12
    compile(tree, str(module), "exec")
    top_imports = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_imports |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not (
            node.module == "hitit_slicer.application"
            and {a.name for a in node.names} <= {"ModuleLibrary", "ModuleTestMixin", "ModuleWidgetMixin"}
        ):
            top_imports.add((node.module or "").split(".")[0])
    # the standard library, Slicer's own packages and the dependency helper; never the core or its pip
    # dependencies (installed lazily)
    allowed = set(sys.stdlib_module_names) | {"qt", "ctk", "vtk", "slicer"}
    assert top_imports <= allowed, f"imported at module load: {sorted(top_imports - allowed)}"


def undefined_names(source: str, path: str) -> set[tuple[str, str]]:
    """``(name, scope)`` of every global name a module's code reads that nothing binds: not an assignment, import,
    def or class of the module, not a builtin, not a class that ``from slicer.ScriptedLoadableModule import *``
    brings (from Slicer's source, Testing/Data/slicer/slicer-api.json).
    """
    api = json.loads((REPO / "Testing" / "Data" / "slicer" / "slicer-api.json").read_text(encoding="utf-8"))
    starred = set(api["python"]["slicer.ScriptedLoadableModule"]["classes"])
    top = symtable.symtable(source, path, "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    known = bound | set(dir(builtins)) | starred | {"__file__"}
    found, tables = set(), [top]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (symbol.is_global() or table is top) and symbol.get_name() not in known:
                found.add((symbol.get_name(), table.get_name()))
        tables.extend(table.get_children())
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_every_name_the_module_reads_is_defined(module):
    """A name read but never imported or assigned raises NameError only when Slicer runs that line (the wheel cannot
    run the widgets), e.g. a helper module used after its import was removed.
    """
    assert undefined_names(module.read_text(encoding="utf-8"), str(module)) == set()


def test_undefined_name_check_finds_a_missing_import():
    source = (
        "import slicer\nclass W(ScriptedLoadableModuleWidget):\n"
        "    def f(self):\n        return dependencies.missing(slicer)\n"
    )
    assert undefined_names(source, "w.py") == {("dependencies", "f")}


@pytest.mark.parametrize("name", ["application", "dependencies"])
def test_what_the_modules_import_at_load_imports_the_standard_library_only(name):
    """The modules import hitit_slicer.application (and so .dependencies) when Slicer loads them, before anything is
    installed.
    """
    tree = ast.parse((REPO / "hitit_slicer" / f"{name}.py").read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    allowed = set(sys.stdlib_module_names) | {"hitit_slicer", "hitit_slicer.dependencies"}
    assert {n.split(".")[0] if n.split(".")[0] != "hitit_slicer" else n for n in names} <= allowed, sorted(names)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_cmake_lists_every_script_and_resource(module):
    """The module folder holds the module file, its icon and panel, and CMake installs exactly those (with Slicer's
    generic tests and the module's self-test as a ctest, hititAddScriptedModule in the top CMakeLists).
    """
    from slicer_cmake_check import installed_files

    folder = module.parent
    assert f"hititAddScriptedModule({module.stem})" in (folder / "CMakeLists.txt").read_text(encoding="utf-8")
    function = re.search(r"function\(hititAddScriptedModule MODULE_NAME\)(.*?)endfunction", top_cmake(), re.S).group(1)
    assert "slicerMacroBuildScriptedModule(" in function and "WITH_GENERIC_TESTS" in function
    assert re.search(r"if\(BUILD_TESTING\).*slicer_add_python_unittest\(SCRIPT \$\{MODULE_NAME\}\.py\)", function, re.S)
    installed = {item.source for item in installed_files(REPO) if item.source.startswith(f"{folder.name}/")}
    present = {
        path.relative_to(REPO).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name not in ("CMakeLists.txt", "TESTING.md") and "__pycache__" not in path.parts
    }
    assert installed == present, f"installed {sorted(installed)}, in the folder {sorted(present)}"
    assert (folder / "Resources" / "Icons" / f"{module.stem}.png").is_file()


def top_cmake():
    return (REPO / "CMakeLists.txt").read_text(encoding="utf-8")


def test_core_package_is_installed_by_cmake():
    cmake = top_cmake()
    assert "ctkMacroCompilePythonScript(" in cmake
    assert re.search(r"DESTINATION_DIR \$\{CMAKE_BINARY_DIR\}/\$\{Slicer_QTSCRIPTEDMODULES_LIB_DIR\}/hitit", cmake)
    assert re.search(r"INSTALL_DIR \$\{Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR\}/hitit", cmake)
    patterns = re.findall(r"\$\{CMAKE_CURRENT_SOURCE_DIR\}/hitit/(\*\.\w+)", cmake)
    core = [p for p in (REPO / "hitit").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    needed = [p for p in core if p.suffix in (".py", ".json")]
    assert needed
    for path in needed:
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), f"{path} is not installed"


def test_every_module_folder_is_added():
    cmake = top_cmake()
    for folder in ("HITITPlanner", "HITITResponse"):
        assert f"add_subdirectory({folder})" in cmake


def test_extension_metadata_passes_index_checks():
    cmake = top_cmake()
    project = re.search(r"^project\((\w+)\)", cmake, re.M).group(1)
    description_file = REPO / f"{project}.json"
    assert description_file.is_file(), "the Extensions Index JSON must be named after project()"
    entry = json.loads(description_file.read_text(encoding="utf-8"))
    assert SCHEMA_REQUIRED <= set(entry) and set(entry) <= SCHEMA_ALLOWED
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    assert entry["category"] in CATEGORIES
    assert entry["scm_url"].startswith(("https://", "git://"))
    assert "slicer" in entry["scm_url"].rstrip("/").removesuffix(".git").split("/")[-1].lower()
    assert isinstance(entry.get("tier", 1), int) and 1 <= entry.get("tier", 1) <= 5
    assert all(isinstance(d, str) for d in entry.get("build_dependencies", []))
    for key in (
        "EXTENSION_HOMEPAGE",
        "EXTENSION_CATEGORY",
        "EXTENSION_CONTRIBUTORS",
        "EXTENSION_DESCRIPTION",
        "EXTENSION_DEPENDS",
    ):
        assert re.search(rf'^set\({key} "[^"\n]+"\)', cmake, re.M), key
    assert re.search(r'^set\(EXTENSION_CATEGORY "(\w+)"\)', cmake, re.M).group(1) == entry["category"]
    icon = re.search(r'^set\(EXTENSION_ICONURL "(https?://[^"\s]+\.png)"\)$', cmake, re.M)
    assert icon, "EXTENSION_ICONURL must be one quoted http(s) PNG URL on one line"
    shots = re.search(r'^set\(EXTENSION_SCREENSHOTURLS "([^"]+)"\)', cmake, re.M)
    assert shots and all(re.fullmatch(r"https?://\S+\.(png|jpg|gif)", u) for u in shots.group(1).split())
    prefix = "https://raw.githubusercontent.com/hitit-project/SlicerHITIT/main/"
    assert icon.group(1).startswith(prefix) and (REPO / icon.group(1)[len(prefix) :]).is_file()
    for url in shots.group(1).split():
        assert url.startswith(prefix)  # the file is added by the lead (see HITITPlanner/TESTING.md)
    assert any((REPO / name).is_file() for name in ("LICENSE", "LICENSE.txt", "License.txt", "COPYING"))
    assert "Apache License" in (REPO / "LICENSE").read_text(encoding="utf-8")


def test_icons_are_128_png():
    icons = [REPO / "Resources" / "HITIT.png"] + [m.parent / "Resources" / "Icons" / f"{m.stem}.png" for m in MODULES]
    for path in icons:
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", header[16:24]) == (128, 128)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_requirements_are_installed_lazily(module):
    """No module installs packages itself: the one requirements file is installed by hitit_slicer.dependencies,
    from inside a method (the first action that needs the core), never at module level.
    """
    source = module.read_text(encoding="utf-8")
    assert not (module.parent / "Resources" / "requirements.txt").exists()
    assert "pip_" not in source
    tree = ast.parse(source)
    for node in tree.body:  # the core is imported only inside methods
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            assert "core(" not in ast.unparse(node) and "ensureInSlicer(" not in ast.unparse(node)
    assert f'ModuleLibrary("{module.stem}"' in source

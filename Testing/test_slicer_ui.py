"""Qt Designer files of the modules: valid, known widget classes, and consistent with the module code."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET

import pytest

from slicer_modules import module_files

#: Widget classes Slicer's Python can instantiate from a .ui (Qt, CTK, qMRML, qSlicer).
QT_CLASSES = {
    "QWidget",
    "QLabel",
    "QPushButton",
    "QToolButton",
    "QCheckBox",
    "QRadioButton",
    "QComboBox",
    "QSpinBox",
    "QDoubleSpinBox",
    "QLineEdit",
    "QTextEdit",
    "QPlainTextEdit",
    "QGroupBox",
    "QFrame",
    "QTableWidget",
    "QTableView",
    "QTreeView",
    "QListWidget",
    "QTabWidget",
    "QProgressBar",
    "QSlider",
    "QScrollArea",
    "QStackedWidget",
    "QDialogButtonBox",
    "QSplitter",
    "Line",
}
CUSTOM_PREFIXES = ("ctk", "qMRML", "qSlicer")
LAYOUTS = {"QVBoxLayout", "QHBoxLayout", "QFormLayout", "QGridLayout"}

#: What a bound widget class must be for the parameter type (parameterNodeWrapper GUI connectors).
CONNECTORS = {
    "bool": {"QCheckBox", "ctkCheckBox", "QPushButton", "ctkCheckablePushButton"},
    "int": {"QSpinBox", "QSlider", "ctkSliderWidget"},
    "float": {
        "QDoubleSpinBox",
        "ctkDoubleSpinBox",
        "ctkSliderWidget",
        "ctkDoubleSlider",
        "qMRMLSpinBox",
        "qMRMLSliderWidget",
    },
    "str": {"QLineEdit", "QTextEdit", "QLabel", "QComboBox", "ctkComboBox"},
    "Path": {"ctkPathLineEdit", "ctkDirectoryButton"},
    "node": {"qMRMLNodeComboBox"},
}


def ui_file(module):
    return module.parent / "Resources" / "UI" / f"{module.stem}.ui"


def widgets(root):
    return {w.get("name"): w for w in root.iter("widget")}


def bound(root):
    """{parameter name: widget element} from SlicerParameterName dynamic properties."""
    result = {}
    for widget in root.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                assert prop.get("stdset") == "0", (
                    f"{widget.get('name')}: SlicerParameterName must be a dynamic property (stdset=0)"
                )
                result[prop.findtext("string")] = widget
    return result


def parameter_fields(module):
    """{field: type kind} of the @parameterNodeWrapper class, and the UNBOUND_PARAMETERS dict."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    fields, unbound = {}, {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            "parameterNodeWrapper" in ast.unparse(d) for d in node.decorator_list
        ):
            for item in node.body:
                if isinstance(item, ast.AnnAssign):
                    annotation = item.annotation
                    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value).endswith("Annotated"):
                        annotation = annotation.slice.elts[0]
                    text = ast.unparse(annotation)
                    kind = "node" if "vtkMRML" in text else "Path" if "Path" in text else text
                    fields[item.target.id] = kind
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "UNBOUND_PARAMETERS" for t in node.targets
        ):
            unbound = ast.literal_eval(node.value)
    return fields, unbound


MODULES = [m for m in module_files() if ui_file(m).is_file()]


def test_every_module_has_a_ui():
    assert [m.stem for m in module_files()] == [m.stem for m in MODULES]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_ui_is_valid_designer_xml(module):
    root = ET.parse(ui_file(module)).getroot()
    assert root.tag == "ui" and root.get("version") == "4.0"
    top = root.find("widget")
    assert top is not None and top.get("class") == "qMRMLWidget" and top.get("name") == module.stem
    assert root.findtext("class") == module.stem
    declared = {c.findtext("class"): c for c in root.iter("customwidget")}
    for name, widget in widgets(root).items():
        cls = widget.get("class")
        assert cls in QT_CLASSES or cls.startswith(CUSTOM_PREFIXES), f"{name}: unknown widget class {cls}"
        if cls.startswith(CUSTOM_PREFIXES):
            assert cls in declared, f"{cls} is used but not declared in <customwidgets>"
            assert declared[cls].findtext("header") == f"{cls}.h" and declared[cls].findtext("extends")
    for layout in root.iter("layout"):
        assert layout.get("class") in LAYOUTS
    names = [w.get("name") for w in root.iter("widget")]
    assert len(names) == len(set(names)), "widget names must be unique"
    for combo in (w for w in root.iter("widget") if w.get("class") == "qMRMLNodeComboBox"):
        types = [s.text for p in combo.findall("property") if p.get("name") == "nodeTypes" for s in p.iter("string")]
        assert types and all(t.startswith("vtkMRML") for t in types), f"{combo.get('name')} needs nodeTypes"
    # every MRML widget gets the scene from the top widget
    receivers = {
        c.findtext("receiver") for c in root.iter("connection") if c.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"
    }
    mrml = {w.get("name") for w in root.iter("widget") if w.get("class").startswith("qMRML") and w is not top}
    assert mrml <= receivers, f"not connected to mrmlSceneChanged: {sorted(mrml - receivers)}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_widgets_used_by_code_exist(module):
    source = module.read_text(encoding="utf-8")
    found = widgets(ET.parse(ui_file(module)).getroot())
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    assert used, "the module looks up no widget"
    missing = sorted(used - set(found))
    assert not missing, f"self.ui.<name> not in the .ui: {missing}"
    expected_by_suffix = {
        "Selector": "qMRMLNodeComboBox",
        "Button": ("QPushButton", "ctkCollapsibleButton", "ctkDirectoryButton"),
        "Label": "QLabel",
        "ComboBox": ("QComboBox", "ctkComboBox"),
        "TableView": "qMRMLTableView",
    }
    for name in used:
        for suffix, classes in expected_by_suffix.items():
            if name.endswith(suffix):
                assert found[name].get("class") in (classes if isinstance(classes, tuple) else (classes,)), name


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_parameters_and_bound_widgets_match(module):
    fields, unbound = parameter_fields(module)
    assert fields, "no @parameterNodeWrapper fields found"
    binding = bound(ET.parse(ui_file(module)).getroot())
    assert not set(binding) - set(fields), (
        f"SlicerParameterName without a parameter: {sorted(set(binding) - set(fields))}"
    )
    assert not set(unbound) - set(fields), (
        f"UNBOUND_PARAMETERS names no parameter: {sorted(set(unbound) - set(fields))}"
    )
    assert not set(unbound) & set(binding), f"both bound and listed as unbound: {sorted(set(unbound) & set(binding))}"
    for field, kind in fields.items():
        if field in unbound:
            assert len(unbound[field]) > 10, f"{field}: give the reason it has no widget"
            continue
        assert field in binding, (
            f"parameter {field} has no widget (SlicerParameterName) and no UNBOUND_PARAMETERS reason"
        )
        allowed = CONNECTORS.get(kind.split("[")[0], set())
        assert binding[field].get("class") in allowed, f"{field} ({kind}) bound to {binding[field].get('class')}"

"""The generators of the Slicer/Qt contract data (tools/gen_*.py) read C++ headers, Python sources and wrapped
docstrings correctly: each is run here on a small text whose answer is known.
"""

from __future__ import annotations

import gen_mrml_signatures as signatures  # tools/ is on pytest's pythonpath (pyproject.toml)
import gen_qt_api as qt
import gen_slicer_rules as rules
import pytest

HEADER = """
#include <QWidget>
class qFooPrivate;
/// A widget.
class Q_FOO_EXPORT qFooWidget : public QWidget
{
  Q_OBJECT
  Q_PROPERTY(bool noneEnabled READ noneEnabled WRITE setNoneEnabled)
  Q_PROPERTY(int count READ count) // read-only
  Q_PROPERTY(QString oldName READ oldName WRITE setOldName) // \\deprecated
public:
  explicit qFooWidget(QWidget* parent = nullptr);
  void setNoneEnabled(bool enable);
  Q_INVOKABLE vtkMRMLNode* currentNode() const;
  int count() const { return 3; }
#ifdef FOO_QT6
  Q_INVOKABLE void onlyInSomeBuilds();
#endif
public slots:
  virtual void setMRMLScene(vtkMRMLScene* scene);
  void setCurrentNode(const QString& id, bool notify = true);
protected slots:
  void onPrivateThing();
signals:
  void currentNodeChanged(vtkMRMLNode* node);
  void nodeRenamed(const QString &, QFrame::Shape shape);
private:
  Q_DECLARE_PRIVATE(qFooWidget);
};
"""


def test_header_classes_and_members():
    classes = list(qt._class_bodies(qt._strip_comments(HEADER)))
    assert [(name, bases) for name, bases, _ in classes] == [("qFooWidget", ["QWidget"])]
    entry = qt.parse_class(classes[0][2])
    assert entry["properties"] == {
        "noneEnabled": {"writable": True},
        "count": {"writable": False},
        "oldName": {"writable": True, "deprecated": True},
    }
    assert entry["signals"] == ["currentNodeChanged(vtkMRMLNode*)", "nodeRenamed(QString,QFrame::Shape)"]
    assert entry["slots"] == ["setCurrentNode(QString)", "setCurrentNode(QString,bool)", "setMRMLScene(vtkMRMLScene*)"]
    assert entry["invokables"] == ["currentNode()", "onlyInSomeBuilds()"]  # both preprocessor branches count


DECORATORS = """
class qFooPythonQtDecorators : public QObject
{
  Q_OBJECT
public slots:
  void processEvents(qSlicerCoreApplication* app) { app->processEvents(); }
  qFoo* new_qFoo() { return new qFoo(); }
  QString static_qFoo_version() { return "1"; }
};
"""


def test_decorator_methods(monkeypatch):
    class Git:
        def read(self, path):
            return DECORATORS

    assert qt.decorator_methods(Git(), ["x.h"]) == {"qSlicerCoreApplication": {"processEvents"}, "qFoo": {"version"}}


def test_util_helpers_that_build_a_widget():
    source = """
def createProgressDialog(parent=None, **kwargs):
    import qt
    dialog = qt.QProgressDialog(parent)
    for key, value in kwargs.items():
        if hasattr(dialog, key):
            setattr(dialog, key, value)
    return dialog

def mainWindow():
    return _findMainWindow()
"""
    assert qt.util_returns(source) == {
        "createProgressDialog": {"returns": "QProgressDialog", "kwargs_set_if_present": True}
    }


CXX_HEADER = """
class VTK_MRML_EXPORT vtkMRMLFooNode : public vtkMRMLNode
{
public:
  /// Column title should be displayed as column label
  vtkGetMacro(UseTitle, bool);

  /// Deprecated. Use GetUseTitle/SetUseTitle instead.
  bool GetUseName();
  void SetUseName(bool use);

  /// Save one node.
  /// \\deprecated Use SaveState() instead.
  void SaveState(vtkMRMLNode* node);

  /// Save all nodes.
  void SaveState();

  /// \\deprecated
  vtkBooleanMacro(OldFlag, bool);

  int Exists(int n)
  {
    vtkWarningMacro("vtkMRMLFooNode::Exists method is deprecated, "
                    "please use ControlPointExists instead");
    return this->ControlPointExists(n); // see ControlPointExists(int) for the \\deprecated note
  }
};
"""
CXX_SOURCE = """
//----------------------------------------------------------------------------
void vtkMRMLFooNode::SetColumnLongName(const std::string& name, const std::string& longName)
{
  vtkWarningMacro("vtkMRMLFooNode::SetColumnLongName is deprecated, use SetColumnTitle instead");
}
void vtkMRMLFooNode::SetColumnTitle(const std::string& name, const std::string& title)
{
  this->Modified();
}
"""


def test_cxx_deprecations():
    found = {}
    rules.deprecated_in_header(CXX_HEADER, found)
    rules.deprecated_in_definitions(CXX_SOURCE, found)
    arguments = {method: entry["arguments"] for (cls, method), entry in found.items() if cls == "vtkMRMLFooNode"}
    assert arguments == {
        "GetUseName": [0],
        "SetUseName": [1],
        "SaveState": [1],
        "OldFlagOn": None,
        "OldFlagOff": None,
        "Exists": [1],
        "SetColumnLongName": [2],
    }
    assert found[("vtkMRMLFooNode", "Exists")]["note"] == (
        "vtkMRMLFooNode::Exists method is deprecated, please use ControlPointExists instead"
    )


PYTHON_SOURCE = '''
import logging

class Source:
    def __init__(self, name=None, uris=None, fileNames=None, nodeNames=None, checksums=None):
        if isinstance(uris, list):
            if nodeNames is None:
                nodeNames = [None] * len(uris)
        elif isinstance(uris, str):
            uris, fileNames = [uris], [fileNames]
        if not checksums:
            checksums = []
        if not len(uris) == len(fileNames) == len(nodeNames) == len(checksums):
            raise ValueError("lengths")

class Logic:
    @staticmethod
    def register(category="Custom", uris=None, fileNames=None, nodeNames=None, loadFileType=None):
        """Register.

        :param loadFileType: deprecated, use ``loadFileTypes`` instead.
        """
        return Source(name=category, uris=uris, fileNames=fileNames, nodeNames=nodeNames)

def old(text):
    """Old.

    .. deprecated:: 4.11.0
    """
    logging.warning("old is deprecated! Conversion is no longer necessary.")
    return text

def pip_install(requirements, **kwargs):
    from slicer.packaging import pip_install as _pip_install
    return _pip_install(requirements, **kwargs)
'''


def test_python_rules():
    assert rules.required_arguments(PYTHON_SOURCE) == {
        "Logic.register": ["fileNames", "uris"],
        "Source": ["fileNames", "uris"],
    }
    functions, parameters = rules.python_deprecations(PYTHON_SOURCE)
    assert functions == {"old": "old is deprecated! Conversion is no longer necessary."}
    assert parameters == {"Logic.register": ["loadFileType"]}
    assert rules.kwargs_forwarding(PYTHON_SOURCE) == {"pip_install": "slicer.packaging.pip_install"}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            "AddControlPoint(self, point:vtkVector3d, label:str=...) -> int\n"
            "C++: int AddControlPoint(vtkVector3d point,\n    std::string label=std::string())\n"
            "AddControlPoint(self, x:float, y:float, z:float, label:str=...)\n    -> int\n"
            "C++: int AddControlPoint(double x, double y, double z,\n    std::string label=std::string())\n"
            "\nAdd a point.",
            [[1, 2], [3, 4]],
        ),
        ("GetNumberOfRows(self) -> int\nC++: int GetNumberOfRows()\n", [[0, 0]]),
        ("SetOrigin(self, origin:(float, float, float)) -> None\nC++: void SetOrigin(double origin[3])\n", [[1, 1]]),
        ("Unrelated docstring", []),
    ],
)
def test_wrapped_docstring_overloads(doc, expected):
    name = doc.split("(")[0] if "(" in doc else "X"
    assert signatures.overloads(name, doc) == expected

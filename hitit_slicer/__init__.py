"""The Slicer-side library of the HITIT extension, shared by the HITITPlanner and HITITResponse modules.

Everything here touches the MRML scene but never Qt: it imports only ``slicer`` (the MRML classes,
storage nodes, module logics and ``slicer.util`` that Slicer's core libraries provide), ``vtk``,
numpy and the core ``hitit``. Every function takes the scene (a :class:`context.SlicerContext`) and
plain values or a parameter object as arguments, so the same code runs inside Slicer, where the
module passes ``slicer.mrmlScene`` and the application logic, and on the ``slicer-core`` wheel in the
test suite. Points are RAS mm on the scene side and LPS mm in the core; :mod:`coordinates` converts.
"""

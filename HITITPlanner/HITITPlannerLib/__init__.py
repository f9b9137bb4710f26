"""Helpers of the HITITPlanner module that do not need Slicer.

``conversions`` turns what Slicer gives (numpy arrays indexed [k, j, i], 4x4 IJK-to-RAS matrices,
RAS points) into the objects of the Slicer-free core package ``hitit`` (LPS millimetres) and back.
Nothing in this package imports ``slicer``, ``qt`` or ``ctk``, so it is tested with plain pytest.
"""

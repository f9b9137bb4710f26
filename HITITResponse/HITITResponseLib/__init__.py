"""Helpers of the HITITResponse module that do not need Slicer.

``conversions`` moves data between what Slicer holds (table rows of strings, RAS line endpoints,
node names "<lesion>@<timepoint>") and the documents of the Slicer-free core ``hitit.response``
(the study dict, the response dict, waterfall and spider data). Nothing in this package imports
``slicer``, ``qt``, ``ctk`` or the core, so it is tested with plain pytest.
"""

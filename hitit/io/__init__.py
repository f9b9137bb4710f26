"""Readers and writers: CT volumes, segmentations and label maps, Slicer markups."""

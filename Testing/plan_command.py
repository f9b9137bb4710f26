"""The ``hitit plan`` command line the tests run on a teaching case's files (the PV-10 protocol: no per-visit cap)."""


def plan_args(paths, out, *extra, lesions="lesions"):
    """Arguments of ``hitit plan`` for the files ``paths`` (as written by ``write_teaching_case``) into ``out``."""
    files = ["--ct", str(paths["ct"]), "--structures", str(paths["structures"]), "--lesions", str(paths[lesions])]
    return ["plan", *files, "--protocol", "pv10", "--out", str(out), *extra]

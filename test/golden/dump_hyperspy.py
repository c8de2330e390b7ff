#!/usr/bin/python3
"""Dump HyperSpy's view of instrument files as JSON, the golden values of test/data/formats-golden.test.ts.

Run from the repository root with Debian's HyperSpy (apt-get install python3-hyperspy, 1.7.x):

    /usr/bin/python3 test/golden/dump_hyperspy.py

It reads every file HyperSpy 1.7 opens under ../shared/data/instruments (DM3/DM4, MSA, HSPY, NeXus) and
the small HyperSpy-written fixtures in test/fixtures/formats (written here first when absent: a spectrum
image and a line scan as .hspy and NeXus, so the HDF5 readers are checked on spectra, not only on the
images of the shared folder). Output: test/golden/hyperspy.json, keyed by path relative to its folder.
"""
import glob
import hashlib
import json
import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import hyperspy.api as hs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data", "instruments")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "formats")
FULL_LIMIT = 4096  # arrays up to this size are written in full


def make_fixtures():
    os.makedirs(FIXTURES, exist_ok=True)
    rng = np.random.default_rng(7)
    si = hs.signals.Signal1D(rng.poisson(50, size=(3, 4, 16)).astype("float32") + np.arange(16, dtype="float32"))
    for ax, (name, units, offset, scale) in zip(
        si.axes_manager._axes,
        [("y", "µm", -1.0, 0.5), ("x", "µm", 2.0, 0.25), ("Energy loss", "eV", 280.0, 0.5)],
    ):
        ax.name, ax.units, ax.offset, ax.scale = name, units, offset, scale
    si.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 200.0)
    si.metadata.General.title = "synthetic spectrum image"
    line = hs.signals.Signal1D(np.linspace(0, 1, 5 * 8, dtype="float64").reshape(5, 8))
    for ax, (name, units, offset, scale) in zip(
        line.axes_manager._axes, [("x", "nm", 0.0, 2.0), ("Raman shift", "cm-1", 100.0, 10.0)]
    ):
        ax.name, ax.units, ax.offset, ax.scale = name, units, offset, scale
    for name, sig in [("hyperspy_si", si), ("hyperspy_linescan", line)]:
        for ext in ("hspy", "nxs"):
            path = os.path.join(FIXTURES, f"{name}.{ext}")
            if not os.path.exists(path):
                sig.save(path)


def describe(s):
    data = np.asarray(s.data)
    out = {
        "class": type(s).__name__,
        "dtype": str(data.dtype),
        "shape": list(data.shape),
        "navigation_shape": list(s.axes_manager.navigation_shape),
        "signal_shape": list(s.axes_manager.signal_shape),
        "axes": [
            {
                "name": str(a.name),
                "units": str(a.units),
                "size": int(a.size),
                "offset": float(a.offset),
                "scale": float(a.scale),
                "navigate": bool(a.navigate),
            }
            for a in s.axes_manager._axes
        ],
    }
    if np.iscomplexobj(data):
        return out
    # Spectra in the reading order of specflow: one row per navigation index (x fastest), signal last.
    rows = s.data.reshape(-1, s.axes_manager.signal_size) if s.axes_manager.signal_dimension == 1 else data.reshape(1, -1)
    flat = np.asarray(rows, dtype="float64").ravel()
    out["sum"] = float(flat.sum())
    out["sum_squares"] = float((flat ** 2).sum())
    out["sha256_float32"] = hashlib.sha256(np.ascontiguousarray(flat, dtype="<f4").tobytes()).hexdigest()
    out["values"] = flat.tolist() if flat.size <= FULL_LIMIT else flat[:256].tolist()
    out["values_complete"] = bool(flat.size <= FULL_LIMIT)
    md = s.metadata.as_dictionary()
    out["metadata"] = {
        "title": md.get("General", {}).get("title"),
        "signal_type": md.get("Signal", {}).get("signal_type"),
        "beam_energy": md.get("Acquisition_instrument", {}).get("TEM", {}).get("beam_energy"),
        "convergence_angle": md.get("Acquisition_instrument", {}).get("TEM", {}).get("convergence_angle"),
        "collection_angle": md.get("Acquisition_instrument", {}).get("TEM", {}).get("Detector", {}).get("EELS", {}).get("collection_angle"),
        "exposure": md.get("Acquisition_instrument", {}).get("TEM", {}).get("Detector", {}).get("EELS", {}).get("exposure"),
    }
    return out


def main():
    make_fixtures()
    result = {"hyperspy_version": hs.__version__ if hasattr(hs, "__version__") else __import__("hyperspy").__version__, "files": {}}
    patterns = [
        (SHARED, "digitalmicrograph/*/*.dm[34]"),
        (SHARED, "msa/*.msa"),
        (SHARED, "hspy/*.hspy"),
        (SHARED, "nexus/*.nxs"),
        (FIXTURES, "*.hspy"),
        (FIXTURES, "*.nxs"),
    ]
    for base, pattern in patterns:
        for path in sorted(glob.glob(os.path.join(base, pattern))):
            key = ("instruments/" if base == SHARED else "fixtures/") + os.path.relpath(path, base)
            loaded = hs.load(path)
            signals = loaded if isinstance(loaded, list) else [loaded]
            # NeXus files also expose their auxiliary arrays as signals; the first is the NXdata signal.
            result["files"][key] = describe(signals[0])
            print(key, result["files"][key]["shape"], file=sys.stderr)
    with open(os.path.join(ROOT, "test", "golden", "hyperspy.json"), "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()

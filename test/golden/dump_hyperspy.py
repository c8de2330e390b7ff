#!/usr/bin/python3
"""Dump HyperSpy's view of instrument files as JSON, the golden values of test/data/formats-golden.test.ts.

Run from the repository root with Debian's HyperSpy (apt-get install python3-hyperspy, 1.7.x):

    /usr/bin/python3 test/golden/dump_hyperspy.py

It reads every file HyperSpy 1.7 opens under ../shared/data/instruments (DM3/DM4, MSA, HSPY, NeXus) and
the small fixtures in test/fixtures/formats (written here first when absent: a spectrum image and a line
scan written by HyperSpy as .hspy and NeXus, so the HDF5 readers are checked on spectra, not only on the
images of the shared folder; and DM3/DM4 files from the small writer below — a spectrum image, a
big-endian DM4 line scan, single spectra of several data types, an RGB image). Output: test/golden/hyperspy.json, keyed by path relative to its folder.
"""
import glob
import hashlib
import json
import os
import struct
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


# ---------------------------------------------------------------- DigitalMicrograph fixtures
# A minimal DM3/DM4 writer (the tag-tree layout HyperSpy's reader documents), so spectrum images,
# line scans, big-endian files and several data types, which the shared files lack, are checked
# against HyperSpy too. Tag headers are big endian; values use the file's byte order.

DM_TYPES = {"int16": (2, "h"), "int32": (3, "i"), "uint16": (4, "H"), "uint32": (5, "I"), "float32": (6, "f"),
            "float64": (7, "d"), "int8": (9, "b"), "uint8": (10, "B")}
IMAGE_DATATYPE = {"int16": 1, "float32": 2, "uint8": 6, "int32": 7, "int8": 9, "uint16": 10, "uint32": 11, "float64": 12}


class DM:
    def __init__(self, version, little):
        self.v, self.little = version, little
        self.o = "<" if little else ">"

    def count(self, n):
        return struct.pack(">Q" if self.v == 4 else ">I", n)

    def tag(self, kind, name, body):
        name = name.encode("latin1")
        head = bytes([kind]) + struct.pack(">H", len(name)) + name
        return head + (struct.pack(">Q", len(body)) if self.v == 4 else b"") + body

    def group(self, name, children):
        return self.tag(20, name, b"\x00\x00" + self.count(len(children)) + b"".join(children))

    def number(self, name, value, kind="float32"):
        code, fmt = DM_TYPES[kind]
        return self.tag(21, name, b"%%%%" + self.count(1) + self.count(code) + struct.pack(self.o + fmt, value))

    def array(self, name, values, kind):
        code, fmt = DM_TYPES[kind]
        data = struct.pack(self.o + fmt * len(values), *values)
        return self.tag(21, name, b"%%%%" + self.count(3) + self.count(20) + self.count(code) + self.count(len(values)) + data)

    def text(self, name, s):
        return self.array(name, [ord(c) for c in s], "uint16")

    def file(self, children):
        body = b"\x01\x00" + self.count(len(children)) + b"".join(children) + b"\x00" * 8
        # As in Gatan's files here: the size field is the file length less 16 (DM3) or 24 (DM4) bytes.
        size = len(body) + (16 if self.v == 4 else 12) - (24 if self.v == 4 else 16)
        header = struct.pack(">i", self.v) + self.count(size) + struct.pack(">i", 1 if self.little else 0)
        return header + body


def dm_image(version, little, kind, dims, calib, values, fmt=None, signal=None, datatype=None, array_kind=None):
    """dims fastest first (DM order); calib = [(origin, scale, units)] per dimension; values in DM's memory order."""
    w = DM(version, little)
    cal = [w.group("", [w.number("Origin", o), w.number("Scale", s), w.text("Units", u)]) for o, s, u in calib]
    tags = []
    if fmt or signal:
        tags.append(w.group("Meta Data", ([w.text("Format", fmt)] if fmt else []) + ([w.text("Signal", signal)] if signal else [])))
    tags.append(w.group("Microscope Info", [w.number("Voltage", 200000.0)]))
    image = w.group("", [
        w.group("ImageData", [
            w.group("Calibrations", [
                w.group("Brightness", [w.number("Origin", 0.0), w.number("Scale", 1.0), w.text("Units", "counts")]),
                w.group("Dimension", cal),
            ]),
            w.array("Data", values, array_kind or kind),
            w.number("DataType", datatype or IMAGE_DATATYPE[kind], "int32"),
            w.group("Dimensions", [w.number("", d, "uint32") for d in dims]),
        ]),
        w.group("ImageTags", tags),
        w.text("Name", "specflow fixture"),
    ])
    return w.file([w.group("ImageList", [image])])


def make_dm_fixtures():
    rng = np.random.default_rng(11)
    files = {}
    # spectrum image: x 4 (origin -2, 0.5 nm), y 3 (origin 1, 0.25 nm), energy 16 (origin -200 → offset 100 eV, 0.5 eV); energy slowest
    si = rng.integers(0, 1000, size=16 * 3 * 4).astype("float32") / 8
    files["dm_si_float32.dm3"] = dm_image(3, True, "float32", [4, 3, 16], [(-2, 0.5, "nm"), (1, 0.25, "nm"), (-200, 0.5, "eV")],
                                          si.tolist(), fmt="Spectrum image", signal="EELS")
    # line scan, DM4, big endian, int16: energy 8 (fastest), 5 positions
    line = rng.integers(-300, 300, size=8 * 5).tolist()
    files["dm_linescan_int16_be.dm4"] = dm_image(4, False, "int16", [8, 5], [(10, 2.0, "eV"), (0, 1.5, "µm")], line,
                                                 fmt="Spectrum image", signal="EELS")
    # single spectra of other element types
    files["dm_spectrum_uint16.dm3"] = dm_image(3, True, "uint16", [12], [(4, 0.01, "keV")], rng.integers(0, 65535, 12).tolist(), signal="X-ray")
    files["dm_spectrum_int8_be.dm3"] = dm_image(3, False, "int8", [10], [(0, 1.0, "eV")], rng.integers(-128, 127, 10).tolist())
    files["dm_spectrum_uint32.dm4"] = dm_image(4, True, "uint32", [6], [(0, 0.1, "eV")], rng.integers(0, 2**32 - 1, 6).tolist())
    files["dm_spectrum_float64_be.dm4"] = dm_image(4, False, "float64", [7], [(-1, 0.5, "eV")], (rng.normal(size=7) * 1e3).tolist())
    # RGB image (DataType 23, stored as uint32): refused
    files["dm_rgb.dm3"] = dm_image(3, True, "uint32", [3, 2], [(0, 1, ""), (0, 1, "")], list(range(6)), datatype=23)
    for name, data in files.items():
        path = os.path.join(FIXTURES, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)


def dm_big_endian(path):
    """A DM file whose byte-order flag says big endian (HyperSpy 1.7 reads its image data as little endian)."""
    if not path.endswith((".dm3", ".dm4")):
        return False
    with open(path, "rb") as f:
        head = f.read(16)
    version = struct.unpack(">i", head[:4])[0]
    return struct.unpack(">i", head[8:12] if version == 3 else head[12:16])[0] == 0


def describe(s, swap=False):
    data = np.asarray(s.data)
    if swap:
        # HyperSpy 1.7.3 reads image data in the machine's byte order whatever the DM header says; its tags
        # (calibrations) it reads right. The values it would give honouring the flag are its values byte-swapped.
        data = data.byteswap()
    out = {
        "byteswapped": swap,
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
    if np.iscomplexobj(data) or data.dtype.names:  # complex or RGB(A): no values to compare
        return out
    # Spectra in the reading order of specflow: one row per navigation index (x fastest), signal last.
    rows = data.reshape(-1, s.axes_manager.signal_size) if s.axes_manager.signal_dimension == 1 else data.reshape(1, -1)
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
    make_dm_fixtures()
    result = {"hyperspy_version": hs.__version__ if hasattr(hs, "__version__") else __import__("hyperspy").__version__, "files": {}}
    patterns = [
        (SHARED, "digitalmicrograph/*/*.dm[34]"),
        (SHARED, "msa/*.msa"),
        (SHARED, "hspy/*.hspy"),
        (SHARED, "nexus/*.nxs"),
        (FIXTURES, "*.hspy"),
        (FIXTURES, "*.nxs"),
        (FIXTURES, "*.dm[34]"),
    ]
    for base, pattern in patterns:
        for path in sorted(glob.glob(os.path.join(base, pattern))):
            key = ("instruments/" if base == SHARED else "fixtures/") + os.path.relpath(path, base)
            try:
                loaded = hs.load(path)
            except Exception as e:  # e.g. the RGB fixture: record that HyperSpy refuses it too
                result["files"][key] = {"error": f"{type(e).__name__}: {e}"}
                continue
            signals = loaded if isinstance(loaded, list) else [loaded]
            # NeXus files also expose their auxiliary arrays as signals; the first is the NXdata signal.
            result["files"][key] = describe(signals[0], swap=dm_big_endian(path))
            print(key, result["files"][key]["shape"], file=sys.stderr)
    with open(os.path.join(ROOT, "test", "golden", "hyperspy.json"), "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()

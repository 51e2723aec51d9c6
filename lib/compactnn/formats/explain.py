"""Inspection of stored matrices: their arrays, code tables and bit streams.

Everything here is read from a format's real stored arrays (nothing is
re-encoded by hand), for teaching and debugging on small matrices:

* :func:`code_table` -- the canonical Huffman code of a HAM / sHAM / sHAM-gap
  matrix: symbol, value, count, codeword, length;
* :func:`codewords` -- the stream cut into its codewords, one row per codeword
  (start bit, bits, what it encodes, row and column);
* :func:`bit_string` -- the stream as ``0``/``1`` text with codeword
  boundaries (``|``) and column or block starts (``‖``) marked, and
  :func:`word_strings` -- the same bits split into the stored ``B``-bit words;
* :func:`trace_product` -- ``x^T W`` computed one decoded entry at a time with
  the running sum of each output, checked against NumPy;
* :func:`explain` -- a dict of all the tables that apply to a format (what
  :meth:`MatrixFormat.explain` returns);
* :func:`draw_code_tree` -- the code tree drawn with matplotlib.

The decoders here are plain Python (bit by bit): use them on small matrices.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import huffman
from .base import MatrixFormat

__all__ = ["explain", "code_table", "codewords", "bit_string", "word_strings", "trace_product",
           "csc_arrays", "grouped_arrays", "draw_code_tree"]

#: Matrices larger than this many entries are refused by the bit-level helpers.
MAX_ENTRIES = 1 << 16
BOUNDARY = "|"
SEGMENT = "‖"


def _check_small(M: MatrixFormat) -> None:
    n, m = M.shape
    if n * m > MAX_ENTRIES:
        raise ValueError(f"inspection decodes bit by bit in Python: {n}x{m} is too large "
                         f"(at most {MAX_ENTRIES} entries)")


def _huffman_formats(M: MatrixFormat) -> None:
    if M.format not in ("ham", "sham", "sham_gap"):
        raise TypeError(f"{type(M).__name__} has no Huffman stream (HAM, sHAM and sHAM-gap do)")


def _canonical(len_count: np.ndarray) -> huffman.CanonicalCode:
    """The canonical code described by ``len_count`` (symbols in canonical order)."""
    lengths = np.repeat(np.arange(len_count.size), len_count.astype(np.int64))
    return huffman.from_lengths(lengths.astype(np.uint8))


def _codebook(len_count: np.ndarray) -> dict[tuple[int, int], int]:
    code = _canonical(len_count)
    return {(int(l), int(c)): i for i, (l, c) in enumerate(zip(code.canonical_lengths, code.codes))}


def _bits(M: MatrixFormat) -> np.ndarray:
    return huffman.unpack_bits(M.words)[: M.payload_bits()]


def _read(bits: np.ndarray, pos: int, book: dict, maxlen: int) -> tuple[int, int]:
    """Decode one codeword at ``pos``: (canonical index, bit length)."""
    code = 0
    for l in range(1, maxlen + 1):
        if pos + l > bits.size:
            break
        code = (code << 1) | int(bits[pos + l - 1])
        hit = book.get((l, code))
        if hit is not None:
            return hit, l
    raise ValueError(f"no valid codeword at bit {pos}")


def _as_bits(bits: np.ndarray, start: int, length: int) -> str:
    return "".join(map(str, bits[start:start + length].tolist()))


def codewords(M: MatrixFormat) -> pd.DataFrame:
    """The stream of a HAM, sHAM or sHAM-gap matrix, one row per codeword.

    Columns: ``start`` (bit), ``bits`` (the codeword as text), ``length``,
    ``kind`` (``value``; for sHAM-gap also ``gap``, ``extra`` and ``end``),
    ``symbol`` (canonical index in its code), ``value``, ``row`` and ``column``
    of the entry it belongs to (-1 for a block end).
    """
    _huffman_formats(M)
    _check_small(M)
    if M.format == "sham_gap":
        return _gap_codewords(M)
    n, m = M.shape
    bits = _bits(M)
    book, maxlen = _codebook(M.len_count), M.len_count.size - 1
    col_bits = M.col_bits.astype(np.int64)
    cb = np.arange(m + 1, dtype=np.int64) * n if M.format == "ham" else M.cb.astype(np.int64)
    rows_of = None if M.format == "ham" else M.ri.astype(np.int64)
    out = []
    for c in range(m):
        pos = int(col_bits[c])
        for e in range(int(cb[c]), int(cb[c + 1])):
            sym, length = _read(bits, pos, book, maxlen)
            row = e - int(cb[c]) if rows_of is None else int(rows_of[e])
            out.append((pos, _as_bits(bits, pos, length), length, "value", sym,
                        M.values[sym].item(), row, c))
            pos += length
        if pos != int(col_bits[c + 1]):
            raise ValueError(f"column {c} ends at bit {pos}, col_bits says {int(col_bits[c + 1])}")
    return pd.DataFrame(out, columns=["start", "bits", "length", "kind", "symbol", "value",
                                      "row", "column"])


def _gap_codewords(M) -> pd.DataFrame:
    n, m = M.shape
    bits = _bits(M)
    gbook, gmax = _codebook(M.gap_len_count), M.gap_len_count.size - 1
    vbook, vmax = _codebook(M.len_count), M.len_count.size - 1
    gap_syms = M.gap_syms.astype(np.int64)
    blk_bits = M.blk_bits.astype(np.int64)
    group, lit = M.group, M.lit
    out = []
    for b in range(blk_bits.size - 1):
        pos, where = int(blk_bits[b]), -1
        while True:
            gi, gl = _read(bits, pos, gbook, gmax)
            gsym = int(gap_syms[gi])
            if gsym == lit:
                out.append((pos, _as_bits(bits, pos, gl), gl, "end", gi, None, -1, -1))
                pos += gl
                break
            out.append((pos, _as_bits(bits, pos, gl), gl, "gap", gi, None, -1, -1))
            pos += gl
            if gsym < lit:
                gap = gsym
            else:
                j = gsym - lit - 1
                extra = int(_as_bits(bits, pos, j) or "0", 2)
                if j:
                    out.append((pos, _as_bits(bits, pos, j), j, "extra", -1, None, -1, -1))
                pos += j
                gap = (1 << j) + extra + lit - 1
            where += gap + 1
            col, row = b * group + where // n, where % n
            for i in range(len(out) - 1, -1, -1):   # the gap (and extra) belong to this entry
                if out[i][3] not in ("gap", "extra") or out[i][6] != -1:
                    break
                out[i] = out[i][:6] + (row, col)
            vi, vl = _read(bits, pos, vbook, vmax)
            out.append((pos, _as_bits(bits, pos, vl), vl, "value", vi, M.values[vi].item(), row, col))
            pos += vl
        if pos != int(blk_bits[b + 1]):
            raise ValueError(f"block {b} ends at bit {pos}, blk_bits says {int(blk_bits[b + 1])}")
    return pd.DataFrame(out, columns=["start", "bits", "length", "kind", "symbol", "value",
                                      "row", "column"])


def bit_string(M: MatrixFormat) -> str:
    """The written bits of the stream, ``|`` between codewords, ``‖`` at each column
    (sHAM-gap: block) start.  Padding after the last codeword is left out."""
    cw = codewords(M)
    starts = M.col_bits if M.format != "sham_gap" else M.blk_bits
    seg = set(int(s) for s in np.asarray(starts)[:-1])
    parts = []
    for start, bits in zip(cw["start"], cw["bits"]):
        parts.append(SEGMENT if start in seg else BOUNDARY)
        parts.append(bits)
    return "".join(parts[1:]) if parts else ""


def word_strings(M: MatrixFormat) -> list[str]:
    """The stored words as ``B``-bit strings (``B`` = ``wordbits``), padding included."""
    _huffman_formats(M)
    B = M.wordbits
    return [format(int(w), f"0{B}b") for w in M.words]


def code_table(M: MatrixFormat) -> pd.DataFrame:
    """The canonical Huffman code of a HAM, sHAM or sHAM-gap matrix.

    One row per value symbol: ``symbol`` (canonical index), ``value``, ``count``
    (occurrences in the stream), ``codeword`` and ``length``.
    """
    _huffman_formats(M)
    code = _canonical(M.len_count)
    cw = codewords(M)
    vals = cw[cw["kind"] == "value"]
    counts = np.bincount(vals["symbol"].to_numpy(dtype=np.int64), minlength=M.k)
    lens = code.canonical_lengths.astype(int)
    return pd.DataFrame({
        "symbol": np.arange(M.k),
        "value": M.values,
        "count": counts,
        "codeword": [format(int(c), f"0{l}b") for c, l in zip(code.codes, lens)],
        "length": lens,
    })


def csc_arrays(W: np.ndarray) -> dict[str, np.ndarray]:
    """CSC arrays of a dense matrix, from the package's CSC format (``data``, ``indices``, ``indptr``)."""
    from .base import get_format

    return dict(get_format("csc").from_dense(W)._arrays())


def grouped_arrays(M: MatrixFormat) -> dict[str, Any]:
    """CER / CSER: the stored arrays and one row per group (output, value, inputs)."""
    if M.format not in ("cer", "cser"):
        raise TypeError(f"{type(M).__name__} is not CER or CSER")
    gp = M.gp.astype(np.int64)
    rp = M.rp.astype(np.int64)
    out_of = np.repeat(np.arange(M.shape[1]), np.diff(rp))
    gv = M.group_values()
    groups = pd.DataFrame({"group": np.arange(M.ngroups), "output (column)": out_of,
                           "value": M.values[gv],
                           "inputs (rows)": [M.ci[gp[g]:gp[g + 1]].tolist() for g in range(M.ngroups)]})
    return {"arrays": dict(M._arrays()), "groups": groups}


def trace_product(M: MatrixFormat, x: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``x^T W`` one decoded entry at a time, as the stream is read.

    Returns ``(steps, y)``: one row per codeword read (``codeword``, ``symbol``,
    ``value``, ``row``, ``column``, ``x[row]``, ``skipped`` for HAM's zeros and
    the ``running sum`` of that column), and the resulting vector ``y``.

    Raises
    ------
    ArithmeticError
        ``y`` differs from NumPy's ``x @ W`` (``M.to_dense()``) beyond rounding.
    """
    x = np.asarray(x, dtype=M.dtype)
    if x.shape != (M.shape[0],):
        raise ValueError(f"x must have shape ({M.shape[0]},), got {x.shape}")
    cw = codewords(M)
    cw = cw[cw["kind"] == "value"]
    y = np.zeros(M.shape[1], dtype=M.dtype)
    rows = []
    for bits, sym, val, r, c in zip(cw["bits"], cw["symbol"], cw["value"], cw["row"], cw["column"]):
        skipped = val == 0
        if not skipped:
            y[c] += M.dtype.type(val) * x[r]
        rows.append((bits, sym, val, r, c, x[r].item(), bool(skipped), y[c].item()))
    steps = pd.DataFrame(rows, columns=["codeword", "symbol", "value", "row", "column", "x[row]",
                                        "skipped", "running sum"])
    ref = x @ M.to_dense()
    if not np.allclose(y, ref, rtol=1e-5, atol=1e-6):
        raise ArithmeticError(f"traced product {y} differs from NumPy's {ref}")
    return steps, y


def explain(M: MatrixFormat) -> dict[str, Any]:
    """Every inspection table that applies to ``M``, by name.

    Always ``dense`` (the matrix) and ``nbytes`` (the byte breakdown); Huffman
    formats add ``code``, ``codewords``, ``bits`` and ``words``; sHAM adds
    ``ri`` and ``cb``; CER/CSER add ``groups``; every format adds its stored
    ``arrays``.
    """
    _check_small(M)
    out: dict[str, Any] = {"format": M.format, "dense": pd.DataFrame(M.to_dense()),
                           "nbytes": pd.Series(M.nbytes_breakdown(), name="bytes"),
                           "arrays": dict(M._arrays())}
    if M.format in ("ham", "sham", "sham_gap"):
        out.update(code=code_table(M), codewords=codewords(M), bits=bit_string(M),
                   words=word_strings(M))
    if M.format == "sham":
        out.update(ri=M.ri, cb=M.cb)
    if M.format in ("cer", "cser"):
        out.update(groups=grouped_arrays(M)["groups"])
    return out


def draw_code_tree(table: pd.DataFrame | MatrixFormat, ax=None, fontsize: int = 16):
    """Draw the Huffman code tree of a :func:`code_table` (or of a matrix).

    Left edges are ``0``, right edges ``1``; each leaf shows its value and count.
    Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    if isinstance(table, MatrixFormat):
        table = code_table(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 6))
    leaves = list(zip(table["codeword"], table["value"], table["count"]))
    maxlen = max((len(c) for c, _, _ in leaves), default=0)
    # leaf x positions in code order; an internal node sits over its leaves' mean
    xs = {c: i for i, (c, _, _) in enumerate(sorted(leaves, key=lambda t: t[0]))}

    def x_of(prefix: str) -> float:
        under = [xs[c] for c in xs if c.startswith(prefix)]
        return float(np.mean(under))

    prefixes = {c[:i] for c, _, _ in leaves for i in range(len(c) + 1)}
    for p in prefixes:
        if p:
            parent = p[:-1]
            ax.plot([x_of(parent), x_of(p)], [-len(parent), -len(p)], color="0.4", lw=2)
            ax.text((x_of(parent) + x_of(p)) / 2, -len(p) + 0.5, p[-1], fontsize=fontsize,
                    ha="center", va="center", color="tab:blue",
                    bbox={"fc": "white", "ec": "none", "pad": 0.5})
    for c, v, cnt in leaves:
        ax.text(x_of(c), -len(c) - 0.25, f"{v:g}\n×{cnt}\n{c}", fontsize=fontsize, ha="center",
                va="top", bbox={"fc": "lightyellow", "ec": "0.5"})
    ax.set_xlim(-0.7, max(len(xs) - 0.3, 0.7))
    ax.set_ylim(-maxlen - 1.6, 0.4)
    ax.set_axis_off()
    ax.set_title("Huffman code tree (left 0, right 1)", fontsize=fontsize + 2)
    return ax

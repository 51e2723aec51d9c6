"""CER and CSER: Compressed Entropy Row and Compressed Shared Elements Row.

Wiedemann, Müller, Samek, "Compact and Computationally Efficient Representation
of Deep Neural Networks", IEEE TNNLS 2020 (SPEC section 3).

The formats are row-oriented for the product ``W' x`` with ``W' = W^T``; our
matrices are ``n x m`` and the product is ``X @ W``, so a "row" here is one
output: column ``c`` of ``W``, and its "column indices" are input indices.

Definitions
-----------
The ``k`` distinct values of ``W`` (by bit pattern) are listed once in
``values``, ordered by frequency, most frequent first.  ``values[0]`` is the
*implicit* value: no entry holding it is stored.  Every other entry is listed
in its output's row, grouped by value; inside a group the input indices
increase.  A group is an interval of ``ci`` delimited by consecutive group
pointers ``gp``; row ``c`` owns groups ``rp[c] .. rp[c+1]-1``.

* **CER** keeps a row's groups in the global frequency order: group ``j`` of
  row ``c`` has value ``values[1 + j - rp[c]]``.  A value absent from a row but
  more frequent than one present still gets an (empty) group, which costs one
  pointer; groups after the row's last present value are not stored (the row
  pointer already says how many groups a row has).  Consecutive rows share
  their boundary pointer, so ``gp`` has one entry per group plus one.  (The
  paper's text was not at hand when this was written; the layout follows
  SPEC section 3, and these two details are our choice.)
* **CSER** stores only non-empty groups and, per group, the index of its value
  in ``vi``; a row's groups follow the frequency order (``vi`` increases
  within a row).

Stored arrays:

====== ========== ==============================================================
name   category   content
====== ========== ==============================================================
values codebook   the ``k`` distinct values by frequency, implicit one first
ci     indices    input index of each stored entry, group by group (q entries)
gp     pointers   group pointers into ``ci`` (groups + 1; ``gp[0] = 0``, last ``q``)
rp     pointers   row pointers into the groups (m + 1; ``rp[0] = 0``, last groups)
vi     indices    CSER only: value index of each group (``1 <= vi < k``)
====== ========== ==============================================================

There is no "payload" category: the values are identified by the grouping
(CER) or by ``vi`` (CSER), which is counted with the indices because it is an
index array, one entry per group.

Choices where the paper leaves room
-----------------------------------
* Integer widths: every integer array uses the narrowest of uint8/16/32/64 that
  holds its largest possible value (``ci``: n - 1, ``gp``: q, ``rp``: the number
  of groups, ``vi``: k - 1), each chosen independently.  Files with wider
  (non-minimal) widths load too.
* The implicit value is stored (``values[0]``, one word) instead of being
  assumed zero, so matrices whose most frequent value is not zero round-trip
  exactly.  The product then sums, per row, the inputs the row does not list
  and multiplies that sum by ``values[0]`` (O(n) more per row; subtracting the
  listed inputs from the total would cancel and lose accuracy).
* Zeros: when zero (counting ``+0.0`` and ``-0.0`` together) is at least as
  frequent as any other value, it is the implicit value and ``-0.0`` weights
  read back as ``+0.0`` (as in sHAM and SciPy).  Otherwise every value,
  ``±0.0`` included, is kept by bit pattern, so the round trip is bit-exact.
* Ties in frequency are broken by bit pattern (ascending), ``+0.0`` first.
* A CER row with ``g`` groups covers values ``1 .. g``; with ``k`` distinct
  values its pointers can reach ``m (k - 1) + 1`` entries, so CER only suits
  low-entropy matrices (quantized weights), as the paper intends.
* ``_from_arrays`` accepts only the canonical layout: frequency-ordered values
  (``values[0]`` at least as frequent as any stored one, stored counts
  non-increasing and positive), no empty CSER group, no trailing empty CER
  group, increasing inputs inside a group and no position listed twice.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .. import _native
from ..errors import FormatError
from . import _coding
from .base import MatrixFormat, _smallest_uint, expect_array, register, require

_UINTS = (np.uint8, np.uint16, np.uint32, np.uint64)
_UINT_OF = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def _by_frequency(counts: np.ndarray) -> np.ndarray:
    """Rank of each distinct value, most frequent first; ties keep np.unique's bit order."""
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank


def frequency_symbols(flat: np.ndarray):
    """Values of ``flat`` ranked by frequency, and the entries that are stored.

    Returns ``(values, pos, sym)``: ``values[0]`` is the implicit value, ``pos``
    the (increasing) positions in ``flat`` of the other entries and ``sym >= 1``
    their indices into ``values``.  ``-0.0`` entries join an implicit ``+0.0``
    (see the module docstring).
    """
    is_zero = flat == 0
    zeros = int(np.count_nonzero(is_zero))
    nonzero = flat[~is_zero]
    distinct, inverse, counts = _coding.symbolize(nonzero)
    if zeros and zeros >= int(counts.max(initial=0)):
        # the common case: only the nonzero entries are ranked
        rank = _by_frequency(counts)
        values = np.concatenate([np.zeros(1, flat.dtype), distinct[np.argsort(rank)]])
        return values, np.flatnonzero(~is_zero), rank[inverse] + 1
    distinct, inverse, counts = _coding.symbolize(flat)
    rank = _by_frequency(counts)
    sym = rank[inverse]
    pos = np.flatnonzero(sym)
    return np.ascontiguousarray(distinct[np.argsort(rank)]), pos, sym[pos]


#: Groups a CER matrix may have beyond ``4 n m`` (each costs a pointer; see :func:`_check_cer_groups`).
CER_FREE_GROUPS = 2 ** 24


def _check_cer_groups(groups: int, n: int, m: int, k: int) -> None:
    """Refuse a CER layout of more than ``CER_FREE_GROUPS + 4 n m`` groups.

    A CER row has one group per value up to its last present one, so a matrix
    with many distinct values needs up to ``m (k - 1)`` group pointers (a
    1500 x 1500 all-distinct matrix would need 3.4e9 of them, 25 GiB).  Raised
    before those pointers are allocated; CSER has no such limit.
    """
    limit = CER_FREE_GROUPS + 4 * n * m
    if groups > limit:
        raise FormatError(
            f"CER needs {groups} group pointers for a {n}x{m} matrix with {k} distinct values "
            f"(limit {limit}); CER is meant for few distinct values (quantized weights): "
            "quantize the matrix first or use CSER")


class _GroupedRows(MatrixFormat):
    """Shared by CER and CSER; ``_explicit_values`` says whether groups carry ``vi``."""

    _explicit_values: ClassVar[bool] = False

    def __init__(self, shape, dtype, values, ci, gp, rp, vi, meta):
        super().__init__(shape, dtype, meta)
        self.values, self.ci, self.gp, self.rp, self.vi = values, ci, gp, rp, vi
        self._gp64 = gp.astype(np.int64)
        self._rp64 = rp.astype(np.int64)

    # ---- construction -------------------------------------------------------
    @classmethod
    def _from_dense(cls, W):
        n, m = W.shape
        values, pos, s = frequency_symbols(np.ascontiguousarray(W.T).reshape(-1))
        k = values.size
        row, col = pos // max(n, 1), pos % max(n, 1)    # pos is row-major in W^T
        perm = np.argsort(row * k + s, kind="stable")   # by (row, value), inputs ascending
        key, ci = (row * k + s)[perm], col[perm]
        q = ci.size
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if q else np.zeros(0, np.int64)
        run_row, run_sym = key[starts] // max(k, 1), key[starts] % max(k, 1)
        rp = np.zeros(m + 1, dtype=np.int64)
        if cls._explicit_values:
            np.cumsum(np.bincount(run_row, minlength=m), out=rp[1:])
            gp = np.r_[starts, q].astype(np.int64)
            vi = run_sym.astype(_smallest_uint(max(k - 1, 0)))
        else:
            ngroups = np.zeros(m, dtype=np.int64)
            last = np.flatnonzero(np.r_[run_row[1:] != run_row[:-1], True]) if q else starts
            ngroups[run_row[last]] = run_sym[last]      # runs are sorted: the last has the max value
            np.cumsum(ngroups, out=rp[1:])
            _check_cer_groups(int(rp[-1]), n, m, k)
            sizes = np.zeros(int(rp[-1]), dtype=np.int64)
            sizes[rp[run_row] + run_sym - 1] = np.diff(np.r_[starts, q])
            gp = np.zeros(sizes.size + 1, dtype=np.int64)
            np.cumsum(sizes, out=gp[1:])
            vi = None
        return cls(W.shape, W.dtype, values, ci.astype(_smallest_uint(max(n - 1, 0))),
                   gp.astype(_smallest_uint(q)), rp.astype(_smallest_uint(int(rp[-1]))), vi,
                   {"nnz": int(np.count_nonzero(W))})

    # ---- description --------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of distinct values, the implicit one included."""
        return int(self.values.size)

    @property
    def ngroups(self) -> int:
        """Number of groups (CER: empty ones included)."""
        return int(self.gp.size - 1)

    @property
    def implicit_value(self):
        """The value of every position no group lists."""
        return self.values[0] if self.k else self.dtype.type(0)

    def group_values(self) -> np.ndarray:
        """Index into ``values`` of each group (int64)."""
        if self._explicit_values:
            return self.vi.astype(np.int64)
        group_row = np.repeat(np.arange(self.shape[1]), np.diff(self._rp64))
        return np.arange(self.ngroups, dtype=np.int64) - self._rp64[group_row] + 1

    def _entries(self):
        """Output (row of W^T) and value index of each stored entry."""
        sizes = np.diff(self._gp64)
        group_row = np.repeat(np.arange(self.shape[1]), np.diff(self._rp64))
        return np.repeat(group_row, sizes), np.repeat(self.group_values(), sizes)

    def to_dense(self):
        n, m = self.shape
        W = np.full((n, m), self.implicit_value, dtype=self.dtype)
        rows, vals = self._entries()
        W[self.ci.astype(np.int64), rows] = self.values[vals]
        return W

    def _arrays(self):
        arrays = {"values": self.values, "ci": self.ci, "gp": self.gp, "rp": self.rp}
        if self._explicit_values:
            arrays["vi"] = self.vi
        return arrays

    def _breakdown_map(self):
        cats = {"values": "codebook", "ci": "indices", "gp": "pointers", "rp": "pointers"}
        if self._explicit_values:
            cats["vi"] = "indices"
        return cats

    # ---- product --------------------------------------------------------------
    def _bind_kernel(self):
        n = self.shape[0]
        if self._explicit_values:
            return _native.cser_product(n, self.values, self.ci, self.gp, self.rp, self.vi)
        return _native.cer_product(n, self.values, self.ci, self.gp, self.rp)

    # ---- files ---------------------------------------------------------------
    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        n, m = shape
        name = cls.format.upper()
        values = expect_array(arrays, "values", dtype)
        ci = expect_array(arrays, "ci", _UINTS)
        gp = expect_array(arrays, "gp", _UINTS)
        rp = expect_array(arrays, "rp", _UINTS)
        vi = expect_array(arrays, "vi", _UINTS) if cls._explicit_values else None
        require(set(arrays) == set(["values", "ci", "gp", "rp"] + (["vi"] if vi is not None else [])),
                f"unexpected arrays for {name}: {sorted(arrays)}")
        _coding.check_values(values)
        k, q = values.size, ci.size
        require(k >= 1 if n * m else k == 0, f"{name} has {k} values for a {n}x{m} matrix")
        bits = values.view(_UINT_OF[values.dtype])
        require(bool(np.all(np.diff(np.sort(bits)) != 0)), f"{name} values are not distinct")
        zero_implicit = k == 0 or values[0] == 0
        if k and zero_implicit:
            require(int(bits[0]) == 0, "implicit zero must be +0.0")
            require(not bool(np.any(values[1:] == 0)), "zero stored although it is implicit")
        require(gp.size >= 1, "group pointers are empty")
        G = gp.size - 1
        gp64 = _coding.check_offsets(gp, G, q, "gp")
        require(int(gp64[-1]) == q, "group pointers do not cover the column indices")
        rp64 = _coding.check_offsets(rp, m, G, "rp")
        require(int(rp64[-1]) == G, "row pointers do not cover the groups")
        ci64 = ci.astype(np.int64)
        require(q == 0 or int(ci64.max()) < n, "column index out of range")
        sizes, per_row = np.diff(gp64), np.diff(rp64)
        group_row = np.repeat(np.arange(m), per_row)
        if vi is not None:
            require(vi.size == G, f"{vi.size} value indices for {G} groups")
            gval = vi.astype(np.int64)
            require(G == 0 or (int(gval.min()) >= 1 and int(gval.max()) < k),
                    "value index out of range")
            require(bool(np.all(sizes > 0)), "empty CSER group")
            same_row = group_row[1:] == group_row[:-1]
            require(bool(np.all(np.diff(gval)[same_row] > 0)),
                    "value indices do not increase within a row")
        else:
            require(bool(np.all(per_row <= max(k - 1, 0))), "CER row has more groups than values")
            gval = np.arange(G, dtype=np.int64) - rp64[group_row] + 1
            require(bool(np.all(sizes[rp64[1:][per_row > 0] - 1] > 0)),
                    "CER row ends with an empty group")
        entry_row = np.repeat(group_row, sizes)
        if q > 1:
            starts = np.zeros(q, dtype=bool)
            starts[gp64[:-1][sizes > 0]] = True
            require(bool(np.all((np.diff(ci64) > 0) | starts[1:])),
                    "column indices do not increase within a group")
            keys = np.sort(entry_row * n + ci64)
            require(bool(np.all(keys[1:] != keys[:-1])), "a position is listed twice")
        counts = np.bincount(np.repeat(gval, sizes), minlength=max(k, 1))
        counts[0] = n * m - q
        require(bool(np.all(counts[1:] >= 1)), "a stored value is never used")
        require(bool(np.all(np.diff(counts) <= 0)), "values are not ordered by frequency")
        stored_nonzero = int(counts[1:][values[1:] != 0].sum())
        if not zero_implicit:
            zeros = int(counts[1:][values[1:] == 0].sum())
            require(zeros < counts[0], "zero is the most frequent value but is stored")
            stored_nonzero += int(counts[0])
        require(meta.get("nnz") == stored_nonzero, "bad nnz in header")
        return cls(shape, dtype, values, ci, gp, rp, vi, meta)


@register
class CER(_GroupedRows):
    """Compressed Entropy Row: groups of each row in global frequency order."""

    format = "cer"
    display_name = "CER"
    _explicit_values = False


@register
class CSER(_GroupedRows):
    """Compressed Shared Elements Row: non-empty groups, each with its value index."""

    format = "cser"
    display_name = "CSER"
    _explicit_values = True

"""Structurally invalid archives with a *valid* checksum are refused at load.

Each case tampers with one array or header field and recomputes the digest
through the same header code path as ``save`` (``_matrices.file_parts``), so
only the structure is wrong: decreasing or out-of-range offsets, pointers not
ending at ``q``, row indices >= n, code lengths violating Kraft, wrong word
sizes, ...  ``_from_file_parts`` and ``load`` must both raise ``FormatError``.
"""
from __future__ import annotations

import numpy as np
import pytest

from compactnn.errors import FormatError
from compactnn.formats import FORMATS, load

from _matrices import W_REF, build, file_parts, format_options, from_parts, write_parts
from _matrices import set_entry as _set

pytestmark = pytest.mark.kernel


def _ham_cases(M):
    a = M._arrays()
    words, cb, lc, vals = a["words"], a["col_bits"], a["len_count"], a["values"]
    wb = 32 if words.dtype == np.uint32 else 64
    k = vals.size
    assert cb[1] < cb[2] and k >= 3 and lc.size >= 3
    return {
        "col_bits decreasing": {"col_bits": _set(cb, 1, cb[2] + 1)},
        "col_bits past the end": {"col_bits": _set(cb, -1, words.size * wb + 1)},
        "col_bits not from 0": {"col_bits": _set(cb, 0, 1)},
        "col_bits too short": {"col_bits": cb[:-1].copy()},
        "col_bits too long": {"col_bits": np.append(cb, cb[-1])},
        "col_bits signed": {"col_bits": cb.astype(np.int64)},
        "col_bits 2-D": {"col_bits": cb.reshape(1, -1).copy()},
        "len_count violates Kraft": {"len_count": np.array([0, k], dtype=np.uint32)},
        "len_count violates Kraft at depth": {"len_count": _set(lc, -1, lc[-1] + 1),
                                              "values": np.append(vals, vals[-1] + 100)},
        "len_count total differs from k": {"len_count": _set(lc, -1, lc[-1] + 1)},
        "len_count[0] nonzero": {"len_count": _set(_set(lc, 0, 1), -1, lc[-1] - 1)},
        "len_count longer than 32 bits": {"len_count": np.append(lc, np.zeros(40, np.uint32))},
        "len_count empty": {"len_count": np.zeros(0, np.uint32)},
        "len_count huge": {"len_count": _set(lc, 1, 2**32 - 1)},
        "len_count int64": {"len_count": lc.astype(np.int64)},
        "values NaN": {"values": _set(vals, 0, np.nan)},
        "values Inf": {"values": _set(vals, 0, np.inf)},
        "values other dtype": {"values": vals.astype(np.float64)},
        "words uint16": {"words": words.view(np.uint16).copy()},
        "words int32": {"words": words.astype(np.int64)},
    }


def _ham_meta_cases(M):
    meta = dict(M._meta)
    wb = meta["wordbits"]
    n, m = M.shape
    return {
        "wrong wordbits": dict(meta, wordbits=96 - wb),
        "wordbits 16": dict(meta, wordbits=16),
        "no wordbits": {k: v for k, v in meta.items() if k != "wordbits"},
        "nnz negative": dict(meta, nnz=-1),
        "nnz above n*m": dict(meta, nnz=n * m + 1),
        "nnz not an int": dict(meta, nnz=1.5),
        "nnz missing": {k: v for k, v in meta.items() if k != "nnz"},
    }


def _sham_cases(M):
    out = _ham_cases(M)
    a = M._arrays()
    ri, cb = a["ri"], a["cb"]
    n, _ = M.shape
    q = ri.size
    out.update({
        "cb decreasing": {"cb": _set(cb, 1, cb[2] + 1)},
        "cb not ending at q": {"cb": _set(cb, -1, q - 1)},
        "cb past the end": {"cb": _set(cb, -1, q + 1)},
        "cb not from 0": {"cb": _set(cb, 0, 1)},
        "cb too short": {"cb": cb[:-1].copy()},
        "cb signed": {"cb": cb.astype(np.int64)},
        "ri equal to n": {"ri": _set(ri, 0, n)},
        "ri at the dtype maximum": {"ri": _set(ri, q - 1, np.iinfo(ri.dtype).max)},
        "ri shorter than cb says": {"ri": ri[:-1].copy()},
        "ri signed": {"ri": ri.astype(np.int16)},
        "ri uint64": {"ri": ri.astype(np.uint64)},
        "codebook contains zero": {"values": _set(a["values"], 0, 0.0)},
    })
    return out


def _sham_meta_cases(M):
    meta = dict(M._meta)
    out = {k: v for k, v in _ham_meta_cases(M).items() if "wordbits" in k}
    out.update({"nnz differs from q": dict(meta, nnz=meta["nnz"] - 1),
                "nnz missing": {k: v for k, v in meta.items() if k != "nnz"}})
    return out


def _im_cases(M):
    a = M._arrays()
    words, vals = a["words"], a["values"]
    return {
        "stream one word too long": {"words": np.append(words, words[:1])},
        "stream one word too short": {"words": words[:-1].copy()},
        "values fewer than the width implies": {"values": vals[:1].copy()},
        "values NaN": {"values": _set(vals, 1, np.nan)},
        "values empty": {"values": vals[:0].copy()},
        "words uint8": {"words": words.view(np.uint8).copy()},
    }


def _im_meta_cases(M):
    meta = dict(M._meta)
    return {**_ham_meta_cases(M),
            "width too small": dict(meta, width=meta["width"] - 1),
            "width too large": dict(meta, width=meta["width"] + 1),
            "width 40": dict(meta, width=40),
            "width missing": {k: v for k, v in meta.items() if k != "width"}}


def _dense_cases(M):
    v = M._arrays()["values"]
    return {"values transposed": {"values": v.T.copy()},
            "values flattened": {"values": v.ravel().copy()},
            "values NaN": {"values": _set(v, (0, 0), np.nan)}}


def _compressed_cases(M):
    a = M._arrays()
    ind, ptr = a["indices"], a["indptr"]
    limit = M.shape[1] if M.format == "csr" else M.shape[0]
    return {"index out of range": {"indices": _set(ind, 0, limit)},
            "negative index": {"indices": _set(ind, 0, -1)},
            "indptr decreasing": {"indptr": _set(ptr, 1, ptr[-1])},
            "indptr too short": {"indptr": ptr[:-1].copy()},
            "indptr past the data": {"indptr": _set(ptr, -1, ptr[-1] + 1)},
            "data too short": {"data": a["data"][:-1].copy()},
            "data NaN": {"data": _set(a["data"], 0, np.nan)},
            "indices float": {"indices": ind.astype(np.float64)}}


def _coo_cases(M):
    a = M._arrays()
    n, m = M.shape
    return {"row out of range": {"row": _set(a["row"], 0, n)},
            "col out of range": {"col": _set(a["col"], 0, m)},
            "negative row": {"row": _set(a["row"], 0, -1)},
            "duplicate entry": {"row": _set(a["row"], 1, a["row"][0]),
                                "col": _set(a["col"], 1, a["col"][0])},
            "lengths differ": {"row": a["row"][:-1].copy()},
            "data NaN": {"data": _set(a["data"], 0, np.inf)}}


ARRAY_CASES = {"ham": _ham_cases, "sham": _sham_cases, "im": _im_cases, "dense": _dense_cases,
               "csr": _compressed_cases, "csc": _compressed_cases, "coo": _coo_cases}
META_CASES = {"ham": _ham_meta_cases, "sham": _sham_meta_cases, "im": _im_meta_cases}


def _structural_cases():
    out = []
    for fmt, opts in [("ham", {"wordbits": 32}), ("ham", {"wordbits": 64}),
                      ("sham", {"wordbits": 32}), ("sham", {"wordbits": 64}),
                      ("im", {"wordbits": 32}), ("im", {"wordbits": 64}),
                      ("dense", {}), ("csr", {}), ("csc", {}), ("coo", {})]:
        M = build(fmt, W_REF, opts)
        tag = f"{fmt}-w{opts['wordbits']}" if opts else fmt
        for case, arrays in ARRAY_CASES[fmt](M).items():
            out.append(pytest.param(fmt, opts, arrays, None, id=f"{tag}: {case}"))
        for case, meta in META_CASES.get(fmt, lambda M: {})(M).items():
            out.append(pytest.param(fmt, opts, {}, meta, id=f"{tag}: {case}"))
    return out


@pytest.mark.parametrize("name, options, changes, meta", _structural_cases())
def test_structurally_invalid_archives_are_refused_at_load(name, options, changes, meta, tmp_path):
    M = build(name, W_REF, options)
    arrays = {**M._arrays(), **changes}
    header, arrays = file_parts(M, arrays, meta=meta)
    with pytest.raises(FormatError):
        from_parts(header, arrays)
    write_parts(tmp_path / "m.npz", header, arrays)
    with pytest.raises(FormatError):
        load(tmp_path / "m.npz")


def test_structural_cases_cover_every_paper_format():
    assert {"ham", "sham", "im", "dense", "csr", "csc", "coo"} <= set(ARRAY_CASES)
    assert set(ARRAY_CASES) <= set(FORMATS)


@pytest.mark.parametrize("name, options", [p for p in format_options() if p.values[0] == "ham"])
def test_ham_header_with_more_rows_than_the_stream_holds_is_refused_at_load(name, options):
    # Every codeword has at least one bit: a column of n entries needs >= n bits.  Without
    # this check to_dense would first allocate n*m symbols (MemoryError for huge n).
    M = build(name, W_REF, options)
    n, m = M.shape
    with pytest.raises(FormatError):
        from_parts(*file_parts(M, shape=[n * 1000, m]))

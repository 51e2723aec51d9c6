"""The cffi boundary: the only module that touches the compiled kernels.

Every wrapper checks dtypes, contiguity and lengths before the call, passes
caller-allocated outputs, and turns a non-zero status into an exception:
corrupt data -> :class:`~compactnn.errors.FormatError`, bad arguments ->
``ValueError``, resource failures -> :class:`~compactnn.errors.KernelError`.

``COMPACTNN_NATIVE=asan`` selects the sanitizer build of the same kernels
(``make test-asan``); ``COMPACTNN_WORKER_SPIN_MS`` sets how long the worker
pool's idle threads poll for the next product before they sleep (see
:func:`worker_spin_ms`).
"""
from __future__ import annotations

import atexit
import importlib
import os

import numpy as np

from .errors import FormatError, KernelError

_module = importlib.import_module(
    "compactnn._cnative_asan" if os.environ.get("COMPACTNN_NATIVE") == "asan" else "compactnn._cnative"
)
ffi, lib = _module.ffi, _module.lib

#: Width in bits of the primary Huffman decode table.
TABLE_BITS = int(lib.CNN_TABLE_BITS)
#: Longest Huffman codeword the kernels decode.
MAX_CODE_LEN = int(lib.CNN_MAX_CODE_LEN)
#: Upper bound on worker threads per product.
MAX_THREADS = int(lib.CNN_MAX_THREADS)
#: Build variant in use ("native" or "asan").
VARIANT = "asan" if _module.__name__.endswith("_asan") else "native"

_CTYPES = {
    np.dtype(np.float32): "float[]",
    np.dtype(np.float64): "double[]",
    np.dtype(np.uint8): "uint8_t[]",
    np.dtype(np.uint16): "uint16_t[]",
    np.dtype(np.uint32): "uint32_t[]",
    np.dtype(np.uint64): "uint64_t[]",
    np.dtype(np.int64): "int64_t[]",
}


def _ptr(a: np.ndarray, dtype=None):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(a).__name__}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise TypeError(f"expected a {np.dtype(dtype)} array, got {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError("array must be C-contiguous")
    # from_buffer: a few times cheaper than a.ctypes.data, which matters for
    # the products of small matrices; it keeps ``a`` alive while in use.
    return ffi.from_buffer(_CTYPES[a.dtype], a)


def _vptr(a: np.ndarray):
    """A typed view of ``a`` for a ``void *`` parameter (word or index arrays)."""
    return _ptr(a)


def _check(status: int, what: str) -> None:
    if status == lib.CNN_OK:
        return
    msg = f"{what}: {ffi.string(lib.cnn_strerror(status)).decode()}"
    if status in (lib.CNN_ERR_CORRUPT, lib.CNN_ERR_CODE):
        raise FormatError(msg)
    if status == lib.CNN_ERR_ARG:
        raise ValueError(msg)
    raise KernelError(msg)


def _words_bits(words: np.ndarray) -> int:
    if words.dtype == np.uint32:
        return 32
    if words.dtype == np.uint64:
        return 64
    raise TypeError(f"bit stream words must be uint32 or uint64, got {words.dtype}")


_POOL = None  # (pid, cnn_pool *) of this process, made on first use

#: Default polling time of an idle pool worker, in milliseconds.  Products
#: called back to back find the worker awake, where a sleeping one costs tens
#: of microseconds to wake; the polling yields the CPU to any other runnable
#: thread.  Longer polling keeps a virtual machine's idle virtual CPU busy
#: (its core is then not lent elsewhere) at the price of that CPU time.
WORKER_SPIN_MS = 0.3


def worker_spin_ms() -> float:
    """The pool workers' polling time: ``COMPACTNN_WORKER_SPIN_MS`` or :data:`WORKER_SPIN_MS`.

    Raises ``ValueError`` naming the variable when it is not a number in
    ``[0, CNN_MAX_SPIN_MS]`` (0: a worker sleeps as soon as it is idle).
    """
    text = os.environ.get("COMPACTNN_WORKER_SPIN_MS")
    if text is None or not text.strip():
        return WORKER_SPIN_MS
    top = int(lib.CNN_MAX_SPIN_MS)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= top:
        raise ValueError(f"COMPACTNN_WORKER_SPIN_MS must be a number of milliseconds in [0, {top}], "
                         f"got {text!r}")
    return value


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _pool():
    """This process's worker pool (one helper per core beyond the caller's), or NULL.

    The products reuse its threads instead of starting threads on every call;
    a product that asks for more threads than the pool has, or that runs while
    another thread holds the pool, starts its own.  A forked child makes its own.
    """
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        workers = min(_cores(), MAX_THREADS) - 1
        spin_ns = int(worker_spin_ms() * 1e6)
        ptr = ffi.NULL
        if workers > 0:
            out = ffi.new("cnn_pool **")
            if lib.cnn_pool_create(workers, spin_ns, out) == lib.CNN_OK:
                ptr = out[0]  # on failure products start threads per call
        _POOL = (os.getpid(), ptr)
    return _POOL[1]


@atexit.register
def _stop_pool() -> None:
    global _POOL
    if _POOL is not None and _POOL[0] == os.getpid() and _POOL[1] != ffi.NULL:
        lib.cnn_pool_destroy(_POOL[1])
    _POOL = None


def _threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return int(min(threads, MAX_THREADS))


def _out(xt: np.ndarray, m: int) -> np.ndarray:
    return np.empty((m, xt.shape[1]), dtype=xt.dtype)


def _check_xt(xt: np.ndarray, n: int, dtype: np.dtype) -> None:
    if xt.ndim != 2 or xt.shape[0] != n:
        raise ValueError(f"xt must have shape ({n}, b), got {xt.shape}")
    if xt.dtype != dtype:
        raise TypeError(f"xt must be {dtype}, got {xt.dtype}")


def transpose(X: np.ndarray) -> np.ndarray:
    """``X^T`` as a C-contiguous array, for a C-contiguous float 2-D ``X``.

    The products read ``X`` transposed (row r of W meets row r of ``X^T``);
    for a batch of 8 this is several times faster than NumPy's strided copy.
    With one row or one column, ``X^T`` has ``X``'s memory layout, and the
    result is a view of ``X`` (the products only read it), not a copy.
    """
    if X.ndim != 2 or not X.flags.c_contiguous or X.dtype not in (np.float32, np.float64):
        raise TypeError("X must be a C-contiguous 2-D float32 or float64 array")
    b, n = X.shape
    if b == 1 or n == 1:
        return X.reshape(n, b)
    out = np.empty((n, b), dtype=X.dtype)
    fn = lib.cnn_transpose_f32 if X.dtype == np.float32 else lib.cnn_transpose_f64
    _check(fn(_ptr(X), b, n, _ptr(out), out.size), "transpose")
    return out


class Product:
    """A product kernel bound to one matrix's arrays, converted and checked once.

    ``product(xt, threads)`` returns ``(X @ W)^T`` (m x b) for ``xt = X^T``
    (n x b, C-contiguous, the matrix's dtype).  The bound arrays stay alive
    with the object; the kernel validates them again on every call, so an
    array changed in place gives an error, never a read out of bounds.  (The
    codes of HAM and sHAM-gap, and HAM's codebook, are copied when bound, with
    the decode tables built from them once; a change to the matrix's own
    arrays leaves them as bound.)
    """

    __slots__ = ("_fn", "_args", "_n", "_m", "_dtype", "_what", "_ctype")

    def __init__(self, fn, args: tuple, n: int, m: int, dtype, what: str):
        self._fn, self._args, self._n, self._m = fn, args, n, m
        self._dtype, self._what = np.dtype(dtype), what
        self._ctype = _CTYPES[self._dtype]

    def __call__(self, xt: np.ndarray, threads: int) -> np.ndarray:
        # the checks of _check_xt and _ptr, written out: at batch 1 on a small
        # matrix the call's Python overhead is a good part of its time
        if type(xt) is not np.ndarray or xt.ndim != 2 or xt.shape[0] != self._n \
                or xt.dtype != self._dtype or not xt.flags.c_contiguous:
            _check_xt(xt, self._n, self._dtype)  # raise what is wrong
            _ptr(xt)
        out = np.empty((self._m, xt.shape[1]), dtype=self._dtype)
        st = self._fn(*self._args, ffi.from_buffer(self._ctype, xt), xt.shape[1],
                      ffi.from_buffer(self._ctype, out), _threads(threads), _pool())
        if st != lib.CNN_OK:
            _check(st, self._what)
        return out


def _fn(name: str, dtype):
    """The float32 or float64 instance of kernel ``name``."""
    if not isinstance(dtype, np.dtype) or dtype not in (np.float32, np.float64):
        raise TypeError("values must be a float32 or float64 array")
    return getattr(lib, f"{name}_{'f32' if dtype == np.float32 else 'f64'}")


def bits_encode(sym: np.ndarray, codes: np.ndarray, lens: np.ndarray, total_bits: int,
                wordbits: int = 32) -> np.ndarray:
    """Write codeword ``codes[s]`` (``lens[s]`` bits) for every ``s`` in ``sym``."""
    if wordbits not in (32, 64):
        raise ValueError(f"wordbits must be 32 or 64, got {wordbits}")
    sym = np.ascontiguousarray(sym, dtype=np.uint32)
    codes = np.ascontiguousarray(codes, dtype=np.uint32)
    lens = np.ascontiguousarray(lens, dtype=np.uint8)
    if codes.size != lens.size:
        raise ValueError("codes and lens must have the same length")
    nwords = -(-int(total_bits) // wordbits)
    words = np.zeros(nwords, dtype=np.uint32 if wordbits == 32 else np.uint64)
    st = lib.cnn_bits_encode(_ptr(sym), sym.size, _ptr(codes), _ptr(lens), codes.size,
                             _vptr(words), nwords, wordbits)
    _check(st, "bit stream encoding")
    return words


def huff_decode(words: np.ndarray, len_count: np.ndarray, nsym: int, start: int, count: int):
    """Decode ``count`` canonical indices from bit ``start``; returns (indices, end bit)."""
    wb = _words_bits(words)
    words = np.ascontiguousarray(words)
    len_count = np.ascontiguousarray(len_count, dtype=np.uint32)
    if count < 0:
        raise ValueError("count must be >= 0")
    out = np.empty(count, dtype=np.uint32)
    end = ffi.new("int64_t *")
    st = lib.cnn_huff_decode(_vptr(words), words.size, wb,
                             _ptr(len_count), max(len_count.size - 1, 0), int(nsym),
                             int(start), int(count), _ptr(out), end)
    _check(st, "Huffman decoding")
    return out, int(end[0])


def huff_decode_segments(words: np.ndarray, len_count: np.ndarray, nsym: int,
                         seg_bits: np.ndarray, sym_first: np.ndarray) -> np.ndarray:
    """Decode consecutive segments, each checked to end exactly at the next offset.

    Segment ``i`` holds symbols ``sym_first[i]:sym_first[i+1]`` coded in bits
    ``seg_bits[i]:seg_bits[i+1]``; returns all canonical indices.
    """
    wb = _words_bits(words)
    len_count = np.ascontiguousarray(len_count, dtype=np.uint32)
    seg_bits = np.ascontiguousarray(seg_bits, dtype=np.int64)
    sym_first = np.ascontiguousarray(sym_first, dtype=np.int64)
    if seg_bits.size != sym_first.size or seg_bits.size < 1:
        raise ValueError("seg_bits and sym_first must both have nseg + 1 entries")
    nout = int(sym_first[-1])
    if nout < 0:
        raise FormatError("negative symbol count")
    out = np.empty(nout, dtype=np.uint32)
    st = lib.cnn_huff_decode_segments(_vptr(words), words.size, wb, _ptr(len_count),
                                      max(len_count.size - 1, 0), int(nsym), _ptr(seg_bits),
                                      _ptr(sym_first), seg_bits.size - 1, _ptr(out), nout)
    _check(st, "Huffman decoding")
    return out


def ham_product(n: int, words: np.ndarray, col_bits: np.ndarray, len_count: np.ndarray,
                values: np.ndarray, zero_sym: int, stream: np.ndarray | None = None) -> Product:
    """The HAM product kernel of one matrix (see :class:`Product`).

    ``stream`` (optional) is :func:`byte_stream` of ``words`` (batch-8 fast path).
    """
    m = col_bits.size - 1
    fn = _fn("cnn_ham_matmat", values.dtype)
    # the code and codebook as bound, copied: the decode tables are built from
    # them once, here, and stay theirs whatever happens to the matrix's arrays
    # (a code the builder refuses is left to the product, which reports it)
    len_count = np.array(len_count)
    values = np.array(values)
    f64 = values.dtype == np.float64
    tab = np.empty(int(lib.CNN_HAM_TABLES_F64 if f64 else lib.CNN_HAM_TABLES_F32), np.uint32)
    build = lib.cnn_ham_tables_f64 if f64 else lib.cnn_ham_tables_f32
    if build(_ptr(len_count), max(len_count.size - 1, 0), _ptr(values), values.size,
             int(zero_sym), _ptr(tab), tab.size) != lib.CNN_OK:
        tab = None
    args = (n, m, _vptr(words), words.size, _words_bits(words),
            ffi.NULL if stream is None else _ptr(stream, np.uint8),
            0 if stream is None else stream.size,
            _ptr(col_bits, np.int64), col_bits.size, _ptr(len_count, np.uint32),
            max(len_count.size - 1, 0), _ptr(values), values.size, int(zero_sym),
            ffi.NULL if tab is None else _ptr(tab), 0 if tab is None else tab.size)
    return Product(fn, args, n, m, values.dtype, "HAM product")


def ham_matmat(n: int, words: np.ndarray, col_bits: np.ndarray, len_count: np.ndarray,
               values: np.ndarray, zero_sym: int, xt: np.ndarray, threads: int,
               stream: np.ndarray | None = None) -> np.ndarray:
    """``(X @ W)^T`` for a HAM matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return ham_product(n, words, col_bits, len_count, values, zero_sym, stream)(xt, threads)


def byte_stream(words: np.ndarray) -> np.ndarray:
    """A word stream as bytes in stream order, plus 8 zero bytes of padding.

    The sHAM batch-8 kernel reads this view with one unaligned 64-bit load per
    codeword; it is a per-matrix cache, not part of the stored format.
    """
    _words_bits(words)
    big = np.ascontiguousarray(words).astype(">u4" if words.dtype == np.uint32 else ">u8")
    out = np.zeros(big.nbytes + 8, dtype=np.uint8)
    out[: big.nbytes] = big.view(np.uint8)
    return out


def sham_product(n: int, words: np.ndarray, col_bits: np.ndarray, len_count: np.ndarray,
                 values: np.ndarray, ri: np.ndarray, cb: np.ndarray,
                 stream: np.ndarray | None = None, verified: bool = False) -> Product:
    """The sHAM product kernel of one matrix (see :class:`Product`).

    ``stream`` (optional) is :func:`byte_stream` of ``words``; the kernel then
    takes its fast path for batches of 8.  ``verified``: the caller has checked
    that every column's codewords start at its offset in ``col_bits`` (a
    product without it on the same arrays succeeded), so that the fast path
    checks only where its lanes start and end; with offsets that lie, the
    product is then wrong, never out of bounds.
    """
    m = cb.size - 1
    if col_bits.size != cb.size:
        raise ValueError("col_bits and cb must both have m + 1 entries")
    if ri.dtype not in (np.uint8, np.uint16, np.uint32):
        raise TypeError(f"row indices must be uint8, uint16 or uint32, got {ri.dtype}")
    fn = _fn("cnn_sham_matmat", values.dtype)
    args = (n, m, _vptr(words), words.size, _words_bits(words),
            ffi.NULL if stream is None else _ptr(stream, np.uint8),
            0 if stream is None else stream.size,
            _ptr(col_bits, np.int64), col_bits.size, _ptr(len_count, np.uint32),
            max(len_count.size - 1, 0), _ptr(values), values.size,
            _vptr(ri), ri.itemsize, ri.size, _ptr(cb, np.int64), cb.size, int(verified))
    return Product(fn, args, n, m, values.dtype, "sHAM product")


def sham_matmat(n: int, words: np.ndarray, col_bits: np.ndarray, len_count: np.ndarray,
                values: np.ndarray, ri: np.ndarray, cb: np.ndarray, xt: np.ndarray,
                threads: int, stream: np.ndarray | None = None, verified: bool = False) -> np.ndarray:
    """``(X @ W)^T`` for an sHAM matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return sham_product(n, words, col_bits, len_count, values, ri, cb, stream, verified)(xt, threads)


def im_product(n: int, m: int, words: np.ndarray, width: int, values: np.ndarray,
               zero_sym: int, stream: np.ndarray | None = None) -> Product:
    """The IM product kernel of one matrix (see :class:`Product`).

    ``stream`` (optional) is :func:`byte_stream` of ``words`` (branch-free
    paths for batches of 1 and 8).
    """
    fn = _fn("cnn_im_matmat", values.dtype)
    args = (n, m, _vptr(words), words.size, _words_bits(words), int(width),
            ffi.NULL if stream is None else _ptr(stream, np.uint8),
            0 if stream is None else stream.size, _ptr(values), values.size, int(zero_sym))
    return Product(fn, args, n, m, values.dtype, "IM product")


def im_matmat(n: int, m: int, words: np.ndarray, width: int, values: np.ndarray,
              zero_sym: int, xt: np.ndarray, threads: int,
              stream: np.ndarray | None = None) -> np.ndarray:
    """``(X @ W)^T`` for an IM matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return im_product(n, m, words, width, values, zero_sym, stream)(xt, threads)


_UINTS = (np.uint8, np.uint16, np.uint32, np.uint64)


def _uint_array(a: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype not in _UINTS or a.ndim != 1:
        raise TypeError(f"{what} must be a 1-D uint8/16/32/64 array")
    return a


def _grouped_args(n: int, values: np.ndarray, ci: np.ndarray, gp: np.ndarray, rp: np.ndarray):
    for a, what in ((ci, "column indices"), (gp, "group pointers"), (rp, "row pointers")):
        _uint_array(a, what)
    if rp.size < 1:
        raise ValueError("row pointers must have m + 1 >= 1 entries")
    if not isinstance(values, np.ndarray) or values.dtype not in (np.float32, np.float64):
        raise TypeError("values must be a float32 or float64 array")
    return (n, rp.size - 1, _ptr(values), values.size, _vptr(ci), ci.itemsize, ci.size,
            _vptr(gp), gp.itemsize, gp.size, _vptr(rp), rp.itemsize, rp.size)


def cer_product(n: int, values: np.ndarray, ci: np.ndarray, gp: np.ndarray,
                rp: np.ndarray) -> Product:
    """The CER product kernel of one matrix (see :class:`Product`)."""
    args = _grouped_args(n, values, ci, gp, rp)
    return Product(_fn("cnn_cer_matmat", values.dtype), args, n, rp.size - 1, values.dtype,
                   "CER product")


def cer_matmat(n: int, values: np.ndarray, ci: np.ndarray, gp: np.ndarray, rp: np.ndarray,
               xt: np.ndarray, threads: int) -> np.ndarray:
    """``(X @ W)^T`` for a CER matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return cer_product(n, values, ci, gp, rp)(xt, threads)


def cser_product(n: int, values: np.ndarray, ci: np.ndarray, gp: np.ndarray, rp: np.ndarray,
                 vi: np.ndarray) -> Product:
    """The CSER product kernel of one matrix (see :class:`Product`)."""
    args = _grouped_args(n, values, ci, gp, rp)
    _uint_array(vi, "value indices")
    args += (_vptr(vi), vi.itemsize, vi.size)
    return Product(_fn("cnn_cser_matmat", values.dtype), args, n, rp.size - 1, values.dtype,
                   "CSER product")


def cser_matmat(n: int, values: np.ndarray, ci: np.ndarray, gp: np.ndarray, rp: np.ndarray,
                vi: np.ndarray, xt: np.ndarray, threads: int) -> np.ndarray:
    """``(X @ W)^T`` for a CSER matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return cser_product(n, values, ci, gp, rp, vi)(xt, threads)


def _gap_code_args(gap_len_count: np.ndarray, gap_syms: np.ndarray, lit: int):
    return (_ptr(gap_len_count, np.uint32), max(gap_len_count.size - 1, 0),
            _ptr(gap_syms, np.uint32), gap_syms.size, int(lit))


def sham_gap_product(n: int, m: int, group: int, words: np.ndarray, blk_bits: np.ndarray,
                     gap_len_count: np.ndarray, gap_syms: np.ndarray, lit: int,
                     len_count: np.ndarray, values: np.ndarray,
                     stream: np.ndarray | None = None) -> Product:
    """The sHAM-gap product kernel of one matrix (see :class:`Product`).

    ``stream`` is :func:`byte_stream` of ``words`` (made here when not given).
    """
    fn = _fn("cnn_sham_gap_matmat", values.dtype)
    if stream is None:
        stream = byte_stream(words)
    # the codes as bound, copied, and their decode tables built from them once,
    # here (a code the builder refuses is left to the product, which reports it)
    gap_len_count, gap_syms = np.array(gap_len_count), np.array(gap_syms)
    len_count = np.array(len_count)
    code = (*_gap_code_args(gap_len_count, gap_syms, lit), _ptr(len_count, np.uint32),
            max(len_count.size - 1, 0))
    tab = np.empty(int(lib.CNN_SHAM_GAP_TABLES), np.uint32)
    if lib.cnn_sham_gap_tables(*code, values.size, _ptr(tab), tab.size) != lib.CNN_OK:
        tab = None
    args = (n, m, int(group), _vptr(words), words.size, _words_bits(words),
            _ptr(stream, np.uint8), stream.size, _ptr(blk_bits, np.int64), blk_bits.size,
            *code, _ptr(values), values.size,
            ffi.NULL if tab is None else _ptr(tab), 0 if tab is None else tab.size)
    return Product(fn, args, n, m, values.dtype, "sHAM-gap product")


def sham_gap_matmat(n: int, m: int, group: int, words: np.ndarray, blk_bits: np.ndarray,
                    gap_len_count: np.ndarray, gap_syms: np.ndarray, lit: int,
                    len_count: np.ndarray, values: np.ndarray, xt: np.ndarray,
                    threads: int) -> np.ndarray:
    """``(X @ W)^T`` for an sHAM-gap matrix; ``xt`` is ``X^T`` (n x b), the result m x b."""
    return sham_gap_product(n, m, group, words, blk_bits, gap_len_count, gap_syms, lit,
                            len_count, values)(xt, threads)


def sham_gap_decode(n: int, m: int, group: int, words: np.ndarray, blk_bits: np.ndarray,
                    gap_len_count: np.ndarray, gap_syms: np.ndarray, lit: int,
                    len_count: np.ndarray, nsym: int, q: int):
    """Positions (``col * n + row``, int64) and value canonical indices of the q nonzeros."""
    if q < 0:
        raise ValueError("q must be >= 0")
    pos = np.empty(q, dtype=np.int64)
    sym = np.empty(q, dtype=np.uint32)
    st = lib.cnn_sham_gap_decode(n, m, int(group), _vptr(words), words.size, _words_bits(words),
                                 _ptr(blk_bits, np.int64), blk_bits.size,
                                 *_gap_code_args(gap_len_count, gap_syms, lit),
                                 _ptr(len_count, np.uint32), max(len_count.size - 1, 0), int(nsym),
                                 int(q), _ptr(pos), _ptr(sym))
    _check(st, "sHAM-gap decoding")
    return pos, sym

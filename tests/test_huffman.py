"""Canonical Huffman codes: construction properties, and the C decoder against the
plain Python reference decoder (``huffman.decode_reference``) on small streams."""
from __future__ import annotations

import heapq
import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactnn import _native, huffman
from compactnn.errors import FormatError

PROPS = settings(max_examples=60, deadline=None)
STREAMS = settings(max_examples=40, deadline=None)

counts_st = st.lists(st.integers(1, 10_000), min_size=1, max_size=80).map(
    lambda c: np.array(c, dtype=np.int64))


def fibonacci(k: int) -> np.ndarray:
    f = [1, 1]
    while len(f) < k:
        f.append(f[-1] + f[-2])
    return np.array(f[:k], dtype=np.int64)


def reference_cost(counts) -> int:
    """Total bits of an optimal prefix code (textbook heapq Huffman); one symbol: 1 bit each."""
    counts = [int(c) for c in counts]
    if len(counts) == 1:
        return counts[0]
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


def kraft_sum(lengths) -> float:
    return sum(2.0 ** -int(l) for l in lengths)


def codeword_strings(code: huffman.CanonicalCode) -> list[str]:
    """Codeword of each canonical index as a '0'/'1' string."""
    return [format(int(c), f"0{int(l)}b") if l else ""
            for c, l in zip(code.codes, code.canonical_lengths)]


@contextmanager
def time_limit(seconds: int):
    def fire(signum, frame):
        raise TimeoutError(f"did not finish in {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---- construction ---------------------------------------------------------------------

@PROPS
@given(counts=counts_st)
def test_code_lengths_are_optimal_and_complete(counts):
    code = huffman.build_code(counts)
    lengths = code.lengths.astype(np.int64)
    assert lengths.shape == counts.shape and lengths.min() >= 1
    assert int((counts * lengths).sum()) == reference_cost(counts)
    if counts.size >= 2:
        assert kraft_sum(lengths) == 1.0      # a full tree: no codeword is wasted
    else:
        assert lengths.tolist() == [1]


@PROPS
@given(counts=counts_st, seed=st.integers(0, 2**32 - 1))
def test_construction_is_deterministic_and_cost_is_order_independent(counts, seed):
    a, b = huffman.build_code(counts), huffman.build_code(counts.copy())
    for field in ("lengths", "order", "rank", "len_count", "codes"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    perm = np.random.default_rng(seed).permutation(counts.size)
    c = huffman.build_code(counts[perm])
    assert int((counts[perm] * c.lengths).sum()) == int((counts * a.lengths).sum())


@PROPS
@given(counts=counts_st)
def test_code_is_canonical_and_prefix_free(counts):
    code = huffman.build_code(counts)
    k = counts.size
    lengths = code.lengths.astype(np.int64)
    # canonical order: by (length, symbol), and rank is its inverse
    assert code.order.tolist() == sorted(range(k), key=lambda s: (lengths[s], s))
    assert np.array_equal(code.rank[code.order], np.arange(k))
    assert np.array_equal(code.canonical_lengths, code.lengths[code.order])
    assert code.len_count[0] == 0 and int(code.len_count.sum()) == k
    assert code.maxlen == int(lengths.max())
    assert np.array_equal(np.bincount(lengths, minlength=code.maxlen + 1)[1:], code.len_count[1:])
    words = codeword_strings(code)
    assert words == sorted(words), "canonical codewords increase with the canonical index"
    for i in range(k - 1):
        if code.canonical_lengths[i] == code.canonical_lengths[i + 1]:
            assert int(code.codes[i + 1]) == int(code.codes[i]) + 1
    for i, w in enumerate(words):
        for j, v in enumerate(words):
            assert i == j or not v.startswith(w), f"{w} is a prefix of {v}"


def test_one_symbol_gets_a_one_bit_code():
    code = huffman.build_code(np.array([17]))
    assert code.lengths.tolist() == [1] and code.len_count.tolist() == [0, 1]
    assert code.codes.tolist() == [0]
    assert code.average_length(np.array([17])) == 1.0


def test_two_symbols_get_one_bit_each():
    code = huffman.build_code(np.array([1, 1000]))
    assert code.lengths.tolist() == [1, 1]
    assert sorted(codeword_strings(code)) == ["0", "1"]


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7, 8, 9, 100, 1000, 4097])
def test_equal_counts_give_a_complete_balanced_code(k):
    counts = np.full(k, 3)
    code = huffman.build_code(counts)
    L = int(math.floor(math.log2(k)))
    assert set(code.lengths.tolist()) <= {L, L + 1}
    assert kraft_sum(code.lengths) == 1.0
    assert int((counts * code.lengths.astype(np.int64)).sum()) == reference_cost(counts)


def test_empty_counts_give_an_empty_code():
    code = huffman.build_code(np.zeros(0, dtype=np.int64))
    assert code.lengths.size == 0 and code.codes.size == 0
    assert int(code.len_count.sum()) == 0


@pytest.mark.parametrize("bad", [[0, 1], [3, -1], [[1, 2], [3, 4]]])
def test_bad_counts_are_a_value_error(bad):
    with pytest.raises(ValueError):
        huffman.build_code(np.array(bad))


def test_fibonacci_counts_give_codes_longer_than_the_decode_table():
    counts = fibonacci(20)
    code = huffman.build_code(counts)
    assert code.maxlen == 19 > _native.TABLE_BITS
    assert int((counts * code.lengths.astype(np.int64)).sum()) == reference_cost(counts)
    assert kraft_sum(code.lengths) == 1.0


@pytest.mark.parametrize("k", [34, 40, 46])
def test_codes_longer_than_32_bits_are_limited(k):
    counts = fibonacci(k)  # an unlimited Huffman code would need k - 1 bits
    code = huffman.build_code(counts)
    assert code.maxlen <= huffman.MAX_CODE_LEN == _native.MAX_CODE_LEN
    assert kraft_sum(code.lengths) <= 1.0
    # still within one bit per symbol of the unlimited optimum on these counts
    assert int((counts * code.lengths.astype(np.int64)).sum()) <= reference_cost(counts) * 1.01


@pytest.mark.parametrize("max_len", [4, 5, 8, 12])
def test_an_explicit_length_limit_is_respected(max_len):
    code = huffman.build_code(fibonacci(16), max_len=max_len)
    assert code.maxlen <= max_len
    assert kraft_sum(code.lengths) <= 1.0


def test_impossible_length_limits_are_a_value_error():
    # Used to loop forever (halving counts cannot shorten a code over k > 2**max_len symbols).
    with time_limit(5):
        with pytest.raises(ValueError):
            huffman.code_lengths(np.arange(1, 10), max_len=2)  # 9 symbols, 4 codewords


# ---- entropy bound ----------------------------------------------------------------------

@PROPS
@given(counts=counts_st)
def test_average_length_lies_within_one_bit_of_the_entropy(counts):
    code = huffman.build_code(counts)
    H = huffman.entropy_bits(counts)
    L = code.average_length(counts)
    assert L == pytest.approx(float((counts * code.lengths).sum() / counts.sum()))
    assert 0.0 <= H <= math.log2(counts.size) + 1e-9
    if counts.size >= 2:
        assert H - 1e-9 <= L < H + 1
    else:
        assert (H, L) == (0.0, 1.0)   # one symbol: no information, but one bit per codeword


def test_entropy_of_a_uniform_source_is_log2_k():
    assert huffman.entropy_bits(np.full(8, 5)) == pytest.approx(3.0)
    assert huffman.entropy_bits(np.array([4, 0, 4])) == pytest.approx(1.0)
    assert huffman.entropy_bits(np.zeros(3)) == 0.0


# ---- bit streams ------------------------------------------------------------------------

def encode(code: huffman.CanonicalCode, seq: np.ndarray, wordbits: int, prefix: np.ndarray):
    """Words holding the raw bits ``prefix`` then the codewords of symbols ``seq``.

    Returns (words, canonical indices, bit position of each codeword + end).
    """
    k = code.lengths.size
    sym = code.rank[seq].astype(np.uint32)
    codes = np.append(code.codes, np.array([0, 1], dtype=np.uint32))
    lens = np.append(code.canonical_lengths, np.array([1, 1], dtype=np.uint8))
    stream = np.concatenate([prefix.astype(np.uint32) + k, sym]).astype(np.uint32)
    cum = np.concatenate([[0], np.cumsum(lens[stream].astype(np.int64))])
    words = _native.bits_encode(stream, codes, lens, int(cum[-1]), wordbits)
    return words, sym, cum[prefix.size:]


@st.composite
def streams(draw):
    counts = draw(counts_st)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nsyms = draw(st.integers(0, 120))
    seq = rng.choice(counts.size, size=nsyms, p=counts / counts.sum())
    prefix = rng.integers(0, 2, draw(st.integers(0, 70)))
    return counts, seq, prefix


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
@STREAMS
@given(case=streams())
def test_bits_encode_writes_codewords_msb_first(wordbits, case):
    counts, seq, prefix = case
    code = huffman.build_code(counts)
    words, sym, cum = encode(code, seq, wordbits, prefix)
    assert words.dtype == (np.uint32 if wordbits == 32 else np.uint64)
    assert words.size == -(-int(cum[-1]) // wordbits)
    strings = codeword_strings(code)
    expected = "".join(map(str, prefix)) + "".join(strings[s] for s in sym)
    bits = huffman.unpack_bits(words)
    assert "".join(map(str, bits[: len(expected)])) == expected
    assert not bits[len(expected):].any(), "the last word is zero-padded"


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
@STREAMS
@given(case=streams(), data=st.data())
def test_c_decoder_matches_the_reference_decoder(wordbits, case, data):
    counts, seq, prefix = case
    code = huffman.build_code(counts)
    k = counts.size
    words, sym, cum = encode(code, seq, wordbits, prefix)
    start = int(cum[0])                                  # any offset, rarely word-aligned
    out, end = _native.huff_decode(words, code.len_count, k, start, sym.size)
    assert out.tolist() == sym.tolist() and end == int(cum[-1])
    ref, ref_end = huffman.decode_reference(words, code.len_count, start, sym.size)
    assert ref == sym.tolist() and ref_end == end
    if sym.size:  # resume in the middle of the stream, at a codeword boundary
        i = data.draw(st.integers(0, sym.size - 1), label="resume at")
        out, end = _native.huff_decode(words, code.len_count, k, int(cum[i]), sym.size - i)
        assert out.tolist() == sym[i:].tolist() and end == int(cum[-1])


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
@pytest.mark.parametrize("k", [20, 30])
def test_codewords_longer_than_the_table_decode(wordbits, k):
    counts = fibonacci(k)
    code = huffman.build_code(counts)
    assert code.maxlen > _native.TABLE_BITS
    rng = np.random.default_rng(k)
    # every symbol, the rarest (longest) ones several times, in random order, after odd padding
    seq = rng.permutation(np.concatenate([np.arange(k), np.zeros(5, int), np.full(7, 1)]))
    seq = np.concatenate([seq, rng.choice(k, 300, p=counts / counts.sum())])
    for pad in (0, 1, 11, 31, 33, 63):
        words, sym, cum = encode(code, seq, wordbits, rng.integers(0, 2, pad))
        out, end = _native.huff_decode(words, code.len_count, k, int(cum[0]), sym.size)
        assert out.tolist() == sym.tolist() and end == int(cum[-1])
        assert huffman.decode_reference(words, code.len_count, int(cum[0]), sym.size) == \
            (sym.tolist(), end)


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
def test_a_32_bit_codeword_decodes(wordbits):
    # lengths 1, 2, ..., 31, 32, 32: the deepest complete code the kernels accept
    code = huffman.from_lengths(np.r_[np.arange(1, 33), 32])
    assert code.maxlen == huffman.MAX_CODE_LEN and kraft_sum(code.lengths) == 1.0
    longest = np.flatnonzero(code.lengths == code.maxlen)
    seq = np.concatenate([longest, [0], longest[::-1], np.arange(33)])
    for pad in (0, 5, 32, 40):
        words, sym, cum = encode(code, seq, wordbits, np.ones(pad, int))
        out, end = _native.huff_decode(words, code.len_count, 33, int(cum[0]), sym.size)
        assert out.tolist() == sym.tolist() and end == int(cum[-1])
        assert huffman.decode_reference(words, code.len_count, int(cum[0]), sym.size)[0] == \
            sym.tolist()


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
def test_many_symbols_beyond_the_table_decode(wordbits):
    counts = np.random.default_rng(0).integers(1, 4, 5000)
    code = huffman.build_code(counts)
    seq = np.random.default_rng(1).integers(0, 5000, 400)
    words, sym, cum = encode(code, seq, wordbits, np.zeros(3, int))
    out, end = _native.huff_decode(words, code.len_count, 5000, 3, sym.size)
    assert out.tolist() == sym.tolist() and end == int(cum[-1])


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
@STREAMS
@given(case=streams())
def test_decoding_past_the_end_of_the_words_is_a_format_error(wordbits, case):
    counts, seq, prefix = case
    code = huffman.build_code(counts)
    words, sym, cum = encode(code, seq, wordbits, prefix)
    too_many = sym.size + words.size * wordbits + 1    # more codewords than bits
    with pytest.raises(FormatError):
        _native.huff_decode(words, code.len_count, counts.size, int(cum[0]), too_many)
    with pytest.raises(ValueError):
        huffman.decode_reference(words, code.len_count, int(cum[0]), too_many)


@pytest.mark.kernel
@pytest.mark.parametrize("wordbits", [32, 64])
def test_unassigned_codewords_of_an_incomplete_code_are_a_format_error(wordbits):
    # lengths 1 and 3: codewords '0' and '100'; '101', '11' are unassigned
    len_count = np.array([0, 1, 0, 1], dtype=np.uint32)
    for bits in ("11", "101", "0101"):
        word = int(bits.ljust(wordbits, "0"), 2)
        words = np.array([word], dtype=np.uint32 if wordbits == 32 else np.uint64)
        n = bits.count("0") if bits == "0101" else 1
        with pytest.raises(FormatError):
            _native.huff_decode(words, len_count, 2, 0, n + 1)
        with pytest.raises(ValueError):
            huffman.decode_reference(words, len_count, 0, n + 1)
    words = np.array([int("0100".ljust(wordbits, "0"), 2)],
                     dtype=np.uint32 if wordbits == 32 else np.uint64)
    assert _native.huff_decode(words, len_count, 2, 0, 2)[0].tolist() == [0, 1]


@pytest.mark.kernel
@pytest.mark.parametrize("len_count, nsym", [
    ([1, 1], 2),             # len_count[0] != 0
    ([0, 3], 3),             # Kraft violated
    ([0, 1, 3], 4),          # Kraft violated at depth 2
    ([0, 2], 3),             # fewer codewords than symbols
    ([0, 2], 1),             # more codewords than symbols
    ([0] * 34 + [1], 1),     # longer than 32 bits
    ([0, 2**32 - 1], 2**32 - 1),
])
def test_invalid_code_descriptions_are_a_format_error(len_count, nsym):
    words = np.zeros(4, dtype=np.uint32)
    with pytest.raises(FormatError):
        _native.huff_decode(words, np.array(len_count, dtype=np.uint32), nsym, 0, 1)


@pytest.mark.kernel
def test_huff_decode_argument_errors():
    lc = np.array([0, 2], dtype=np.uint32)
    w = np.zeros(2, dtype=np.uint32)
    with pytest.raises(ValueError):
        _native.huff_decode(w, lc, 2, 65, 0)     # start past the stream
    with pytest.raises(ValueError):
        _native.huff_decode(w, lc, 2, -1, 1)
    with pytest.raises(ValueError):
        _native.huff_decode(w, lc, 2, 0, -1)
    with pytest.raises(TypeError):
        _native.huff_decode(w.astype(np.int32), lc, 2, 0, 1)
    with pytest.raises(FormatError):
        _native.huff_decode(w, np.zeros(0, np.uint32), 0, 0, 1)   # no symbols to decode
    out, end = _native.huff_decode(w, np.zeros(0, np.uint32), 0, 0, 0)
    assert out.size == 0 and end == 0
    out, end = _native.huff_decode(w, lc, 2, 64, 0)
    assert out.size == 0 and end == 64


@pytest.mark.kernel
def test_bits_encode_argument_errors():
    codes, lens = np.array([0, 1], np.uint32), np.array([1, 1], np.uint8)
    with pytest.raises(ValueError):
        _native.bits_encode(np.array([0, 2]), codes, lens, 2)          # symbol out of range
    with pytest.raises(ValueError):
        _native.bits_encode(np.ones(33, np.uint32), codes, lens, 2)    # more bits than the words
    with pytest.raises(ValueError):
        _native.bits_encode(np.array([0]), codes, np.array([33, 1], np.uint8), 33)
    with pytest.raises(ValueError):
        _native.bits_encode(np.array([0]), codes, lens, 1, wordbits=16)
    with pytest.raises(ValueError):
        _native.bits_encode(np.array([0]), codes, lens[:1].repeat(3), 1)


def test_unpack_bits_is_most_significant_first():
    assert huffman.unpack_bits(np.array([0x80000001], np.uint32)).tolist() == \
        [1] + [0] * 30 + [1]
    b = huffman.unpack_bits(np.array([1 << 63 | 2], np.uint64))
    assert b[0] == 1 and b[62] == 1 and b.sum() == 2 and b.size == 64
    with pytest.raises(TypeError):
        huffman.unpack_bits(np.array([1], np.int32))

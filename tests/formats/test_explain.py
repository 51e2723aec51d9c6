"""The inspection API reads the real stored arrays: its bits decode back to the matrix."""
import numpy as np
import pytest

from compactnn.formats import get_format
from compactnn.formats.explain import (BOUNDARY, SEGMENT, code_table, codewords, csc_arrays,
                                       draw_code_tree, grouped_arrays, trace_product,
                                       word_strings)

HUFF = ["ham", "sham", "sham_gap"]


def example(seed=0, n=5, m=5):
    rng = np.random.default_rng(seed)
    W = rng.choice(np.array([0, 0, 0, 1.5, -2, 0.5], dtype=np.float32), size=(n, m))
    W[0, 0] = 0.25
    return W


@pytest.mark.parametrize("fmt", HUFF)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_codewords_decode_back_to_the_matrix(fmt, seed):
    W = example(seed, 6, 7)
    M = get_format(fmt).from_dense(W)
    cw = codewords(M)
    vals = cw[cw["kind"] == "value"]
    D = np.zeros_like(W)
    D[vals["row"].to_numpy(), vals["column"].to_numpy()] = vals["value"].to_numpy()
    np.testing.assert_array_equal(D, W)
    # the codewords tile the written stream exactly
    assert (cw["start"].to_numpy()[1:] == (cw["start"] + cw["length"]).to_numpy()[:-1]).all()
    assert int((cw["start"] + cw["length"]).iloc[-1]) == M.payload_bits()


@pytest.mark.parametrize("fmt", HUFF)
def test_bit_string_and_words_are_the_stored_stream(fmt):
    M = get_format(fmt).from_dense(example(3, 6, 9), **({"group": 2} if fmt == "sham_gap" else {}))
    e = M.explain()
    plain = e["bits"].replace(BOUNDARY, "").replace(SEGMENT, "")
    words = "".join(word_strings(M))
    assert len(plain) == M.payload_bits()
    assert words.startswith(plain) and set(words[len(plain):]) <= {"0"}
    assert all(len(w) == M.wordbits for w in e["words"])
    # one segment mark per column (block) start after the first non-empty one
    nseg = (M.shape[1] if fmt != "sham_gap" else -(-M.shape[1] // M.group))
    assert e["bits"].count(SEGMENT) <= nseg - 1


@pytest.mark.parametrize("fmt", HUFF)
def test_code_table_counts_and_prefix_free(fmt):
    W = example(4)
    M = get_format(fmt).from_dense(W)
    t = code_table(M)
    for v, c in zip(t["value"], t["count"]):
        assert c == int((W == v).sum())
    cws = list(t["codeword"])
    assert all(not b.startswith(a) for a in cws for b in cws if a != b)
    assert (t["length"] == t["codeword"].str.len()).all()


@pytest.mark.parametrize("fmt", HUFF)
def test_trace_final_sums_equal_numpy(fmt):
    W = example(5, 6, 4)
    x = np.linspace(-1, 2, 6).astype(np.float32)
    steps, y = trace_product(get_format(fmt).from_dense(W), x)
    np.testing.assert_allclose(y, x @ W, rtol=1e-6)
    last = steps.groupby("column")["running sum"].last()
    np.testing.assert_allclose(last.to_numpy(), (x @ W)[last.index.to_numpy()], rtol=1e-6)
    if fmt == "ham":
        assert len(steps) == W.size and steps["skipped"].sum() == (W == 0).sum()


def test_trace_rejects_wrong_x():
    with pytest.raises(ValueError, match="shape"):
        trace_product(get_format("ham").from_dense(example()), np.ones(3))


def test_non_huffman_formats_refuse_bit_tables():
    with pytest.raises(TypeError, match="no Huffman stream"):
        codewords(get_format("csc").from_dense(example()))


def test_large_matrix_refused():
    with pytest.raises(ValueError, match="too large"):
        codewords(get_format("ham").from_dense(np.zeros((300, 300), np.float32)))


@pytest.mark.parametrize("fmt", ["cer", "cser"])
def test_grouped_arrays_rebuild_matrix(fmt):
    W = example(6)
    M = get_format(fmt).from_dense(W)
    g = grouped_arrays(M)["groups"]
    D = np.full_like(W, M.implicit_value)
    for col, v, rows in zip(g["output (column)"], g["value"], g["inputs (rows)"]):
        D[rows, col] = v
    np.testing.assert_array_equal(D, W)


def test_csc_arrays_and_explain_everywhere():
    W = example(7)
    a = csc_arrays(W)
    assert a["data"].size == np.count_nonzero(W)
    for fmt in ["dense", "csr", "csc", "coo", "im", "ham", "sham", "sham_gap", "cer", "cser"]:
        e = get_format(fmt).from_dense(W).explain()
        np.testing.assert_array_equal(e["dense"].to_numpy(), W)
        assert int(e["nbytes"].sum()) == get_format(fmt).from_dense(W).nbytes


def test_draw_code_tree_has_one_label_per_leaf():
    import matplotlib
    matplotlib.use("Agg")
    M = get_format("ham").from_dense(example())
    ax = draw_code_tree(M)
    leaf_labels = [t for t in ax.texts if "×" in t.get_text()]
    assert len(leaf_labels) == M.k

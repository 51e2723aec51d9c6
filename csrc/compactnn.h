/* compactnn.h: the one public header of the compactnn C kernels.
 *
 * Conventions (after SciPy's sparsetools): fixed-width integer types; the
 * caller allocates every array, outputs included, and passes every length;
 * no global state; every function returns an int status (CNN_OK == 0),
 * which cnn_strerror() turns into a message.
 *
 * The section between the CDEF markers is read verbatim by the cffi build
 * script (lib/compactnn/_build_native.py), so it must stay plain C
 * declarations without preprocessor directives.
 */
#ifndef COMPACTNN_H
#define COMPACTNN_H

#include <stddef.h>
#include <stdint.h>

/* CDEF BEGIN */

enum cnn_status {
    CNN_OK = 0,
    CNN_ERR_ARG = 1,      /* an argument or array length is invalid */
    CNN_ERR_CORRUPT = 2,  /* compressed data inconsistent with its header */
    CNN_ERR_CODE = 3,     /* invalid Huffman code description */
    CNN_ERR_NOMEM = 4,    /* allocation failed */
    CNN_ERR_THREAD = 5    /* a worker thread could not be started */
};

/* Compile-time build options, readable from Python. */
enum cnn_build {
    CNN_TABLE_BITS = 12,    /* width of the primary Huffman decode table */
    CNN_MAX_CODE_LEN = 32,  /* longest Huffman codeword supported */
    CNN_MAX_THREADS = 256,  /* upper bound on worker threads per call */
    CNN_MAX_SPIN_MS = 1000, /* upper bound on a pool worker's polling, ms */
    CNN_MAX_TABLE_SYMBOL = 2097151, /* symbols above this decode on the slow path */
    CNN_SHAM_TWO_SUMS = 32, /* sHAM: nonzeros per column (q >= this * m) from which
                               each column sums even and odd offsets apart */
    /* words of cnn_ham_tables_f32 and _f64: a header of 8, the run table,
     * the split table's lengths (bytes) and values */
    CNN_HAM_TABLES_F32 = 8 + 4096 + 4096 / 4 + 4096,
    CNN_HAM_TABLES_F64 = 8 + 4096 + 4096 / 4 + 2 * 4096,
    /* words of cnn_sham_gap_tables: a header of 8, four tables of 4096
     * 264 words apart */
    CNN_SHAM_GAP_TABLES = 8 + 4 * 4096 + 3 * 264
};

/* Message for a status code (static storage, never NULL). */
const char *cnn_strerror(int status);

/* ---- Bit streams ----------------------------------------------------------
 * A stream is an array of unsigned words of `wordbits` = 32 or 64 bits; bits
 * are written most-significant first, word after word, and the last word is
 * zero-padded.  Bit position p lives in word p / wordbits.
 */

/* Write `count` codewords into `words` (nwords words of `wordbits` bits).
 * sym[count]: symbol index of each codeword, < nsym.
 * codes[nsym], lens[nsym]: codeword bits (right-aligned) and lengths (0..32).
 * The caller sizes words to ceil(sum of lens / wordbits); they are zeroed first.
 * Cost O(count + nwords). */
int cnn_bits_encode(const uint32_t *sym, int64_t count,
                    const uint32_t *codes, const uint8_t *lens, int64_t nsym,
                    void *words, int64_t nwords, int wordbits);

/* ---- Canonical Huffman codes ---------------------------------------------
 * A code is described by len_count[0..maxlen] (number of codewords of each
 * length, len_count[0] == 0) and its nsym symbols in canonical order (by
 * length, then by symbol); codewords of one length are consecutive integers
 * (the DEFLATE convention).  Kernels rebuild their lookup table from it.
 */

/* Decode `count` symbols starting at bit `start` into sym_out[count].
 * Reference entry point for tests; the products decode in place.
 * *end_bit receives the bit position after the last codeword. O(count). */
int cnn_huff_decode(const void *words, int64_t nwords, int wordbits,
                    const uint32_t *len_count, int maxlen, int64_t nsym,
                    int64_t start, int64_t count,
                    uint32_t *sym_out, int64_t *end_bit);

/* Decode nseg segments: segment i holds symbols sym_first[i] .. sym_first[i+1]-1
 * (sym_first[nseg+1], non-decreasing, sym_first[nseg] == nout) and its
 * codewords occupy bits seg_bits[i] .. seg_bits[i+1] exactly (seg_bits[nseg+1]).
 * Any other layout is reported as corrupt.  O(nout + nseg). */
int cnn_huff_decode_segments(const void *words, int64_t nwords, int wordbits,
                             const uint32_t *len_count, int maxlen, int64_t nsym,
                             const int64_t *seg_bits, const int64_t *sym_first, int64_t nseg,
                             uint32_t *sym_out, int64_t nout);

/* ---- Worker pools -----------------------------------------------------------
 * A caller-owned set of `workers` helper threads that the products reuse
 * instead of starting threads on every call.  One call at a time uses a pool;
 * a call that finds it busy (another thread of the caller is in a product)
 * or too small starts its own threads, as with pool == NULL.
 */
typedef struct cnn_pool cnn_pool;

/* Start a pool of `workers` (0 .. CNN_MAX_THREADS - 1) threads into *out.
 * An idle worker polls for the next product for `spin_ns` nanoseconds (0 ..
 * CNN_MAX_SPIN_MS milliseconds) before it sleeps: products called back to
 * back (a layer after another, a batch after another) then find it awake,
 * where waking a sleeping thread costs tens of microseconds, and on a virtual
 * machine the core of an idle virtual CPU may be lent elsewhere for
 * milliseconds.  The polling yields the CPU (sched_yield) to any other
 * runnable thread. */
int cnn_pool_create(int workers, int64_t spin_ns, cnn_pool **out);
/* Stop and join the workers and free the pool (NULL is a no-op). */
void cnn_pool_destroy(cnn_pool *pool);

/* ---- Transposition -----------------------------------------------------------
 * out[c * rows + r] = x[r * cols + c] for an x of rows x cols (both row-major,
 * no overlap): X (b x n) into the xt (n x b) that the products read. */
int cnn_transpose_f32(const float *x, int64_t rows, int64_t cols, float *out, int64_t nout);
int cnn_transpose_f64(const double *x, int64_t rows, int64_t cols, double *out, int64_t nout);

/* ---- Products  out = X @ W  ------------------------------------------------
 * Every product takes X transposed: xt[n * b] (row r of W meets xt[r*b .. r*b+b-1])
 * and writes out[m * b] (column c of the result at out[c*b .. c*b+b-1]).
 * `threads` >= 1 workers split the columns (capped at m and CNN_MAX_THREADS):
 * the calling thread and threads - 1 from `pool` (may be NULL).
 * _f32 kernels take float32 values/xt/out, _f64 float64.
 */

/* HAM: n x m matrix, all n*m entries Huffman-coded column-major.
 * words[nwords]: the stream; col_bits[m+1]: bit offset of each column's start
 * (col_bits[m] = end of the last one); values[nsym]: symbol values in canonical
 * order; zero_sym: index in values of the zero symbol, or -1 if none.
 * stream[nstream] (optional, NULL): as for sHAM, the stream's bytes in order
 * plus 8 bytes of padding, for the batch-8 fast path.
 * tab[ntab] (optional, NULL): the code's decode tables, as cnn_ham_tables_*
 * builds them (ntab = CNN_HAM_TABLES_F32 or _F64 words) from the same
 * len_count, values and zero_sym, so that the product does not build them
 * on every call; tables of other sizes or with entries out of range give
 * CNN_ERR_ARG.
 * Cost O(n m) decoded symbols (runs of zero codewords decoded a table at a time). */
int cnn_ham_tables_f32(const uint32_t *len_count, int maxlen, const float *values, int64_t nsym,
                       int64_t zero_sym, uint32_t *tab, int64_t ntab);
int cnn_ham_tables_f64(const uint32_t *len_count, int maxlen, const double *values, int64_t nsym,
                       int64_t zero_sym, uint32_t *tab, int64_t ntab);
int cnn_ham_matmat_f32(int64_t n, int64_t m,
                       const void *words, int64_t nwords, int wordbits,
                       const uint8_t *stream, int64_t nstream,
                       const int64_t *col_bits, int64_t ncol_bits,
                       const uint32_t *len_count, int maxlen,
                       const float *values, int64_t nsym, int64_t zero_sym,
                       const uint32_t *tab, int64_t ntab,
                       const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_ham_matmat_f64(int64_t n, int64_t m,
                       const void *words, int64_t nwords, int wordbits,
                       const uint8_t *stream, int64_t nstream,
                       const int64_t *col_bits, int64_t ncol_bits,
                       const uint32_t *len_count, int maxlen,
                       const double *values, int64_t nsym, int64_t zero_sym,
                       const uint32_t *tab, int64_t ntab,
                       const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);

/* sHAM: CSC layout; the q nonzero values Huffman-coded column by column.
 * stream[nstream]: the same bit stream as bytes in stream order followed by at
 * least 8 bytes of padding (for 32-bit words stored little-endian: each word
 * byte-swapped), which the batch-8 path reads with unaligned 64-bit loads;
 * ri[q]: row index of each nonzero, unsigned of ri_bytes = 1, 2 or 4 bytes;
 * cb[m+1]: column pointers into ri (cb[0] = 0, cb[m] = q);
 * col_bits[m+1]: bit offset of each column's codewords.
 * verified: 0, or nonzero when the caller has checked that every column's
 * codewords start at col_bits (a product with verified = 0 on the same
 * arrays succeeded): the fast path then checks only the offsets where its
 * lanes start and end, and offsets that lie give a wrong product, never an
 * access out of bounds.  Cost O(q). */
int cnn_sham_matmat_f32(int64_t n, int64_t m,
                        const void *words, int64_t nwords, int wordbits,
                        const uint8_t *stream, int64_t nstream,
                        const int64_t *col_bits, int64_t ncol_bits,
                        const uint32_t *len_count, int maxlen,
                        const float *values, int64_t nsym,
                        const void *ri, int ri_bytes, int64_t q,
                        const int64_t *cb, int64_t ncb, int verified,
                        const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_sham_matmat_f64(int64_t n, int64_t m,
                        const void *words, int64_t nwords, int wordbits,
                        const uint8_t *stream, int64_t nstream,
                        const int64_t *col_bits, int64_t ncol_bits,
                        const uint32_t *len_count, int maxlen,
                        const double *values, int64_t nsym,
                        const void *ri, int ri_bytes, int64_t q,
                        const int64_t *cb, int64_t ncb, int verified,
                        const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);

/* IM: codebook values[nsym] plus one `width`-bit index per entry (0 <= width
 * <= 32), column-major, packed in the stream; column c starts at bit c*n*width.
 * Indices >= nsym are reported as corrupt.  Cost O(n m).  `stream`
 * (optional, NULL if absent) is the words' bytes in stream order plus 8
 * bytes of padding (nstream = 4 * 32-bit chunks + 8): with it, and finite X,
 * batches of 8 and 1 take branch-free paths over eight columns at once. */
int cnn_im_matmat_f32(int64_t n, int64_t m,
                      const void *words, int64_t nwords, int wordbits, int width,
                      const uint8_t *stream, int64_t nstream,
                      const float *values, int64_t nsym, int64_t zero_sym,
                      const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_im_matmat_f64(int64_t n, int64_t m,
                      const void *words, int64_t nwords, int wordbits, int width,
                      const uint8_t *stream, int64_t nstream,
                      const double *values, int64_t nsym, int64_t zero_sym,
                      const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);

/* CER / CSER (Wiedemann et al.): per output c (a row of W^T), its stored
 * entries grouped by value.  values[nsym]: distinct values by frequency,
 * values[0] the implicit one (of every position no group lists; 0 when nsym
 * is 0).  ci[q]: input index of each stored entry (< n), group by group;
 * gp[ngp]: group pointers into ci (gp[0] = 0, gp[ngp-1] = q); rp[nrp = m+1]:
 * row pointers into the groups (rp[0] = 0, rp[m] = ngp-1).  CER: group j of
 * row c has value values[1 + j - rp[c]] (at most nsym-1 groups per row);
 * CSER: vi[nvi = ngp-1] gives each group's value index (1 <= vi < nsym).
 * ci, gp, rp, vi are unsigned of *_bytes = 1, 2, 4 or 8 bytes.
 * Per group the inputs are summed and multiplied once.  Cost O(q + groups)
 * per batch column, plus O(n m) when values[0] != 0 (the unlisted inputs of
 * every row are summed directly). */
int cnn_cer_matmat_f32(int64_t n, int64_t m, const float *values, int64_t nsym,
                       const void *ci, int ci_bytes, int64_t q,
                       const void *gp, int gp_bytes, int64_t ngp,
                       const void *rp, int rp_bytes, int64_t nrp,
                       const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_cer_matmat_f64(int64_t n, int64_t m, const double *values, int64_t nsym,
                       const void *ci, int ci_bytes, int64_t q,
                       const void *gp, int gp_bytes, int64_t ngp,
                       const void *rp, int rp_bytes, int64_t nrp,
                       const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);
int cnn_cser_matmat_f32(int64_t n, int64_t m, const float *values, int64_t nsym,
                        const void *ci, int ci_bytes, int64_t q,
                        const void *gp, int gp_bytes, int64_t ngp,
                        const void *rp, int rp_bytes, int64_t nrp,
                        const void *vi, int vi_bytes, int64_t nvi,
                        const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_cser_matmat_f64(int64_t n, int64_t m, const double *values, int64_t nsym,
                        const void *ci, int ci_bytes, int64_t q,
                        const void *gp, int gp_bytes, int64_t ngp,
                        const void *rp, int rp_bytes, int64_t nrp,
                        const void *vi, int vi_bytes, int64_t nvi,
                        const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);

/* sHAM-gap: sHAM with entropy-coded positions (see csrc/sham_gap_code.h).
 * Columns are cut into blocks of `group` (>= 1) consecutive columns; block
 * j covers columns j*group .. min(m, (j+1)*group) - 1 and its codewords start
 * at bit blk_bits[j] (nblk_bits = ceil(m / group) + 1 entries; the last is
 * the end of the stream).  In a block, read column-major, every nonzero is a
 * gap codeword (zeros since the previous nonzero of the block; gap symbol
 * s < lit is the gap s, s == lit ends the block, s = lit + 1 + j is a gap
 * lit - 1 + v with v in [2^j, 2^(j+1)) whose j low bits follow raw) and then
 * its value codeword.  gap_syms[ngap]: gap symbol of each canonical index of
 * the gap code (gap_len_count[0..gap_maxlen]); values[nsym]: the nonzero
 * values in canonical order of the value code (len_count[0..maxlen]).
 * Rows past the block's columns, or a block not ending exactly at its
 * offset, are reported as corrupt; group * n must be at most 2^31 (the
 * positions of a block fit 31 bits).  stream[nstream]: the words' bits as
 * bytes in stream order plus 8 zero bytes (nstream = 4 * ceil(bits / 32) + 8,
 * as for cnn_sham_matmat), which the product reads.  tab[ntab] (optional,
 * NULL): the codes' decode tables as cnn_sham_gap_tables builds them
 * (ntab = CNN_SHAM_GAP_TABLES) from the same codes, so that the product
 * does not build them on every call; tables of other sizes or with entries
 * out of range give CNN_ERR_ARG.  Cost O(q + m) decoded codewords. */
int cnn_sham_gap_tables(const uint32_t *gap_len_count, int gap_maxlen, const uint32_t *gap_syms,
                        int64_t ngap, int64_t lit, const uint32_t *len_count, int maxlen,
                        int64_t nsym, uint32_t *tab, int64_t ntab);
int cnn_sham_gap_matmat_f32(int64_t n, int64_t m, int64_t group,
                            const void *words, int64_t nwords, int wordbits,
                            const uint8_t *stream, int64_t nstream,
                            const int64_t *blk_bits, int64_t nblk_bits,
                            const uint32_t *gap_len_count, int gap_maxlen,
                            const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                            const uint32_t *len_count, int maxlen,
                            const float *values, int64_t nsym,
                            const uint32_t *tab, int64_t ntab,
                            const float *xt, int64_t b, float *out, int threads, cnn_pool *pool);
int cnn_sham_gap_matmat_f64(int64_t n, int64_t m, int64_t group,
                            const void *words, int64_t nwords, int wordbits,
                            const uint8_t *stream, int64_t nstream,
                            const int64_t *blk_bits, int64_t nblk_bits,
                            const uint32_t *gap_len_count, int gap_maxlen,
                            const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                            const uint32_t *len_count, int maxlen,
                            const double *values, int64_t nsym,
                            const uint32_t *tab, int64_t ntab,
                            const double *xt, int64_t b, double *out, int threads, cnn_pool *pool);
/* Decode the same stream: the q nonzeros' column-major positions
 * pos_out[q] (col * n + row) and value canonical indices sym_out[q], in
 * stream order.  A stream holding more or fewer than q nonzeros is corrupt. */
int cnn_sham_gap_decode(int64_t n, int64_t m, int64_t group,
                        const void *words, int64_t nwords, int wordbits,
                        const int64_t *blk_bits, int64_t nblk_bits,
                        const uint32_t *gap_len_count, int gap_maxlen,
                        const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                        const uint32_t *len_count, int maxlen, int64_t nsym,
                        int64_t q, int64_t *pos_out, uint32_t *sym_out);

/* CDEF END */

#endif /* COMPACTNN_H */

/* ham_kernel.h: the HAM product out = X @ W for one value type REAL.
 * Included by ham_f32.c (REAL = float) and ham_f64.c (double), which write
 * the public functions out by name; the helpers are static, so each file has
 * its own copy under the same names.
 *
 * Each worker decodes whole columns: the column's codewords start at
 * col_bits[c]; exactly n symbols are decoded, runs of zero codewords a table
 * lookup at a time, and every non-zero value v at row r adds v * xt[r, :] to
 * the column's b accumulators.  A column that does not end exactly at
 * col_bits[c+1] is reported as corrupt.
 */
#include <string.h>

#include "real.h"

/* Rows of a column that the eight-lane path (ham_oct8) decodes from one
 * 64-bit window (four codewords of at most CNN_TABLE_BITS bits).  The skip
 * path (ham_skip8) decodes one run of zero codewords and one more codeword
 * per window; per window both cost one peek, table loads and a multiply-add,
 * so the skip path is taken when its step covers more rows than this on
 * average, counted on the matrix at each call (ham_rows_per_step). */
enum { HAM_OCT_ROWS_PER_WINDOW = 4 };

typedef struct {
    int64_t n, b;
    const int64_t *col_bits;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_huff *h;
    cnn_bits bits;
    const uint8_t *stream;
    int64_t stream_bits;  /* readable positions: 8 * (nstream - 8) */
    const uint8_t *tl;    /* split decode table of the lockstep paths (real.h: split_tables) */
    uint64_t zflip;       /* zero's one-bit codeword in every bit (ham_skip8) */
    int64_t zmax;         /* most zero codewords a ham_skip8 step skips: 0 without a one-bit zero */
    int lockstep;         /* b = 8 or 1, a byte stream and finite X: the lockstep paths */
    int oct;              /* ham_oct8 on groups of eight columns, ham_skip8 on the rest */
} ham_ctx;

/* One lookup in one column: skip a run of zero codewords and decode at most
 * one other symbol.  Returns a status; *sym is set (and *row points at its
 * row) when a non-zero symbol was decoded, else *sym = UINT32_MAX. */
CNN_INLINE int ham_decode(const ham_ctx *k, cnn_lane *l, int64_t *row, uint32_t *sym)
{
    const cnn_huff *h = k->h;
    const int64_t n = k->n;
    if (l->cnt <= 32 && l->next < k->bits.nchunks) {
        l->buf |= (uint64_t)k->bits.w[l->next ^ k->bits.swap] << (32 - l->cnt);
        l->cnt += 32;
        l->next++;
    }
    const uint32_t e = h->table[l->buf >> (64 - h->tb)];
    int nb;
    *sym = UINT32_MAX;
    if (CNN_LIKELY(e)) {
        int64_t run = CNN_E_RUN(e);
        int has = CNN_E_HAS(e);
        nb = CNN_E_BITS(e);
        if (CNN_UNLIKELY(*row + run + has > n)) { /* the run crosses the column end */
            run = n - *row;
            has = 0;
            nb = (int)run * h->len0;
        }
        if (CNN_UNLIKELY(nb > l->cnt)) return CNN_ERR_CORRUPT;
        l->buf <<= nb;
        l->cnt -= nb;
        *row += run;
        if (has) *sym = CNN_E_SYM(e);
        return CNN_OK;
    }
    uint32_t s;
    int st = cnn_huff_slow_v(h, l->buf, l->cnt, &s, &nb);
    if (st) return st;
    l->buf = nb >= 64 ? 0 : l->buf << nb;
    l->cnt -= nb;
    if ((int64_t)s == h->zero_sym) (*row)++;
    else *sym = s;
    return CNN_OK;
}

/* ham_decode, then the decoded value times the row of X^T into the accumulators. */
CNN_INLINE int ham_step(const ham_ctx *k, cnn_lane *l, int64_t *row, REAL *restrict acc,
                        const int64_t B)
{
    uint32_t sym;
    int st = ham_decode(k, l, row, &sym);
    if (st || sym == UINT32_MAX) return st;
    const REAL v = k->values[sym];
    const REAL *restrict x = k->xt + *row * B;
    for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    (*row)++;
    return CNN_OK;
}

CNN_INLINE void ham_open(const ham_ctx *k, int64_t c, cnn_lane *l, int64_t *row,
                         REAL *acc, const int64_t B)
{
    cnn_lane_seek(&k->bits, l, k->col_bits[c]);
    *row = 0;
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
}

CNN_INLINE int ham_close(const ham_ctx *k, int64_t c, cnn_lane *l, int64_t *row,
                         REAL *acc, const int64_t B)
{
    while (*row < k->n) {
        int st = ham_step(k, l, row, acc, B);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    REAL *out = k->out + c * B;
    if (out != acc)
        for (int64_t t = 0; t < B; t++) out[t] = acc[t];
    return CNN_OK;
}

/* Columns [c0, c1) through four lanes (independent bit readers in locals);
 * a lane whose column is complete takes the next one at once. */
CNN_INLINE int ham_span(const ham_ctx *k, int64_t c0, int64_t c1, const int64_t B)
{
    cnn_lane l0 = {0, 0, 0}, l1 = {0, 0, 0}, l2 = {0, 0, 0}, l3 = {0, 0, 0};
    int64_t r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    int64_t k0 = -1, k1 = -1, k2 = -1, k3 = -1; /* column of each lane, -1 when idle */
    REAL s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
    REAL *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
    const int64_t n = k->n;
    int64_t nc = c0;
    int st = CNN_OK;
#define CNN_HAM_OPEN(J)                                                       \
    do {                                                                      \
        k##J = nc++;                                                          \
        a##J = B <= 8 ? s##J : k->out + k##J * B;                             \
        ham_open(k, k##J, &l##J, &r##J, a##J, B);                        \
    } while (0)
#define CNN_HAM_ROTATE(J)                                                     \
    while (r##J >= n) {                                                       \
        st = ham_close(k, k##J, &l##J, &r##J, a##J, B);                  \
        k##J = -1;                                                            \
        if (st || nc >= c1) goto drain;                                       \
        CNN_HAM_OPEN(J);                                                      \
    }
    if (c1 - c0 >= 4) {
        CNN_HAM_OPEN(0);
        CNN_HAM_OPEN(1);
        CNN_HAM_OPEN(2);
        CNN_HAM_OPEN(3);
        for (;;) {
            CNN_HAM_ROTATE(0)
            CNN_HAM_ROTATE(1)
            CNN_HAM_ROTATE(2)
            CNN_HAM_ROTATE(3)
            st = ham_step(k, &l0, &r0, a0, B);
            st |= ham_step(k, &l1, &r1, a1, B);
            st |= ham_step(k, &l2, &r2, a2, B);
            st |= ham_step(k, &l3, &r3, a3, B);
            if (CNN_UNLIKELY(st)) return CNN_ERR_CORRUPT;
        }
    }
drain:
    if (st) return st;
    if (k0 >= 0 && (st = ham_close(k, k0, &l0, &r0, a0, B))) return st;
    if (k1 >= 0 && (st = ham_close(k, k1, &l1, &r1, a1, B))) return st;
    if (k2 >= 0 && (st = ham_close(k, k2, &l2, &r2, a2, B))) return st;
    if (k3 >= 0 && (st = ham_close(k, k3, &l3, &r3, a3, B))) return st;
    while (nc < c1) {
        CNN_HAM_OPEN(0);
        if ((st = ham_close(k, k0, &l0, &r0, a0, B))) return st;
    }
#undef CNN_HAM_OPEN
#undef CNN_HAM_ROTATE
    return CNN_OK;
}

#if defined(__GNUC__)
typedef REAL hvec8 __attribute__((vector_size(8 * sizeof(REAL))));

/* Row r of X^T for the lockstep paths, B = 8 or 1 (then in every element:
 * element 0 carries the sum). */
CNN_INLINE void ham_xrow(hvec8 *x, const REAL *xt, int64_t r, const int64_t B)
{
    if (B == 8) __builtin_memcpy(x, xt + r * 8, sizeof *x);
    else *x = (hvec8){0} + xt[r];
}

/* b = 8 or 1: as ham_step, with the column's sums in one vector variable. */
CNN_INLINE int ham_step8(const ham_ctx *k, cnn_lane *l, int64_t *row, hvec8 *acc, const int64_t B)
{
    uint32_t sym;
    int st = ham_decode(k, l, row, &sym);
    if (st || sym == UINT32_MAX) return st;
    hvec8 x;
    ham_xrow(&x, k->xt, *row, B);
    *acc += k->values[sym] * x;
    (*row)++;
    return CNN_OK;
}

CNN_INLINE int ham_close8(const ham_ctx *k, int64_t c, cnn_lane *l, int64_t *row,
                          hvec8 *acc, const int64_t B)
{
    while (*row < k->n) {
        int st = ham_step8(k, l, row, acc, B);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    if (B == 8) __builtin_memcpy(k->out + c * 8, acc, sizeof *acc);
    else k->out[c] = (*acc)[0];
    return CNN_OK;
}

/* b = 8 or 1 on the byte stream, where zero's codeword is one bit: four
 * lanes, each decoding one column with only a bit position and a row as
 * state, in lockstep.  A step skips the run of zero codewords at the top of
 * the lane's window at once (leading zero bits, or ones when zero's codeword
 * is "1": k->zflip), at most k->zmax of them (HAM_SKIP_MAX; 0 when zero's
 * codeword is longer) and never the column's last row, then decodes one
 * codeword through the split table (k->tl; zero is a value of 0
 * there, whose product adds nothing: X is finite here) and adds its value
 * times its row of X^T.  So a step covers a whole run and its symbol,
 * however long the run, where a run-table entry covered at most a table's
 * width of zero codewords: against that path (b = 1 and 8, 1 thread,
 * paired), 0.33-0.44x the time at densities 0.01-0.02, 0.48-0.56x at 0.05,
 * 0.55-0.76x at 0.1 and 0.8x at 0.2 (192 x 1024, 512 x 4096 and 4096 x 4096,
 * skewed included); at 0.25, where a step covers 4 rows, it ties with the
 * eight-lane path, and at 0.3-0.5 it takes 1.10-1.54x that path's time.
 * Every step ends at or before the column's last row, so a round needs no
 * row check before it; a lane that reaches its column's end stores its sums
 * and takes the next column.  Rounds go while every lane's window and a
 * re-read after a skip stay within the stream; past that, and for columns
 * left over, one lane finishes alone (ham_finish8) with the word reader for
 * its last rows.  Codewords longer than the table take a rarely taken
 * branch. */
enum { HAM_SKIP_MAX = 57 - CNN_TABLE_BITS }; /* the window's stream bits, less a lookup */

/* The zero codewords a step skips at the top of window x: its leading zero
 * bits (x ^ zflip), at most zmax and at most `left` (the rows before the
 * column's last). */
CNN_INLINE int64_t ham_zeros(uint64_t x, uint64_t zflip, int64_t zmax, int64_t left)
{
    const int64_t z = __builtin_clzll((x ^ zflip) | 1);
    const int64_t zm = z < zmax ? z : zmax;
    return zm < left ? zm : left;
}

#define CNN_HQ_STEP(P, R, A)                                                  \
    {                                                                         \
        const uint64_t x_ = cnn_peek_be(S, P);                                \
        const int64_t z_ = ham_zeros(x_, ZF, ZM, n - 1 - (R));                \
        const uint64_t ix_ = (x_ << z_) >> CNN_WIN_SHIFT;                     \
        int64_t l_ = TL[ix_];                                                 \
        REAL v_ = split_tv(TL, ix_);                                          \
        P += z_;                                                              \
        R += z_;                                                              \
        if (CNN_UNLIKELY(!l_)) { /* a codeword longer than the table */       \
            const cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be(S, P));       \
            if (!d_.len) return CNN_ERR_CORRUPT;                              \
            l_ = d_.len;                                                      \
            v_ = V[d_.sym];                                                   \
        }                                                                     \
        P += l_;                                                              \
        hvec8 xx_;                                                            \
        ham_xrow(&xx_, XT, R, B);                                             \
        A += v_ * xx_;                                                        \
        R++;                                                                  \
    }
#define CNN_HQ_LOCALS                                                         \
    const uint8_t *S = k->stream;                                             \
    const cnn_huff *h = k->h;                                                 \
    const uint8_t *TL = k->tl;                                                \
    const REAL *V = k->values, *XT = k->xt;                                   \
    const uint64_t ZF = k->zflip;                                             \
    const int64_t ZM = k->zmax;                                               \
    const int64_t n = k->n, LIM = k->stream_bits - HAM_SKIP_MAX;

/* Finish column c from bit p, row r: steps while their reads are in the
 * stream, then the word reader for the last rows; store the sums. */
CNN_INLINE int ham_finish8(const ham_ctx *k, int64_t c, int64_t p, int64_t r, hvec8 a,
                           const int64_t B)
{
    CNN_HQ_LOCALS
    while (r < n && p <= LIM) CNN_HQ_STEP(p, r, a)
    if (p > k->stream_bits) return CNN_ERR_CORRUPT;
    cnn_lane l;
    cnn_lane_seek(&k->bits, &l, p);
    return ham_close8(k, c, &l, &r, &a, B);
}

CNN_INLINE int ham_skip8(const ham_ctx *k, int64_t c0, int64_t c1, const int64_t B)
{
    CNN_HQ_LOCALS
    const int64_t *cbits = k->col_bits;
    REAL *out = k->out;
    const int four = c1 - c0 >= 4; /* else each column alone */
    int64_t nc = four ? c0 + 4 : c0;
    int64_t k0 = four ? c0 : -1, k1 = four ? c0 + 1 : -1;
    int64_t k2 = four ? c0 + 2 : -1, k3 = four ? c0 + 3 : -1;
    int64_t p0 = four ? cbits[c0] : 0, p1 = four ? cbits[c0 + 1] : 0;
    int64_t p2 = four ? cbits[c0 + 2] : 0, p3 = four ? cbits[c0 + 3] : 0;
    int64_t r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    hvec8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int st;
    while (four) {
        int64_t top = p0 > p1 ? p0 : p1, top2 = p2 > p3 ? p2 : p3;
        top = top > top2 ? top : top2;
        if (top > LIM) break; /* near the stream's end (or past it): finish alone */
        CNN_HQ_STEP(p0, r0, a0)
        CNN_HQ_STEP(p1, r1, a1)
        CNN_HQ_STEP(p2, r2, a2)
        CNN_HQ_STEP(p3, r3, a3)
        if (CNN_LIKELY((r0 < n) & (r1 < n) & (r2 < n) & (r3 < n))) continue;
        /* a lane at its column's end: check where it stopped, store, take the next */
#define CNN_HQ_ROTATE(J)                                                      \
        if (r##J == n) {                                                      \
            if (p##J != cbits[k##J + 1]) return CNN_ERR_CORRUPT;              \
            if (B == 8) __builtin_memcpy(out + k##J * 8, &a##J, sizeof a##J); \
            else out[k##J] = a##J[0];                                         \
            if (nc >= c1) {                                                   \
                k##J = -1;                                                    \
                goto drain;                                                   \
            }                                                                 \
            k##J = nc++;                                                      \
            p##J = cbits[k##J];                                               \
            r##J = 0;                                                         \
            a##J = (hvec8){0};                                                \
        }
        CNN_HQ_ROTATE(0)
        CNN_HQ_ROTATE(1)
        CNN_HQ_ROTATE(2)
        CNN_HQ_ROTATE(3)
#undef CNN_HQ_ROTATE
    }
drain:
    if (k0 >= 0 && (st = ham_finish8(k, k0, p0, r0, a0, B))) return st;
    if (k1 >= 0 && (st = ham_finish8(k, k1, p1, r1, a1, B))) return st;
    if (k2 >= 0 && (st = ham_finish8(k, k2, p2, r2, a2, B))) return st;
    if (k3 >= 0 && (st = ham_finish8(k, k3, p3, r3, a3, B))) return st;
    for (; nc < c1; nc++) {
        const hvec8 zero_acc = {0};
        if ((st = ham_finish8(k, nc, cbits[nc], 0, zero_acc, B))) return st;
    }
    return CNN_OK;
}
#undef CNN_HQ_STEP
#undef CNN_HQ_LOCALS

/* b = 8 (or 1) through the split table (k->tl): every codeword is one
 * row, so eight columns go in lockstep row by row, sharing each row of X^T,
 * four rows per lane from one 64-bit window (at least 57 stream bits; a
 * codeword on the table has at most 12).  It is taken when zero's codeword
 * is longer than one bit (or there is no zero symbol) or when the runs are
 * short (see HAM_OCT_ROWS_PER_WINDOW): zero is then a symbol of value 0
 * whose product adds nothing (X is finite here).  Blocks of rows are bounded
 * by the stream's end; the word reader finishes whatever a block could not
 * reach.  A second fast path beside the skip path, because the skip path
 * takes 1.10-1.54x its time at densities 0.3-0.5, at batch 1 and 8 (paired
 * medians).  Each path is compiled out of line (ham_oct8_b1 and the others):
 * inlined side by side into one function, this one took 1.03-1.09x the time
 * (paired, densities 0.3-1). */
CNN_INLINE int ham_oct8(const ham_ctx *k, int64_t c, const int64_t B)
{
    const uint8_t *S = k->stream;
    const cnn_huff *h = k->h;
    const uint8_t *TL = k->tl;
    const REAL *V = k->values, *XT = k->xt;
    const int64_t n = k->n, LIM = k->stream_bits, zero = h->zero_sym;
    const int64_t *cbits = k->col_bits + c;
    int64_t p0 = cbits[0], p1 = cbits[1], p2 = cbits[2], p3 = cbits[3];
    int64_t p4 = cbits[4], p5 = cbits[5], p6 = cbits[6], p7 = cbits[7];
    hvec8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
    int64_t i = 0;
/* The codeword at the top of lane J's window W: its value times XX into the
 * lane's sums, its length onto p##J, W shifted past it (or, after a codeword
 * off the table, read again from the stream). */
#define CNN_HO_SYM(J, W, XX)                                                  \
    {                                                                         \
        const uint64_t ix_ = (W) >> CNN_WIN_SHIFT;                            \
        const int64_t l_ = TL[ix_];                                           \
        if (CNN_LIKELY(l_)) {                                                 \
            (W) <<= l_;                                                       \
            p##J += l_;                                                       \
            a##J += split_tv(TL, ix_) * XX;                                   \
        } else {                                                              \
            const cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be(S, p##J));    \
            if (!d_.len) return CNN_ERR_CORRUPT;                              \
            p##J += d_.len;                                                   \
            if ((int64_t)d_.sym != zero) a##J += V[d_.sym] * XX;              \
            (W) = cnn_peek_be(S, p##J);                                       \
        }                                                                     \
    }
#define CNN_HO_STEP(J)                                                        \
    {                                                                         \
        uint64_t w_ = cnn_peek_be(S, p##J);                                   \
        CNN_HO_SYM(J, w_, xx)                                                 \
    }
/* Four rows of lanes J, K, L, M, each from one window of its own, the lanes'
 * codewords taken in turn: each lane's codewords form a chain of dependent
 * steps (the window shifted by the length its table entry gives), and four
 * chains side by side keep the core busy where one lane's four steps in a
 * row made it wait.  Against the four rows of one lane at a time: 0.88-0.95x
 * the time on 192 x 1024 and 512 x 4096 at densities 0.3-1 (b = 1 and 8, 1
 * thread, paired medians); all eight lanes in turn took 0.96-1.03x (their
 * windows do not fit the registers), and four columns in lockstep instead of
 * eight, 0.92-1.10x. */
#define CNN_HO_QUAD4(J, K, L, M)                                              \
    {                                                                         \
        uint64_t u_ = cnn_peek_be(S, p##J), v_ = cnn_peek_be(S, p##K);        \
        uint64_t y_ = cnn_peek_be(S, p##L), z_ = cnn_peek_be(S, p##M);        \
        CNN_HO_SYM(J, u_, xx0) CNN_HO_SYM(K, v_, xx0)                         \
        CNN_HO_SYM(L, y_, xx0) CNN_HO_SYM(M, z_, xx0)                         \
        CNN_HO_SYM(J, u_, xx1) CNN_HO_SYM(K, v_, xx1)                         \
        CNN_HO_SYM(L, y_, xx1) CNN_HO_SYM(M, z_, xx1)                         \
        CNN_HO_SYM(J, u_, xx2) CNN_HO_SYM(K, v_, xx2)                         \
        CNN_HO_SYM(L, y_, xx2) CNN_HO_SYM(M, z_, xx2)                         \
        CNN_HO_SYM(J, u_, xx3) CNN_HO_SYM(K, v_, xx3)                         \
        CNN_HO_SYM(L, y_, xx3) CNN_HO_SYM(M, z_, xx3)                         \
    }
    for (;;) {
        int64_t top = p0 > p1 ? p0 : p1, top2 = p2 > p3 ? p2 : p3;
        int64_t top3 = p4 > p5 ? p4 : p5, top4 = p6 > p7 ? p6 : p7;
        top = top > top2 ? top : top2;
        top3 = top3 > top4 ? top3 : top4;
        top = top > top3 ? top : top3;
        if (top > LIM) return CNN_ERR_CORRUPT;
        int64_t stop = (LIM - top) / 32;
        stop = stop < n - i ? i + stop : n;
        if (stop == i) break;
        for (; i + 3 < stop; i += 4) {
            hvec8 xx0, xx1, xx2, xx3;
            if (B == 8) {
                __builtin_memcpy(&xx0, XT + i * 8, sizeof xx0);
                __builtin_memcpy(&xx1, XT + i * 8 + 8, sizeof xx1);
                __builtin_memcpy(&xx2, XT + i * 8 + 16, sizeof xx2);
                __builtin_memcpy(&xx3, XT + i * 8 + 24, sizeof xx3);
            } else { /* b = 1: element 0 carries the sum */
                xx0 = (hvec8){0} + XT[i];
                xx1 = (hvec8){0} + XT[i + 1];
                xx2 = (hvec8){0} + XT[i + 2];
                xx3 = (hvec8){0} + XT[i + 3];
            }
            CNN_HO_QUAD4(0, 1, 2, 3)
            CNN_HO_QUAD4(4, 5, 6, 7)
        }
        for (; i < stop; i++) {
            hvec8 xx;
            if (B == 8) __builtin_memcpy(&xx, XT + i * 8, sizeof xx);
            else xx = (hvec8){0} + XT[i];
            CNN_HO_STEP(0)
            CNN_HO_STEP(1)
            CNN_HO_STEP(2)
            CNN_HO_STEP(3)
            CNN_HO_STEP(4)
            CNN_HO_STEP(5)
            CNN_HO_STEP(6)
            CNN_HO_STEP(7)
        }
    }
#undef CNN_HO_SYM
#undef CNN_HO_STEP
#undef CNN_HO_QUAD4
    int64_t ps[8] = {p0, p1, p2, p3, p4, p5, p6, p7};
    hvec8 as[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int j = 0; j < 8; j++) {
        cnn_lane l;
        int64_t r = i;
        cnn_lane_seek(&k->bits, &l, ps[j]);
        REAL a1 = as[j][0];
        int st = B == 8 ? ham_close8(k, c + j, &l, &r, &as[j], 8)
                        : ham_close(k, c + j, &l, &r, &a1, 1);
        if (st) return st;
    }
    return CNN_OK;
}

/* Out of line, so that each path is compiled on its own. */
__attribute__((noinline)) static int ham_oct8_b1(const ham_ctx *k, int64_t c)
{
    return ham_oct8(k, c, 1);
}

__attribute__((noinline)) static int ham_oct8_b8(const ham_ctx *k, int64_t c)
{
    return ham_oct8(k, c, 8);
}

__attribute__((noinline)) static int ham_skip8_b1(const ham_ctx *k, int64_t c0, int64_t c1)
{
    return ham_skip8(k, c0, c1, 1);
}

__attribute__((noinline)) static int ham_skip8_b8(const ham_ctx *k, int64_t c0, int64_t c1)
{
    return ham_skip8(k, c0, c1, 8);
}

/* b = 8 or 1 with the byte stream and finite X: the eight-lane path on
 * groups of eight columns where it was chosen, the skip path on the rest. */
CNN_INLINE int ham_span_fast(const ham_ctx *k, int64_t c0, int64_t c1, const int64_t B)
{
    int64_t c = c0;
    if (k->oct)
        for (; c + 8 <= c1; c += 8) {
            int st = B == 1 ? ham_oct8_b1(k, c) : ham_oct8_b8(k, c);
            if (st) return st;
        }
    return B == 1 ? ham_skip8_b1(k, c, c1) : ham_skip8_b8(k, c, c1);
}
#endif

static int ham_range(void *vctx, int64_t c0, int64_t c1)
{
    const ham_ctx *k = (const ham_ctx *)vctx;
    const int64_t b = k->b;
#if defined(__GNUC__)
    /* b = 8 or 1 with the byte stream and finite X: the lockstep paths; otherwise the generic lanes */
    if (k->lockstep) return b == 1 ? ham_span_fast(k, c0, c1, 1) : ham_span_fast(k, c0, c1, 8);
#endif
    return b == 1 ? ham_span(k, c0, c1, 1) : ham_span(k, c0, c1, b);
}

/* Rows one ham_skip8 step covers on average, sampled on up to four columns
 * spread over the matrix (0 when nothing could be sampled). */
static double ham_rows_per_step(const ham_ctx *k, int64_t m)
{
    const int64_t n = k->n, lim = k->stream_bits - HAM_SKIP_MAX;
    int64_t rows = 0, steps = 0;
    for (int j = 0; j < 4 && j < m; j++) {
        const int64_t c = m * j / 4;
        int64_t p = k->col_bits[c], r = 0;
        while (r < n && p <= lim) {
            const uint64_t x = cnn_peek_be(k->stream, p);
            const int64_t z = ham_zeros(x, k->zflip, k->zmax, n - 1 - r);
            int64_t l = k->tl[(x << z) >> CNN_WIN_SHIFT];
            if (!l) {
                const cnn_dec d = cnn_huff_slow_dec(k->h, cnn_peek_be(k->stream, p + z));
                if (!d.len) break;
                l = d.len;
            }
            p += z + l;
            r += z + 1;
            steps++;
        }
        rows += r;
    }
    return steps ? (double)rows / (double)steps : 0.0;
}

/* The decode tables of one code, built once per matrix by cnn_ham_tables_*
 * (ham_tables) and passed to every product, which otherwise builds them on
 * each call (on 192 x 1024 at density 0.01, a seventh of a product's time at
 * b = 1): HAM_TAB_HEAD words of header (what the tables were built for),
 * the run table (cnn_huff_init, 1 << CNN_TABLE_BITS entries), the split
 * table's lengths (bytes) and values (REAL), as real.h's split_table. */
enum {
    HAM_TAB_HEAD = 8,
    HAM_TAB_RUN = HAM_TAB_HEAD,
    HAM_TAB_TL = HAM_TAB_RUN + (1 << CNN_TABLE_BITS),
    HAM_TAB_TV = HAM_TAB_TL + (1 << CNN_TABLE_BITS) / 4,
    HAM_TAB_WORDS = HAM_TAB_TV + (1 << CNN_TABLE_BITS) * (int)(sizeof(REAL) / 4)
};
_Static_assert((HAM_TAB_TV - HAM_TAB_TL) * 4 == offsetof(split_tables, tv), "split_tables' layout");
#define HAM_TAB_MAGIC 0x48414d54u
_Static_assert((int)HAM_TAB_WORDS == (sizeof(REAL) == 4 ? (int)CNN_HAM_TABLES_F32 : (int)CNN_HAM_TABLES_F64),
               "the table sizes of compactnn.h");

static void ham_tab_head(uint32_t *head, const cnn_huff *h, int maxlen, int64_t nsym, int64_t zero_sym)
{
    head[0] = HAM_TAB_MAGIC;
    head[1] = (uint32_t)h->tb;
    head[2] = (uint32_t)maxlen;
    head[3] = (uint32_t)nsym;
    head[4] = (uint32_t)((uint64_t)nsym >> 32);
    head[5] = (uint32_t)(zero_sym + 1);
    head[6] = (uint32_t)h->len0;
    head[7] = (uint32_t)sizeof(REAL);
}

static int ham_tables(const uint32_t *len_count, int maxlen, const REAL *values, int64_t nsym,
                      int64_t zero_sym, uint32_t *tab, int64_t ntab)
{
    if (tab == NULL || ntab != HAM_TAB_WORDS || zero_sym < -1) return CNN_ERR_ARG;
    uint32_t scratch[1 << CNN_TABLE_BITS];
    cnn_huff h;
    int st = cnn_huff_init(&h, len_count, maxlen, nsym, zero_sym, tab + HAM_TAB_RUN, scratch);
    if (st) return st;
    if (nsym == 0) return CNN_ERR_CORRUPT;
    split_table(&h, values, CNN_TABLE_BITS, (uint8_t *)(tab + HAM_TAB_TL), (REAL *)(tab + HAM_TAB_TV));
    ham_tab_head(tab, &h, maxlen, nsym, zero_sym);
    return CNN_OK;
}

/* Whether tab holds tables for the code h (set up by cnn_huff_code) whose
 * entries the kernels can use without a check: lengths within the table,
 * symbols within the codebook.  (Tables of another code with the same
 * sizes decode to wrong sums or CNN_ERR_CORRUPT, never out of bounds.) */
static int ham_tab_fits(const uint32_t *tab, int64_t ntab, const cnn_huff *h, int maxlen,
                        int64_t nsym, int64_t zero_sym)
{
    uint32_t head[HAM_TAB_HEAD];
    ham_tab_head(head, h, maxlen, nsym, zero_sym);
    if (ntab != HAM_TAB_WORDS || memcmp(head, tab, sizeof head) != 0) return 0;
    const uint8_t *tl = (const uint8_t *)(tab + HAM_TAB_TL);
    uint32_t bad = !cnn_huff_table_fits(tab + HAM_TAB_RUN, h->tb, nsym);
    for (int64_t i = 0; i < ((int64_t)1 << CNN_TABLE_BITS); i++) bad |= tl[i] > CNN_TABLE_BITS;
    return !bad;
}

static int ham_matmat(int64_t n, int64_t m,
                      const void *words, int64_t nwords, int wordbits,
                      const uint8_t *stream, int64_t nstream,
                      const int64_t *col_bits, int64_t ncol_bits,
                      const uint32_t *len_count, int maxlen,
                      const REAL *values, int64_t nsym, int64_t zero_sym,
                      const uint32_t *tab, int64_t ntab,
                      const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || threads < 1) return CNN_ERR_ARG;
    if (ncol_bits != m + 1) return CNN_ERR_ARG;
    if (zero_sym < -1) return CNN_ERR_ARG;
    uint32_t table[1 << CNN_TABLE_BITS], scratch[1 << CNN_TABLE_BITS];
    cnn_huff h;
    ham_ctx k;
    int st = cnn_bits_init(&k.bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.bits.nchunks);
    if (st) return st;
    /* the byte stream is optional; when given it is the words' bytes plus 8 of padding */
    if (stream != NULL && nstream != 4 * k.bits.nchunks + 8) return CNN_ERR_ARG;
    k.stream = stream;
    k.stream_bits = stream != NULL ? 8 * (nstream - 8) : 0;
    if (m == 0 || b == 0) return CNN_OK;
    for (int64_t i = 0; i < m * b; i++) out[i] = 0;
    if (n == 0) return CNN_OK;
    if (tab != NULL) {
        st = cnn_huff_code(&h, len_count, maxlen, nsym, zero_sym);
        if (st) return st;
        if (nsym == 0) return CNN_ERR_CORRUPT;
        if (!ham_tab_fits(tab, ntab, &h, maxlen, nsym, zero_sym)) return CNN_ERR_ARG;
        h.table = tab + HAM_TAB_RUN;
    } else {
        st = cnn_huff_init(&h, len_count, maxlen, nsym, zero_sym, table, scratch);
        if (st) return st;
        if (nsym == 0) return CNN_ERR_CORRUPT;
    }
    k.n = n;
    k.col_bits = col_bits;
    k.h = &h;
    /* b = 8 and 1 fast paths, for finite X only (they add 0 * x for zero
     * entries), both through the split table: ham_skip8 when zero's codeword
     * is one bit and a step of it covers more rows than a window of the
     * eight-lane path (see HAM_OCT_ROWS_PER_WINDOW); else ham_oct8. */
    k.lockstep = (b == 8 || b == 1) && stream != NULL && (h.len0 == 0 || values[zero_sym] == 0)
              && zero_sym <= CNN_MAX_TABLE_SYMBOL && real_finite(xt, n * b);
    split_tables split;
    k.tl = NULL;
    k.zflip = 0;
    k.zmax = 0;
    k.oct = 0;
#if defined(__GNUC__)
    if (k.lockstep) {
        if (tab != NULL) {
            k.tl = (const uint8_t *)(tab + HAM_TAB_TL); /* the values follow as in split_tables */
        } else {
            split_table(&h, values, CNN_TABLE_BITS, split.tl, split.tv);
            k.tl = split.tl;
        }
        if (h.len0 == 1) { /* zero's codeword: "0" or "1" */
            const cnn_dec d = cnn_huff_slow_dec(&h, 0);
            k.zflip = d.len == 1 && (int64_t)d.sym == zero_sym ? 0 : ~(uint64_t)0;
            k.zmax = HAM_SKIP_MAX;
        }
        k.oct = k.zmax == 0 || ham_rows_per_step(&k, m) <= HAM_OCT_ROWS_PER_WINDOW;
    }
#endif
    k.b = b;
    k.values = values;
    k.xt = xt;
    k.out = out;
    return cnn_parallel_for(pool, threads, m, col_bits, ham_range, &k);
}

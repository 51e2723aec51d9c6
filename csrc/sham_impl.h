/* sham_impl.h: sHAM product, instantiated by sham.c for REAL = float and double.
 *
 * Column c holds nonzeros cb[c] .. cb[c+1]-1: their rows in ri, their values
 * as consecutive codewords from bit col_bits[c].  Each row index is checked
 * against n before use; a column whose codewords do not end exactly at
 * col_bits[c+1] is reported as corrupt.
 */

typedef struct {
    int64_t n, b;
    const int64_t *col_bits, *cb;
    const void *ri;
    int ri_bytes;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_huff *h;
    cnn_bits bits;
    const uint8_t *stream;
    int64_t stream_bits;  /* readable positions: 8 * (nstream - 8) */
    const uint8_t *tl;    /* split decode table (split_impl.h), b = 8 only: */
    const REAL *tv;       /* codeword lengths (0: slow path) and values */
} SFX(sham_ctx);

#ifndef CNN_SHAM_COMMON
#define CNN_SHAM_COMMON
CNN_INLINE int64_t cnn_ri_at(const void *ri, int64_t p, const int ri_bytes)
{
    if (ri_bytes == 1) return ((const uint8_t *)ri)[p];
    if (ri_bytes == 2) return ((const uint16_t *)ri)[p];
    return ((const uint32_t *)ri)[p];
}

/* 1 when every row index in ri[lo, hi) is below n (one vectorisable pass). */
static inline int cnn_rows_below(const void *ri, int ri_bytes, int64_t lo, int64_t hi, int64_t n)
{
    uint32_t top = 0;
    if (lo >= hi) return 1;
    if (ri_bytes == 1) {
        const uint8_t *r = (const uint8_t *)ri;
        for (int64_t i = lo; i < hi; i++) top = r[i] > top ? r[i] : top;
    } else if (ri_bytes == 2) {
        const uint16_t *r = (const uint16_t *)ri;
        for (int64_t i = lo; i < hi; i++) top = r[i] > top ? r[i] : top;
    } else {
        const uint32_t *r = (const uint32_t *)ri;
        for (int64_t i = lo; i < hi; i++) top = r[i] > top ? r[i] : top;
    }
    return (int64_t)top < n;
}

/* The first i in [lo, hi) with a[i] >= v (hi if none); a nondecreasing. */
static inline int64_t cnn_first_at_least(const int64_t *a, int64_t lo, int64_t hi, int64_t v)
{
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* b = 8 sparse path: nonzeros per chunk, and the most nonzeros per column
 * (on average over a range) for which it is taken. */
enum { CNN_SHAM_CHUNK = 1024, CNN_SHAM_SPARSE = 24 };

static inline int64_t cnn_max4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t x = a > b ? a : b, y = c > d ? c : d;
    return x > y ? x : y;
}

/* ROUNDS rounds of four lanes (0..3): four rounds at a time through
 * GROUP(lane), the rest one at a time through STEP(lane); both see the
 * round index i. */
#define CNN_LANE_ROUNDS(ROUNDS, GROUP, STEP)                                  \
    do {                                                                      \
        int64_t i = 0;                                                        \
        for (; i + 4 <= (ROUNDS); i += 4) {                                   \
            GROUP(0) GROUP(1) GROUP(2) GROUP(3)                               \
        }                                                                     \
        for (; i < (ROUNDS); i++) {                                           \
            STEP(0) STEP(1) STEP(2) STEP(3)                                   \
        }                                                                     \
    } while (0)
#endif

/* One nonzero of one column: decode its value, check its row, accumulate. */
CNN_INLINE int SFX(sham_step)(const SFX(sham_ctx) *k, cnn_lane *l, int64_t *p, REAL *restrict acc,
                              const int64_t B, const int ri_bytes)
{
    uint32_t sym;
    int st = cnn_huff_lane(k->h, &k->bits, l, &sym);
    if (CNN_UNLIKELY(st)) return st;
    const int64_t row = cnn_ri_at(k->ri, (*p)++, ri_bytes);
    if (CNN_UNLIKELY(row >= k->n)) return CNN_ERR_CORRUPT;
    const REAL v = k->values[sym];
    const REAL *restrict x = k->xt + row * B;
    for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    return CNN_OK;
}

/* Start one column: position its lane and zero its accumulators. */
CNN_INLINE void SFX(sham_open)(const SFX(sham_ctx) *k, int64_t c, cnn_lane *l, int64_t *p,
                               int64_t *e, REAL *acc, const int64_t B)
{
    cnn_lane_seek(&k->bits, l, k->col_bits[c]);
    *p = k->cb[c];
    *e = k->cb[c + 1];
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
}

/* Finish one column: every nonzero decoded, codewords end at the next offset. */
CNN_INLINE int SFX(sham_close)(const SFX(sham_ctx) *k, int64_t c, cnn_lane *l, int64_t *p,
                               int64_t e, REAL *acc, const int64_t B, const int ri_bytes)
{
    while (*p < e) {
        int st = SFX(sham_step)(k, l, p, acc, B, ri_bytes);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    REAL *out = k->out + c * B;
    if (out != acc)
        for (int64_t t = 0; t < B; t++) out[t] = acc[t];
    return CNN_OK;
}

/* Columns [c0, c1) through four lanes, each with its own bit reader in
 * locals, so one decoder's table lookup overlaps the others'.  A lane whose
 * column ends takes the next column at once, so the four stay busy until
 * fewer than four columns are left. */
CNN_INLINE int SFX(sham_span)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1,
                              const int64_t B, const int ri_bytes)
{
    cnn_lane l0 = {0, 0, 0}, l1 = {0, 0, 0}, l2 = {0, 0, 0}, l3 = {0, 0, 0};
    int64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    int64_t k0 = -1, k1 = -1, k2 = -1, k3 = -1; /* column of each lane, -1 when idle */
    REAL s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
    REAL *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
    int64_t nc = c0;
    int st = CNN_OK;
#define CNN_SHAM_OPEN(J)                                                      \
    do {                                                                      \
        k##J = nc++;                                                          \
        a##J = B <= 8 ? s##J : k->out + k##J * B;                             \
        SFX(sham_open)(k, k##J, &l##J, &p##J, &e##J, a##J, B);                \
    } while (0)
#define CNN_SHAM_ROTATE(J)                                                    \
    while (p##J == e##J) {                                                    \
        st = SFX(sham_close)(k, k##J, &l##J, &p##J, e##J, a##J, B, ri_bytes); \
        k##J = -1;                                                            \
        if (st || nc >= c1) goto drain;                                       \
        CNN_SHAM_OPEN(J);                                                     \
    }
    if (c1 - c0 >= 4) {
        CNN_SHAM_OPEN(0);
        CNN_SHAM_OPEN(1);
        CNN_SHAM_OPEN(2);
        CNN_SHAM_OPEN(3);
        for (;;) {
            CNN_SHAM_ROTATE(0)
            CNN_SHAM_ROTATE(1)
            CNN_SHAM_ROTATE(2)
            CNN_SHAM_ROTATE(3)
            st = SFX(sham_step)(k, &l0, &p0, a0, B, ri_bytes);
            st |= SFX(sham_step)(k, &l1, &p1, a1, B, ri_bytes);
            st |= SFX(sham_step)(k, &l2, &p2, a2, B, ri_bytes);
            st |= SFX(sham_step)(k, &l3, &p3, a3, B, ri_bytes);
            if (CNN_UNLIKELY(st)) return CNN_ERR_CORRUPT;
        }
    }
drain:
    if (st) return st;
    if (k0 >= 0 && (st = SFX(sham_close)(k, k0, &l0, &p0, e0, a0, B, ri_bytes))) return st;
    if (k1 >= 0 && (st = SFX(sham_close)(k, k1, &l1, &p1, e1, a1, B, ri_bytes))) return st;
    if (k2 >= 0 && (st = SFX(sham_close)(k, k2, &l2, &p2, e2, a2, B, ri_bytes))) return st;
    if (k3 >= 0 && (st = SFX(sham_close)(k, k3, &l3, &p3, e3, a3, B, ri_bytes))) return st;
    while (nc < c1) {
        CNN_SHAM_OPEN(0);
        if ((st = SFX(sham_close)(k, k0, &l0, &p0, e0, a0, B, ri_bytes))) return st;
    }
#undef CNN_SHAM_OPEN
#undef CNN_SHAM_ROTATE
    return CNN_OK;
}

#if defined(__GNUC__)
typedef REAL SFX(vec8) __attribute__((vector_size(8 * sizeof(REAL))));

#include "split_impl.h"

/* b = 8 on the byte stream.  The range's row indices were checked against n
 * once (cnn_rows_below), so the loops below index X without a test; the
 * decoder state of a column is its bit position alone.  Codewords decode
 * through the split table (split_impl.h), four at a time from one 64-bit
 * window where the stream's end allows. */

/* One codeword at the top of the window WIN (cnn_peek_be of stream S at bit
 * P): its length into L and its value into VAL, and WIN shifted past it.  A
 * codeword longer than the table takes the slow path, which reloads WIN from
 * the stream after it, so that WIN always holds at least 57 - 3 * 12 bits
 * for the next three table lookups; no codeword at all returns
 * CNN_ERR_CORRUPT from the enclosing function.  Uses h (the code), TL, TV
 * (the split table) and V (the values) of the enclosing scope. */
#define CNN_WIN_DEC(WIN, S, P, L, VAL)                                        \
    do {                                                                      \
        const uint64_t ix_ = (WIN) >> CNN_WIN_SHIFT;                          \
        (L) = TL[ix_];                                                        \
        (VAL) = TV[ix_];                                                      \
        if (CNN_LIKELY(L)) {                                                  \
            (WIN) <<= (L);                                                    \
        } else {                                                              \
            const cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be((S), (P)));   \
            if (!d_.len) return CNN_ERR_CORRUPT;                              \
            (VAL) = V[d_.sym];                                                \
            (L) = d_.len;                                                     \
            (WIN) = cnn_peek_be((S), (P) + (L));                              \
        }                                                                     \
    } while (0)

/* The stream a few hundred bytes past bit P, prefetched: the lanes read four
 * places of it at once, which the hardware prefetcher follows poorly.  (A
 * prefetch never faults, so the address may lie past the stream's end.) */
#define CNN_WIN_PREFETCH(S, P) __builtin_prefetch((const void *)((uintptr_t)(S) + (uint64_t)((P) >> 3) + 384))

/* Nonzeros q .. e-1 of column c from bit p: decode, accumulate, then check
 * that the codewords end exactly at the next column's offset.  Out of line
 * (as is sham_sparse8), so that the lanes' loop has the registers to itself. */
__attribute__((noinline)) static int SFX(sham_tail8)(const SFX(sham_ctx) *k, int64_t c, int64_t p, int64_t q, int64_t e,
                               SFX(vec8) acc, const int ri_bytes)
{
    const cnn_huff *h = k->h;
    const uint8_t *S = k->stream, *TL = k->tl;
    const REAL *TV = k->tv, *V = k->values;
    const int64_t lim = k->stream_bits;
    for (; q < e; q++) {
        if (CNN_UNLIKELY(p > lim)) return CNN_ERR_CORRUPT;
        uint64_t w = cnn_peek_be(S, p);
        int64_t l;
        REAL v;
        CNN_WIN_DEC(w, S, p, l, v);
        p += l;
        SFX(vec8) x;
        __builtin_memcpy(&x, k->xt + cnn_ri_at(k->ri, q, ri_bytes) * 8, sizeof x);
        acc += v * x;
    }
    if (p != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    __builtin_memcpy(k->out + c * 8, &acc, sizeof acc);
    return CNN_OK;
}

/* Four lanes in lockstep, each decoding one column, so that their table
 * lookups overlap.  A block runs as many rounds as the lane with the fewest
 * nonzeros left has, and no more than keep every peek inside the stream (a
 * codeword advances a lane by at most 32 bits), so the rounds need no
 * checks; they go four at a time (four codewords per lane from one window),
 * the rest one at a time.  A lane whose column is done closes it (its
 * codewords must end at the next column's offset) and takes the next column,
 * so four lanes stay busy. */
CNN_INLINE int SFX(sham_quad8)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1, const int ri_bytes)
{
    const uint8_t *S = k->stream;
    const cnn_huff *h = k->h;
    const uint8_t *TL = k->tl;
    const REAL *TV = k->tv;
    const REAL *V = k->values, *XT = k->xt;
    const int64_t LIM = k->stream_bits;
    const int64_t *cb = k->cb, *cbits = k->col_bits;
    const char *ri = (const char *)k->ri;
    int64_t col[4], left[4], nc = c0;
    int64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    const char *R0 = ri, *R1 = ri, *R2 = ri, *R3 = ri;
    SFX(vec8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int st;
    if (c1 - c0 < 4) goto drain_rest;
#define CNN_Q_OPEN(J)                                                         \
    col[J] = nc++;                                                            \
    p##J = cbits[col[J]];                                                     \
    R##J = ri + cb[col[J]] * ri_bytes;                                        \
    left[J] = cb[col[J] + 1] - cb[col[J]];                                    \
    a##J = (SFX(vec8)){0};
    CNN_Q_OPEN(0)
    CNN_Q_OPEN(1)
    CNN_Q_OPEN(2)
    CNN_Q_OPEN(3)
    /* nonzero i + U of lane J from the window w_ */
#define CNN_Q_SUB(J, U)                                                       \
    {                                                                         \
        int64_t l_;                                                           \
        REAL v_;                                                              \
        CNN_WIN_DEC(w_, S, p##J, l_, v_);                                     \
        p##J += l_;                                                           \
        SFX(vec8) xx_;                                                        \
        __builtin_memcpy(&xx_, XT + (uint64_t)cnn_ri_at(R##J, i + (U), ri_bytes) * 8, sizeof xx_); \
        a##J += v_ * xx_;                                                     \
    }
#define CNN_Q_GROUP(J)                                                        \
    {                                                                         \
        uint64_t w_ = cnn_peek_be(S, p##J);                                   \
        CNN_WIN_PREFETCH(S, p##J);                                            \
        CNN_Q_SUB(J, 0)                                                       \
        CNN_Q_SUB(J, 1)                                                       \
        CNN_Q_SUB(J, 2)                                                       \
        CNN_Q_SUB(J, 3)                                                       \
    }
#define CNN_Q_STEP(J)                                                         \
    {                                                                         \
        uint64_t w_ = cnn_peek_be(S, p##J);                                   \
        CNN_Q_SUB(J, 0)                                                       \
    }
#define CNN_Q_ROTATE(J)                                                       \
    while (left[J] == 0) {                                                    \
        if (p##J != cbits[col[J] + 1]) return CNN_ERR_CORRUPT;                \
        __builtin_memcpy(k->out + col[J] * 8, &a##J, sizeof a##J);            \
        if (nc >= c1) {                                                       \
            col[J] = -1;                                                      \
            goto drain;                                                       \
        }                                                                     \
        CNN_Q_OPEN(J)                                                         \
    }
    for (;;) {
        CNN_Q_ROTATE(0)
        CNN_Q_ROTATE(1)
        CNN_Q_ROTATE(2)
        CNN_Q_ROTATE(3)
        const int64_t top = cnn_max4(p0, p1, p2, p3);
        if (top > LIM) return CNN_ERR_CORRUPT;
        int64_t rounds = (LIM - top) / 32;
        if (rounds == 0) break; /* the stream's end: finish alone */
        for (int j = 0; j < 4; j++) rounds = left[j] < rounds ? left[j] : rounds;
        CNN_LANE_ROUNDS(rounds, CNN_Q_GROUP, CNN_Q_STEP);
        R0 += rounds * ri_bytes;
        R1 += rounds * ri_bytes;
        R2 += rounds * ri_bytes;
        R3 += rounds * ri_bytes;
        for (int j = 0; j < 4; j++) left[j] -= rounds;
    }
drain:
    {
        const int64_t ps[4] = {p0, p1, p2, p3};
        const char *Rs[4] = {R0, R1, R2, R3};
        const SFX(vec8) as[4] = {a0, a1, a2, a3};
        for (int j = 0; j < 4; j++) {
            if (col[j] < 0) continue;
            const int64_t q = (Rs[j] - ri) / ri_bytes;
            if ((st = SFX(sham_tail8)(k, col[j], ps[j], q, q + left[j], as[j], ri_bytes))) return st;
        }
    }
drain_rest:
    for (; nc < c1; nc++) {
        const SFX(vec8) zero = {0};
        if ((st = SFX(sham_tail8)(k, nc, cbits[nc], cb[nc], cb[nc + 1], zero, ri_bytes))) return st;
    }
#undef CNN_Q_OPEN
#undef CNN_Q_SUB
#undef CNN_Q_GROUP
#undef CNN_Q_STEP
#undef CNN_Q_ROTATE
    return CNN_OK;
}

/* Sparse columns (a few nonzeros each) in three passes over chunks of at
 * most CNN_SHAM_CHUNK nonzeros, so that no branch depends on where a column
 * ends while decoding: (1) four lanes decode the chunk's codewords as four
 * flat runs of whole columns, storing each nonzero's value and the bit
 * position of its codeword; (2) every column's offset is checked against the
 * position of its first codeword (and each run's end against the next run's
 * offset), which is exactly the per-column check; (3) the columns accumulate
 * like CSR. */

/* Pass 1: four runs of n[j] codewords from bits p[j] of S, positions into
 * pos[j][...] and values into val[j][...]; the runs' final positions are
 * returned in p[].  `lim` is the last position a peek may read from. */
static int SFX(sham_sp_decode)(const SFX(sham_ctx) *k, const uint8_t *S, int64_t lim,
                               uint32_t **pos, REAL **val, const int64_t *n, int64_t *p)
{
    const cnn_huff *h = k->h;
    const uint8_t *TL = k->tl;
    const REAL *TV = k->tv, *V = k->values;
    uint32_t *d0 = pos[0], *d1 = pos[1], *d2 = pos[2], *d3 = pos[3];
    REAL *v0 = val[0], *v1 = val[1], *v2 = val[2], *v3 = val[3];
    int64_t n0 = n[0], n1 = n[1], n2 = n[2], n3 = n[3];
    int64_t p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3];
    /* codeword i + U of run J from the window w_ */
#define CNN_SP_SUB(J, U)                                                      \
    {                                                                         \
        int64_t l_;                                                           \
        REAL x_;                                                              \
        CNN_WIN_DEC(w_, S, p##J, l_, x_);                                     \
        d##J[i + (U)] = (uint32_t)p##J;                                       \
        v##J[i + (U)] = x_;                                                   \
        p##J += l_;                                                           \
    }
#define CNN_SP_GROUP(J)                                                       \
    {                                                                         \
        uint64_t w_ = cnn_peek_be(S, p##J);                                   \
        CNN_SP_SUB(J, 0)                                                      \
        CNN_SP_SUB(J, 1)                                                      \
        CNN_SP_SUB(J, 2)                                                      \
        CNN_SP_SUB(J, 3)                                                      \
    }
#define CNN_SP_STEP(J)                                                        \
    {                                                                         \
        uint64_t w_ = cnn_peek_be(S, p##J);                                   \
        CNN_SP_SUB(J, 0)                                                      \
    }
    for (;;) {
        const int64_t top = cnn_max4(p0, p1, p2, p3);
        if (top > lim) return CNN_ERR_CORRUPT;
        int64_t rounds = (lim - top) / 32;
        int64_t lo = n0 < n1 ? n0 : n1, lo2 = n2 < n3 ? n2 : n3;
        lo = lo < lo2 ? lo : lo2;
        rounds = rounds < lo ? rounds : lo;
        if (rounds == 0) break;
        CNN_LANE_ROUNDS(rounds, CNN_SP_GROUP, CNN_SP_STEP);
        d0 += rounds, d1 += rounds, d2 += rounds, d3 += rounds;
        v0 += rounds, v1 += rounds, v2 += rounds, v3 += rounds;
        n0 -= rounds, n1 -= rounds, n2 -= rounds, n3 -= rounds;
    }
    /* the runs' leftovers (or the stream's end), one codeword at a time, checked */
#define CNN_SP_TAIL(J)                                                        \
    for (int64_t i = 0; i < n##J; i++) {                                      \
        if (CNN_UNLIKELY(p##J > lim)) return CNN_ERR_CORRUPT;                 \
        CNN_SP_STEP(J)                                                        \
    }                                                                         \
    p[J] = p##J;
    CNN_SP_TAIL(0)
    CNN_SP_TAIL(1)
    CNN_SP_TAIL(2)
    CNN_SP_TAIL(3)
#undef CNN_SP_TAIL
#undef CNN_SP_SUB
#undef CNN_SP_GROUP
#undef CNN_SP_STEP
    return CNN_OK;
}

/* Columns [ca, cz) holding nonzeros [qa, qz), qz - qa <= CNN_SHAM_CHUNK;
 * pos (qz - qa + 1 entries) and val (qz - qa) are the caller's scratch. */
CNN_INLINE int SFX(sham_sp_chunk)(const SFX(sham_ctx) *k, int64_t ca, int64_t cz,
                                  uint32_t *restrict pos, REAL *restrict val, const int ri_bytes)
{
    const int64_t *cb = k->cb, *cbits = k->col_bits;
    const int64_t qa = cb[ca], qz = cb[cz];
    /* positions count from the byte holding the chunk's first bit; offsets
     * never decrease, so every position below fits 32 bits */
    const int64_t base = cbits[ca] & ~(int64_t)7;
    if (cbits[cz] - cbits[ca] > 32 * (qz - qa)) return CNN_ERR_CORRUPT;
    /* four runs of whole columns, split near quarters of the nonzeros */
    int64_t cs[5] = {ca, ca, ca, ca, cz};
    for (int j = 1; j < 4; j++) cs[j] = cnn_first_at_least(cb, cs[j - 1], cz, qa + ((qz - qa) * j) / 4);
    uint32_t *dp[4];
    REAL *dv[4];
    int64_t n[4], p[4];
    for (int j = 0; j < 4; j++) {
        dp[j] = pos + (cb[cs[j]] - qa);
        dv[j] = val + (cb[cs[j]] - qa);
        n[j] = cb[cs[j + 1]] - cb[cs[j]];
        p[j] = cbits[cs[j]] - base;
    }
    int st = SFX(sham_sp_decode)(k, k->stream + (base >> 3), k->stream_bits - base, dp, dv, n, p);
    if (st) return st;
    /* pass 2: each run ends at the next run's offset, each column starts at its codewords */
    int bad = 0;
    for (int j = 0; j < 4; j++) bad |= p[j] != cbits[cs[j + 1]] - base;
    if (bad) return CNN_ERR_CORRUPT;
    pos[qz - qa] = (uint32_t)(cbits[cz] - base);
    for (int64_t i = ca; i < cz; i++) bad |= pos[cb[i] - qa] != (uint64_t)(cbits[i] - base);
    if (bad) return CNN_ERR_CORRUPT;
    /* pass 3: accumulate (rows were checked for the whole range) */
    const REAL *XT = k->xt;
    const char *ri = (const char *)k->ri;
    REAL *out = k->out;
    const REAL *v = val - qa;
    for (int64_t i = ca; i < cz; i++) {
        SFX(vec8) acc = {0};
        for (int64_t j = cb[i]; j < cb[i + 1]; j++) {
            SFX(vec8) x;
            __builtin_memcpy(&x, XT + cnn_ri_at(ri, j, ri_bytes) * 8, sizeof x);
            acc += v[j] * x;
        }
        __builtin_memcpy(out + i * 8, &acc, sizeof acc);
    }
    return CNN_OK;
}

/* Columns [c0, c1) in chunks; a column with more nonzeros than a chunk holds
 * goes through the lanes. */
__attribute__((noinline)) static int SFX(sham_sparse8)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1, const int ri_bytes)
{
    uint32_t pos[CNN_SHAM_CHUNK + 1];
    REAL val[CNN_SHAM_CHUNK];
    const int64_t *cb = k->cb;
    int64_t c = c0;
    int st;
    while (c < c1) {
        /* the most columns from c whose nonzeros fit a chunk */
        const int64_t z = cnn_first_at_least(cb, c + 1, c1 + 1, cb[c] + CNN_SHAM_CHUNK + 1) - 1;
        if (z == c) {
            if ((st = SFX(sham_tail8)(k, c, k->col_bits[c], cb[c], cb[c + 1], (SFX(vec8)){0}, ri_bytes)))
                return st;
            c++;
            continue;
        }
        if ((st = SFX(sham_sp_chunk)(k, c, z, pos, val, ri_bytes))) return st;
        c = z;
    }
    return CNN_OK;
}

#undef CNN_WIN_DEC
#undef CNN_WIN_PREFETCH

/* Few nonzeros per column: the chunked passes; otherwise the lanes. */
CNN_INLINE int SFX(sham_cols8)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1, const int ri_bytes)
{
    if (k->cb[c1] - k->cb[c0] < CNN_SHAM_SPARSE * (c1 - c0)) return SFX(sham_sparse8)(k, c0, c1, ri_bytes);
    return SFX(sham_quad8)(k, c0, c1, ri_bytes);
}

/* One function per row-index width, kept out of line so that the lanes'
 * state gets the registers to itself. */
__attribute__((noinline)) static int SFX(sham_cols8_r1)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1)
{
    return SFX(sham_cols8)(k, c0, c1, 1);
}
__attribute__((noinline)) static int SFX(sham_cols8_r2)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1)
{
    return SFX(sham_cols8)(k, c0, c1, 2);
}
__attribute__((noinline)) static int SFX(sham_cols8_r4)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1)
{
    return SFX(sham_cols8)(k, c0, c1, 4);
}

/* b = 8 on the byte stream: the range's rows checked once, then by column density. */
CNN_INLINE int SFX(sham_span8_fast)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1, const int ri_bytes)
{
    if (!cnn_rows_below(k->ri, ri_bytes, k->cb[c0], k->cb[c1], k->n)) return CNN_ERR_CORRUPT;
    return ri_bytes == 1 ? SFX(sham_cols8_r1)(k, c0, c1)
         : ri_bytes == 2 ? SFX(sham_cols8_r2)(k, c0, c1)
                         : SFX(sham_cols8_r4)(k, c0, c1);
}

#define CNN_SHAM_FAST8 1
#else
#define CNN_SHAM_FAST8 0
#endif

/* b = 8 with the byte stream takes the lockstep path; every other case (and b = 8
 * without a stream) the generic lanes, with b as a run-time value. */
#if CNN_SHAM_FAST8
#define CNN_SHAM_SPAN_FAST8(RB) SFX(sham_span8_fast)(k, c0, c1, RB)
#else
#define CNN_SHAM_SPAN_FAST8(RB) SFX(sham_span)(k, c0, c1, b, RB)
#endif
#define CNN_SHAM_DISPATCH_B(RB)                                               \
    (b == 1 ? SFX(sham_span)(k, c0, c1, 1, RB)                               \
     : b == 8 && k->stream ? CNN_SHAM_SPAN_FAST8(RB)                          \
     : SFX(sham_span)(k, c0, c1, b, RB))

static int SFX(sham_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(sham_ctx) *k = (const SFX(sham_ctx) *)vctx;
    const int64_t b = k->b;
    switch (k->ri_bytes) {
    case 1: return CNN_SHAM_DISPATCH_B(1);
    case 2: return CNN_SHAM_DISPATCH_B(2);
    default: return CNN_SHAM_DISPATCH_B(4);
    }
}
#undef CNN_SHAM_DISPATCH_B
#undef CNN_SHAM_SPAN_FAST8

int SFX(cnn_sham_matmat)(int64_t n, int64_t m,
                         const void *words, int64_t nwords, int wordbits,
                         const uint8_t *stream, int64_t nstream,
                         const int64_t *col_bits, int64_t ncol_bits,
                         const uint32_t *len_count, int maxlen,
                         const REAL *values, int64_t nsym,
                         const void *ri, int ri_bytes, int64_t q,
                         const int64_t *cb, int64_t ncb,
                         const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || q < 0 || threads < 1) return CNN_ERR_ARG;
    if (ncol_bits != m + 1 || ncb != m + 1) return CNN_ERR_ARG;
    if (ri_bytes != 1 && ri_bytes != 2 && ri_bytes != 4) return CNN_ERR_ARG;
    /* b = 8 on the byte stream decodes through the split table alone */
    const int fast8 = CNN_SHAM_FAST8 && b == 8 && stream != NULL;
    uint32_t table[1 << CNN_TABLE_BITS];
    cnn_huff h;
    SFX(sham_ctx) k;
    int st = cnn_bits_init(&k.bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.bits.nchunks);
    if (st) return st;
    if (cb[0] != 0 || cb[m] != q) return CNN_ERR_CORRUPT;
    st = cnn_check_offsets(cb, ncb, q);
    if (st) return st;
    /* the byte stream is optional; when given it must hold the words' bits plus padding */
    if (stream != NULL && nstream != 4 * k.bits.nchunks + 8) return CNN_ERR_ARG;
    k.stream = stream;
    k.stream_bits = stream != NULL ? 8 * (nstream - 8) : 0;
    if (m == 0 || b == 0) return CNN_OK;
    st = cnn_huff_init(&h, len_count, maxlen, nsym, -1, fast8 ? NULL : table, NULL);
    if (st) return st;
    if (q > 0 && nsym == 0) return CNN_ERR_CORRUPT;
    uint8_t tl[1 << CNN_TABLE_BITS];
    REAL tv[1 << CNN_TABLE_BITS];
#if CNN_SHAM_FAST8
    if (fast8) SFX(cnn_split_table)(&h, values, tl, tv);
#endif
    k.tl = fast8 ? tl : NULL;
    k.tv = fast8 ? tv : NULL;
    k.n = n;
    k.b = b;
    k.col_bits = col_bits;
    k.cb = cb;
    k.ri = ri;
    k.ri_bytes = ri_bytes;
    k.values = values;
    k.xt = xt;
    k.out = out;
    k.h = &h;
    return cnn_parallel_for(pool, threads, m, cb, SFX(sham_range), &k);
}
#undef CNN_SHAM_FAST8

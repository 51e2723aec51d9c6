/* sham_kernel.h: the sHAM product out = X @ W for one value type REAL.
 *
 * Included by sham_f32.c (REAL = float) and sham_f64.c (double), which write
 * the public functions out by name; every helper here is static, so each of
 * those files has its own copy under the same names.
 *
 * Column c holds nonzeros cb[c] .. cb[c+1]-1: their rows in ri, their values
 * as consecutive codewords from bit col_bits[c].  Each row index is checked
 * against n before use; a column whose codewords do not end exactly at
 * col_bits[c+1] is reported as corrupt.
 *
 * Two paths, each for every batch size b:
 *  - fast (the byte stream given): one column's codewords end where the
 *    next column's begin, so the codewords of a run of columns decode as one
 *    sequence, blind to where columns end.  Four lanes, each a quarter of a
 *    range's nonzeros cut at a column start, decode in lockstep (so that one
 *    lane's table lookups overlap the others') into a buffer of values and
 *    codeword positions; the buffer is then summed column by column like
 *    SciPy's CSR product, with b = 1 and b = 8 as constants, in one or two
 *    sums per column (sham_sum, and the rule in sham_matmat), and
 *    each column's offset is compared with the position of its first
 *    codeword there, unless the caller verified the offsets (verified: a
 *    checked product on the same arrays succeeded), when only the offsets
 *    where lanes start and end are.  The decoder is the same for every b and
 *    index width.
 *    It has two tables, chosen per matrix from the code lengths alone: the
 *    split table (one codeword per lookup, sham_decode4_one) and, for codes
 *    of short codewords, the multi-symbol table (up to SHAM_MULTI codewords
 *    per lookup, sham_decode4_multi), taken when its lookups would hold at
 *    least SHAM_MULTI_MIN codewords on average (sham_table_codewords).
 *    Measured against each other on 512 x 4096 at density 0.1 and 0.01,
 *    1 thread, paired medians: the multi-symbol table takes 0.73-0.82x the
 *    time of the split table at b = 1 and 0.75-0.85x at b = 8 on skewed
 *    layers (3 values) and 2-value codes (4 codewords per lookup); 1.03-1.18x
 *    on 32 values (about 1.8 per lookup) and 1.45-2.0x on 256 (1 per
 *    lookup), where the split table is kept.
 *  - reference (no byte stream): column by column, one codeword at a time
 *    through the word reader (sham_reference).
 * Measured against this fast path on 512 x 4096 (uniform and skewed,
 * density 0.1 and 0.01, batch 1 and 8, paired medians) and not kept: eight
 * lanes (0.98-1.26x its time), the first four nonzeros of a column without a
 * loop branch (1.04-1.34x), four partial sums per column at b = 1
 * (1.02-1.54x; two, on long columns only, are kept), one window per lane at a time (0.89-1.13x), unrolled sums
 * (0.95-1.15x), two whole columns summed side by side at b = 1 (two add
 * chains, bit-exact; 0.98-1.06x on 512 x 4096 and 4096 x 4096, uniform and
 * skewed), the split-table decoder storing each value times its row of X at
 * b = 1, so that the sums only add (1.12-1.28x on 512 x 4096 at density 0.1
 * and 0.01 and 4096 x 4096 at 0.1), the split and multi-symbol tables
 * built once per matrix and checked on each call, as HAM's and sHAM-gap's
 * (1.00-1.05x: building them costs about what checking them does), and,
 * with the offsets verified: no slow-path branch where the split table holds
 * every codeword (0.93-1.03x: each lane waits on its chain of lookups, not on
 * the instructions), split tables of 10 or 8 bits instead of up to 12
 * (0.89-1.14x and 0.88-2.3x: cheaper to build, more codewords off the table),
 * four sums per column at b = 1 (0.98-1.04x), the rows of X sixteen
 * nonzeros ahead prefetched at b = 8 (1.06-1.22x, 4096 x 4096 included), the
 * previous round's sums done inside the next round's decoding, sixteen per
 * group of lookups (1.4-1.6x at density 0.1: the decoder's registers spill),
 * the rounds going on while two lanes have codewords left, a finished lane
 * decoding another's bits again as in sham_gap_kernel.h (1.0-1.12x), each
 * lane's next window loaded at the start of the window's last codeword, so
 * that the load overlaps that lookup (1.0-1.11x), and four sums per column
 * at b = 8 (0.98-1.07x).  At b = 1 about half the time is the decoding.
 */
#include <stdlib.h>

#include "real.h"

typedef REAL sham_vec8 __attribute__((vector_size(8 * sizeof(REAL))));

/* SHAM_LANES decoders in lockstep; SHAM_SLOTS codewords per lane and round
 * at most, so that a round's values and positions stay in the L1 cache
 * (12 KiB for double) while they are summed. */
enum { SHAM_LANES = 4, SHAM_SLOTS = 256 };

/* The multi-symbol table of width tm <= SHAM_TM: for every tm-bit window,
 * the (at most SHAM_MULTI) whole codewords it starts with: their values, the
 * bit offset of each within the window (cum) and their number and total
 * length (len; 0 when the first codeword is longer than tm bits: the slow
 * path).  SHAM_TM keeps the table within 18 KiB (float) or 13 KiB (double),
 * so that it stays in the L1 cache beside the buffers; the table is taken
 * when its lookups hold at least SHAM_MULTI_MIN codewords on average (see the
 * top of this file for the measurements behind it). */
enum { SHAM_MULTI = 4, SHAM_MULTI_MIN = 2, SHAM_TM = sizeof(REAL) == 4 ? 9 : 8 };
typedef uint32_t sham_u32x4 __attribute__((vector_size(4 * SHAM_MULTI)));
typedef struct {
    REAL v[1 << SHAM_TM][SHAM_MULTI];
    uint32_t cum[1 << SHAM_TM][SHAM_MULTI];
    uint8_t len[1 << SHAM_TM], n[1 << SHAM_TM];
} sham_multi;

typedef struct {
    int64_t n, b;
    const int64_t *col_bits, *cb;
    const void *ri;
    int ri_bytes;
    const REAL *values, *xt;
    REAL *out;
    const cnn_huff *h;
    /* fast path */
    const uint8_t *stream;
    int64_t lim;       /* the last bit position a 64-bit peek may start at */
    const uint8_t *tl; /* split table (real.h: split_tables, split_tv), indexed by
                        * the top tb bits of a window: codeword length (0: longer
                        * than the table) and value */
    const sham_multi *tab; /* the multi-symbol table, or NULL: decode through tl */
    int sh;            /* 64 - the width of the table in use */
    int two;           /* each column in two sums (see sham_sum) */
    int verified;      /* the offsets were checked: only the lanes' ends are (see sham_matmat) */
    /* reference path */
    cnn_bits bits;
} sham_ctx;

/* One lane of the fast path: its next codeword's bit position, its next and
 * last nonzero, the column it sums into (see sham_sum) and its end column. */
typedef struct {
    int64_t p, q, qz, c, cz;
} sham_lane;

CNN_INLINE int64_t sham_ri(const void *ri, int64_t p, const int ri_bytes)
{
    if (ri_bytes == 1) return ((const uint8_t *)ri)[p];
    if (ri_bytes == 2) return ((const uint16_t *)ri)[p];
    return ((const uint32_t *)ri)[p];
}

/* 1 when every row index in ri[lo, hi) is below n (one vectorisable pass). */
CNN_INLINE int sham_rows_below(const void *ri, const int ri_bytes, int64_t lo, int64_t hi, int64_t n)
{
    uint32_t top = 0;
    for (int64_t i = lo; i < hi; i++) {
        const uint32_t r = (uint32_t)sham_ri(ri, i, ri_bytes);
        top = r > top ? r : top;
    }
    return lo >= hi || (int64_t)top < n;
}

/* Codeword I of lane J's buffers, at the top of the lane's window W (the
 * stream from bit p##J on): its value and the low 32 bits of its position
 * stored, W shifted past it and p##J advanced.  A codeword longer than the
 * table takes the slow path, which reloads W after it, so that W always
 * holds the 4 * 12 bits that the next table lookups of a group may take;
 * no codeword at all returns CNN_ERR_CORRUPT from the enclosing function. */
#define SHAM_DEC(J, W, I)                                                     \
    {                                                                         \
        const uint64_t ix_ = (W) >> sh;                                       \
        int64_t l_ = tl[ix_];                                                 \
        REAL v_ = split_tv(tl, ix_);                                          \
        if (CNN_LIKELY(l_)) {                                                 \
            (W) <<= l_;                                                       \
        } else {                                                              \
            const cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be(S, p##J));   \
            if (!d_.len) return CNN_ERR_CORRUPT;                              \
            l_ = d_.len;                                                      \
            v_ = V[d_.sym];                                                   \
            (W) = cnn_peek_be(S, p##J + l_);                                  \
        }                                                                     \
        if (keep) pos[(J) * SHAM_SLOTS + (I)] = (uint32_t)p##J;               \
        val[(J) * SHAM_SLOTS + (I)] = v_;                                     \
        p##J += l_;                                                           \
    }

/* R <= SHAM_SLOTS codewords of each of the four lanes, from bits pp[0..3]
 * on: codeword i of lane j into val[j * SHAM_SLOTS + i] and (the low 32 bits
 * of its position) pos[j * SHAM_SLOTS + i]; pp advanced past them.  The
 * caller keeps every lane at least 32 * R bits before k->lim (a codeword has
 * at most 32 bits), so no peek needs a check.  Four codewords of a lane come
 * from one 64-bit window (57 stream bits; a codeword on the table has at most
 * 12).  Out of line: one copy serves every batch size and index width. */
CNN_INLINE int sham_decode4_keep(const sham_ctx *k, int64_t *pp, int64_t R, REAL *restrict val,
                                 uint32_t *restrict pos, const int keep)
{
    const uint8_t *S = k->stream, *tl = k->tl;
    const REAL *V = k->values;
    const cnn_huff *h = k->h;
    const int sh = k->sh;
    int64_t p0 = pp[0], p1 = pp[1], p2 = pp[2], p3 = pp[3];
    int64_t i = 0;
    for (; i + 4 <= R; i += 4) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        SHAM_DEC(0, w0, i) SHAM_DEC(1, w1, i) SHAM_DEC(2, w2, i) SHAM_DEC(3, w3, i)
        SHAM_DEC(0, w0, i + 1) SHAM_DEC(1, w1, i + 1) SHAM_DEC(2, w2, i + 1) SHAM_DEC(3, w3, i + 1)
        SHAM_DEC(0, w0, i + 2) SHAM_DEC(1, w1, i + 2) SHAM_DEC(2, w2, i + 2) SHAM_DEC(3, w3, i + 2)
        SHAM_DEC(0, w0, i + 3) SHAM_DEC(1, w1, i + 3) SHAM_DEC(2, w2, i + 3) SHAM_DEC(3, w3, i + 3)
    }
    for (; i < R; i++) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        SHAM_DEC(0, w0, i) SHAM_DEC(1, w1, i) SHAM_DEC(2, w2, i) SHAM_DEC(3, w3, i)
    }
    pp[0] = p0, pp[1] = p1, pp[2] = p2, pp[3] = p3;
    return CNN_OK;
}

/* The positions are stored only where the sums check the column offsets
 * (keep: k->verified is 0), here and in the multi-symbol decoders; without
 * them the product takes 0.83-0.89x the time at b = 1 and 0.88-0.93x at b = 8
 * on the split table (512 x 4096 and 4096 x 4096, uniform, 32 and 256
 * values) and 0.85-0.90x at b = 1, 0.85-0.99x at b = 8 on the multi-symbol
 * table (skewed, 3 values; uniform, 2 values), 1 thread, paired medians. */
__attribute__((noinline)) static int sham_decode4_one(const sham_ctx *k, int64_t *pp, int64_t R,
                                                      REAL *restrict val, uint32_t *restrict pos)
{
    return k->verified ? sham_decode4_keep(k, pp, R, val, pos, 0)
                       : sham_decode4_keep(k, pp, R, val, pos, 1);
}

/* As sham_decode4_one for one lane, each peek checked against k->lim: the last
 * codewords of a lane that the lockstep rounds could not reach. */
static int sham_decode1_one(const sham_ctx *k, int64_t *pp, int64_t R, REAL *restrict val,
                            uint32_t *restrict pos)
{
    const uint8_t *S = k->stream, *tl = k->tl;
    const REAL *V = k->values;
    const cnn_huff *h = k->h;
    const int sh = k->sh, keep = !k->verified;
    int64_t p0 = *pp;
    for (int64_t i = 0; i < R; i++) {
        if (CNN_UNLIKELY(p0 > k->lim)) return CNN_ERR_CORRUPT;
        uint64_t w0 = cnn_peek_be(S, p0);
        SHAM_DEC(0, w0, i)
    }
    *pp = p0;
    return CNN_OK;
}
#undef SHAM_DEC

/* The codewords that the 1 << tm entries of the multi-symbol table hold in
 * all, without building it: g[s], the number of sequences of t codewords
 * with s bits in all, counts the windows that start with such a sequence
 * (2^(tm - s) each); summed over t = 1 .. SHAM_MULTI and s <= tm. */
static int64_t sham_table_codewords(const cnn_huff *h, int tm)
{
    int64_t g[SHAM_TM + 1] = {1}, tot = 0;
    for (int t = 1; t <= SHAM_MULTI; t++) {
        int64_t f[SHAM_TM + 1] = {0};
        for (int s = 0; s <= tm; s++)
            for (int l = 1; l <= h->maxlen && s + l <= tm; l++) f[s + l] += g[s] * (int64_t)h->count[l];
        for (int s = 0; s <= tm; s++) {
            g[s] = f[s];
            tot += f[s] << (tm - s);
        }
    }
    return tot;
}

/* Fill tab's first 1 << tm entries from the split table tl, tv of the same width. */
static void sham_multi_table(int tm, const uint8_t *tl, const REAL *tv, sham_multi *tab)
{
    const uint64_t mask = ((uint64_t)1 << tm) - 1;
    for (uint64_t ix = 0; ix <= mask; ix++) {
        int off = 0, n = 0;
        for (int t = 0; t < SHAM_MULTI; t++) tab->v[ix][t] = 0, tab->cum[ix][t] = 0;
        while (n < SHAM_MULTI) {
            const uint64_t j = (ix << off) & mask;
            const int l = tl[j];
            if (!l || off + l > tm) break;
            tab->v[ix][n] = tv[j];
            tab->cum[ix][n] = (uint32_t)off;
            off += l;
            n++;
        }
        tab->len[ix] = (uint8_t)off;
        tab->n[ix] = (uint8_t)n;
    }
}

/* One lookup of lane J at the top of its window W: the codewords of the
 * entry stored from slot i##J on (values into val, the low 32 bits of their
 * positions into pos; the four slots always written, the unused ones
 * overwritten by the next lookup), W shifted past them, p##J and i##J
 * advanced.  The slow path (a codeword longer than the table) decodes one
 * codeword and reloads W; bits that are no codeword there are recorded in
 * bad[J] (the first slot) and stepped over one bit at a time, since a lane
 * may decode past its last nonzero into the next lane's codewords or the
 * padding: the caller fails only if it uses such a slot. */
#define SHAM_MDEC(J, W)                                                            \
    {                                                                              \
        const int64_t s_ = (J) * SHAM_SLOTS + i##J;                                \
        const uint64_t ix_ = (W) >> sh;                                            \
        const int64_t l_ = tab->len[ix_];                                          \
        if (CNN_LIKELY(l_)) {                                                      \
            __builtin_memcpy(val + s_, tab->v[ix_], sizeof tab->v[ix_]);           \
            if (keep) {                                                            \
                sham_u32x4 c_;                                                     \
                __builtin_memcpy(&c_, tab->cum[ix_], sizeof c_);                   \
                c_ += (uint32_t)p##J;                                              \
                __builtin_memcpy(pos + s_, &c_, sizeof c_);                        \
            }                                                                      \
            i##J += tab->n[ix_];                                                   \
            (W) <<= l_;                                                            \
            p##J += l_;                                                            \
        } else {                                                                   \
            cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be(S, p##J));               \
            if (!d_.len) {                                                         \
                bad[J] = i##J < bad[J] ? i##J : bad[J];                            \
                d_.len = 1;                                                        \
                d_.sym = 0;                                                        \
            }                                                                      \
            val[s_] = V[d_.sym];                                                   \
            if (keep) pos[s_] = (uint32_t)p##J;                                    \
            p##J += d_.len;                                                        \
            i##J += 1;                                                             \
            (W) = cnn_peek_be(S, p##J);                                            \
        }                                                                          \
    }

/* K lookups of each of the four lanes, from bits pp[0..3] on, lane j's
 * codewords into slots j * SHAM_SLOTS + [0, cnt[j]) of val and pos (cnt[j]
 * between K and SHAM_MULTI * K); pp advanced past them.  The caller keeps
 * every lane at least 32 * K bits before k->lim, so no peek needs a check.
 * Four lookups of a lane come from one 64-bit window (57 stream bits; a
 * lookup takes at most tm <= 12).  bad[j]: the first slot of lane j whose
 * bits were no codeword (SHAM_SLOTS if none). */
CNN_INLINE int sham_decode4_mkeep(const sham_ctx *k, int64_t *pp, int64_t K, REAL *restrict val,
                                  uint32_t *restrict pos, int64_t *cnt, int64_t *bad, const int keep)
{
    const uint8_t *S = k->stream;
    const sham_multi *tab = k->tab;
    const REAL *V = k->values;
    const cnn_huff *h = k->h;
    const int sh = k->sh;
    int64_t p0 = pp[0], p1 = pp[1], p2 = pp[2], p3 = pp[3];
    int64_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, r = 0;
    for (int j = 0; j < SHAM_LANES; j++) bad[j] = SHAM_SLOTS;
    for (; r + 4 <= K; r += 4) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        SHAM_MDEC(0, w0) SHAM_MDEC(1, w1) SHAM_MDEC(2, w2) SHAM_MDEC(3, w3)
        SHAM_MDEC(0, w0) SHAM_MDEC(1, w1)
        SHAM_MDEC(2, w2) SHAM_MDEC(3, w3)
        SHAM_MDEC(0, w0) SHAM_MDEC(1, w1)
        SHAM_MDEC(2, w2) SHAM_MDEC(3, w3)
        SHAM_MDEC(0, w0) SHAM_MDEC(1, w1)
        SHAM_MDEC(2, w2) SHAM_MDEC(3, w3)
    }
    for (; r < K; r++) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        SHAM_MDEC(0, w0) SHAM_MDEC(1, w1) SHAM_MDEC(2, w2) SHAM_MDEC(3, w3)
    }
    pp[0] = p0, pp[1] = p1, pp[2] = p2, pp[3] = p3;
    cnt[0] = i0, cnt[1] = i1, cnt[2] = i2, cnt[3] = i3;
    return CNN_OK;
}

__attribute__((noinline)) static int sham_decode4_multi(const sham_ctx *k, int64_t *pp, int64_t K,
                                                        REAL *restrict val, uint32_t *restrict pos,
                                                        int64_t *cnt, int64_t *bad)
{
    return k->verified ? sham_decode4_mkeep(k, pp, K, val, pos, cnt, bad, 0)
                       : sham_decode4_mkeep(k, pp, K, val, pos, cnt, bad, 1);
}

/* One lane alone until it holds at least R codewords (R <= SHAM_SLOTS -
 * SHAM_MULTI), each peek checked against k->lim; *cnt: the slots filled. */
static int sham_decode1_multi(const sham_ctx *k, int64_t *pp, int64_t R, REAL *restrict val,
                              uint32_t *restrict pos, int64_t *cnt, int64_t *bad)
{
    const uint8_t *S = k->stream;
    const sham_multi *tab = k->tab;
    const REAL *V = k->values;
    const cnn_huff *h = k->h;
    const int sh = k->sh, keep = !k->verified;
    int64_t p0 = *pp, i0 = 0;
    bad[0] = SHAM_SLOTS;
    while (i0 < R) {
        if (CNN_UNLIKELY(p0 > k->lim)) return CNN_ERR_CORRUPT;
        uint64_t w0 = cnn_peek_be(S, p0);
        SHAM_MDEC(0, w0)
    }
    *pp = p0;
    *cnt = i0;
    return CNN_OK;
}
#undef SHAM_MDEC

/* The lockstep and the lone-lane decoders of the table in use, with the
 * multi-symbol decoders' interface: slots filled and first bad slot per lane
 * (the split table fills exactly the codewords asked for). */
static int sham_decode4(const sham_ctx *k, int64_t *pp, int64_t K, REAL *val, uint32_t *pos,
                        int64_t *cnt, int64_t *bad)
{
    if (k->tab) return sham_decode4_multi(k, pp, K, val, pos, cnt, bad);
    for (int j = 0; j < SHAM_LANES; j++) cnt[j] = K, bad[j] = SHAM_SLOTS;
    return sham_decode4_one(k, pp, K, val, pos);
}

static int sham_decode1(const sham_ctx *k, int64_t *pp, int64_t R, REAL *val, uint32_t *pos,
                        int64_t *cnt, int64_t *bad)
{
    if (k->tab) return sham_decode1_multi(k, pp, R, val, pos, cnt, bad);
    *cnt = R;
    *bad = SHAM_SLOTS;
    return sham_decode1_one(k, pp, R, val, pos);
}

/* Sum the lane's nonzeros [q, q + R), decoded into v[0..R) and ps[0..R)
 * (base: the position of codeword q), into their columns from *cp on: the
 * column holding nonzero q, or the first column starting at q or later.
 * Rows were checked for the range.  Returns nonzero when a column starting
 * in [q, q + R) has an offset other than its first codeword's position (an
 * empty column: the position of the next codeword).  B and RB constant.
 *
 * Order of the sums (the reference path's too, for every b): a column sums
 * its nonzeros in order, or, where k->two (see SHAM_TWO_SUMS), those at even
 * offsets in order and those at odd offsets in order, then adds the two.  A
 * column that started in an earlier round carries on from its partial sums,
 * the even ones in out and the odd ones in odd[0..B), so the sums are the
 * same whatever the rounds and threads. */
CNN_INLINE int64_t sham_sum_two(const sham_ctx *k, int64_t *cp, REAL *restrict odd, int64_t q,
                                int64_t R, int64_t base, const REAL *restrict v,
                                const uint32_t *restrict ps, const int64_t B, const int RB,
                                const int two)
{
    const int64_t *cb = k->cb, *cbits = k->col_bits;
    const void *ri = k->ri;
    const REAL *restrict xt = k->xt;
    const int64_t hi = q + R;
    int64_t c = *cp, bad = 0;
    for (;; c++) {
        const int64_t s = cb[c];
        if (s >= hi) break; /* (before cb[c + 1]: c may be the range's end column) */
        const int64_t e = cb[c + 1], z = e < hi ? e : hi;
        int64_t j = s;
        if (s < q) {
            j = q;
        } else if (!k->verified) {
            const uint32_t off = ps[s - q] - (uint32_t)base; /* exact: R codewords span < 2^32 bits */
            bad |= cbits[c] - base != (int64_t)off;
        }
        REAL *restrict o = k->out + c * B;
        /* with two sums, a0 takes the offsets of j's parity and a1 the
         * others; the loop leaves a column through one of its two tests, so
         * a column costs one mispredicted branch, as with one sum */
        const int par = (int)((j - s) & 1);
        if (B == 1 && !two) {
            REAL acc = s < q ? o[0] : 0;
            for (; j < z; j++) acc += v[j - q] * xt[sham_ri(ri, j, RB)];
            o[0] = acc;
        } else if (B == 1) {
            REAL a0 = 0, a1 = 0;
            if (s < q) {
                a0 = par ? odd[0] : o[0];
                a1 = par ? o[0] : odd[0];
            }
            for (;;) {
                if (j >= z) break;
                a0 += v[j - q] * xt[sham_ri(ri, j, RB)];
                j++;
                if (j >= z) break;
                a1 += v[j - q] * xt[sham_ri(ri, j, RB)];
                j++;
            }
            if (e > hi) {
                o[0] = par ? a1 : a0;
                odd[0] = par ? a0 : a1;
            } else {
                o[0] = a0 + a1;
            }
        } else if (B == 8 && !two) {
            sham_vec8 acc = {0}, x;
            if (s < q) __builtin_memcpy(&acc, o, sizeof acc);
            for (; j < z; j++) {
                __builtin_memcpy(&x, xt + sham_ri(ri, j, RB) * 8, sizeof x);
                acc += v[j - q] * x;
            }
            __builtin_memcpy(o, &acc, sizeof acc);
        } else if (B == 8) {
            sham_vec8 a0 = {0}, a1 = {0}, x;
            if (s < q) {
                __builtin_memcpy(par ? &a1 : &a0, o, sizeof a0);
                __builtin_memcpy(par ? &a0 : &a1, odd, sizeof a1);
            }
            for (;;) {
                if (j >= z) break;
                __builtin_memcpy(&x, xt + sham_ri(ri, j, RB) * 8, sizeof x);
                a0 += v[j - q] * x;
                j++;
                if (j >= z) break;
                __builtin_memcpy(&x, xt + sham_ri(ri, j, RB) * 8, sizeof x);
                a1 += v[j - q] * x;
                j++;
            }
            if (e > hi) {
                __builtin_memcpy(o, par ? &a1 : &a0, sizeof a0);
                __builtin_memcpy(odd, par ? &a0 : &a1, sizeof a1);
            } else {
                a0 += a1;
                __builtin_memcpy(o, &a0, sizeof a0);
            }
        } else {
            /* in place; each partial sum starts at its first nonzero (0 + v x,
             * as from zero), and a column of one nonzero has no odd sum */
            if (e == s)
                for (int64_t t = 0; t < B; t++) o[t] = 0;
            for (; j < z; j++) {
                const REAL vj = v[j - q];
                const REAL *restrict x = xt + sham_ri(ri, j, RB) * B;
                const int64_t off = j - s;
                REAL *restrict a = two && (off & 1) ? odd : o;
                if (off < 1 + two)
                    for (int64_t t = 0; t < B; t++) a[t] = (REAL)0 + vj * x[t];
                else
                    for (int64_t t = 0; t < B; t++) a[t] += vj * x[t];
            }
            if (two && e <= hi && e - s >= 2)
                for (int64_t t = 0; t < B; t++) o[t] += odd[t];
        }
        if (e > hi) break; /* the column goes on in the next round */
    }
    *cp = c;
    return bad;
}

/* With the order a constant, so that the column loop tests it once. */
CNN_INLINE int64_t sham_sum(const sham_ctx *k, int64_t *cp, REAL *restrict odd, int64_t q,
                            int64_t R, int64_t base, const REAL *restrict v,
                            const uint32_t *restrict ps, const int64_t B, const int RB)
{
    return k->two ? sham_sum_two(k, cp, odd, q, R, base, v, ps, B, RB, 1)
                  : sham_sum_two(k, cp, odd, q, R, base, v, ps, B, RB, 0);
}

/* Where codeword U of a lane's round starts (the round from bit base on):
 * from its stored position, or, when the offsets were verified and the
 * multi-symbol decoders stored none, by stepping over the U codewords again
 * (only where a lane decoded past its last codeword: once per lane). */
static int64_t sham_pos(const sham_ctx *k, int64_t base, int64_t U, const uint32_t *pos)
{
    if (!k->verified) return base + (uint32_t)(pos[U] - (uint32_t)base);
    int64_t p = base;
    for (int64_t i = 0; i < U; i++) {
        const uint64_t w = cnn_peek_be(k->stream, p);
        const int64_t l = k->tl[w >> k->sh];
        p += l ? l : cnn_huff_slow_dec(k->h, w).len; /* a codeword: its slot was used */
    }
    return p;
}

/* Columns [c0, c1) on the fast path (see the top of this file); odd: B
 * entries per lane (see sham_sum). */
CNN_INLINE int sham_fast(const sham_ctx *k, int64_t c0, int64_t c1, REAL *odd, const int64_t B,
                         const int RB)
{
    const int64_t *cb = k->cb, *cbits = k->col_bits;
    const int64_t qa = cb[c0], qz = cb[c1];
    if (!sham_rows_below(k->ri, RB, qa, qz, k->n)) return CNN_ERR_CORRUPT;
    REAL val[SHAM_LANES * SHAM_SLOTS];
    uint32_t pos[SHAM_LANES * SHAM_SLOTS];
    sham_lane L[SHAM_LANES];
    /* each lane a run of whole columns, cut near quarters of the nonzeros */
    for (int64_t j = 0, cs = c0; j < SHAM_LANES; j++) {
        const int64_t ce = j == SHAM_LANES - 1
                         ? c1 : cnn_first_at_least(cb, cs, c1, qa + (qz - qa) * (j + 1) / SHAM_LANES);
        L[j] = (sham_lane){cbits[cs], cb[cs], cb[ce], cs, ce};
        cs = ce;
    }
    int64_t bad = 0, cnt[SHAM_LANES], badslot[SHAM_LANES];
    int st;
    /* lockstep rounds of K lookups while every lane has K codewords left, all
     * of them far enough from the stream's end; a lane may decode past its
     * last codeword (up to SHAM_MULTI per lookup): those slots are not used */
    for (;;) {
        int64_t K = k->tab ? SHAM_SLOTS / SHAM_MULTI : SHAM_SLOTS, top = 0, p[SHAM_LANES], base[SHAM_LANES];
        for (int j = 0; j < SHAM_LANES; j++) {
            K = L[j].qz - L[j].q < K ? L[j].qz - L[j].q : K;
            top = L[j].p > top ? L[j].p : top;
            p[j] = base[j] = L[j].p;
        }
        if (top > k->lim) return CNN_ERR_CORRUPT;
        K = (k->lim - top) / 32 < K ? (k->lim - top) / 32 : K;
        if (K <= 0) break;
        if ((st = sham_decode4(k, p, K, val, pos, cnt, badslot))) return st;
        for (int j = 0; j < SHAM_LANES; j++) {
            const int64_t left = L[j].qz - L[j].q, U = cnt[j] < left ? cnt[j] : left;
            if (badslot[j] < U) return CNN_ERR_CORRUPT;
            bad |= sham_sum(k, &L[j].c, odd + j * B, L[j].q, U, base[j], val + j * SHAM_SLOTS,
                            pos + j * SHAM_SLOTS, B, RB);
            L[j].q += U;
            L[j].p = U == cnt[j] ? p[j] : sham_pos(k, base[j], U, pos + j * SHAM_SLOTS);
        }
    }
    /* then each lane alone to its end; its empty last columns (cb = qz) and
     * its end column must start where its codewords end */
    for (int j = 0; j < SHAM_LANES; j++) {
        sham_lane *l = &L[j];
        while (l->q < l->qz) {
            const int64_t left = l->qz - l->q, base = l->p;
            const int64_t R = left < SHAM_SLOTS - SHAM_MULTI ? left : SHAM_SLOTS - SHAM_MULTI;
            int64_t n1;
            if ((st = sham_decode1(k, &l->p, R, val, pos, &n1, badslot))) return st;
            const int64_t U = n1 < left ? n1 : left;
            if (badslot[0] < U) return CNN_ERR_CORRUPT;
            bad |= sham_sum(k, &l->c, odd + j * B, l->q, U, base, val, pos, B, RB);
            l->q += U;
            if (U < n1) l->p = sham_pos(k, base, U, pos);
        }
        for (int64_t c = l->c; c <= l->cz; c++) {
            bad |= cbits[c] != l->p;
            if (c < l->cz)
                for (int64_t t = 0; t < B; t++) k->out[c * B + t] = 0;
        }
    }
    return bad ? CNN_ERR_CORRUPT : CNN_OK;
}

CNN_INLINE int sham_fast_b(const sham_ctx *k, int64_t c0, int64_t c1, REAL *odd, const int64_t B)
{
    switch (k->ri_bytes) {
    case 1: return sham_fast(k, c0, c1, odd, B, 1);
    case 2: return sham_fast(k, c0, c1, odd, B, 2);
    default: return sham_fast(k, c0, c1, odd, B, 4);
    }
}

/* Columns [c0, c1), one codeword at a time through the word reader, each
 * summed in the fast path's order (odd: B entries, see sham_sum). */
static int sham_reference(const sham_ctx *k, int64_t c0, int64_t c1, REAL *odd)
{
    const int64_t B = k->b;
    for (int64_t c = c0; c < c1; c++) {
        int64_t p = k->col_bits[c];
        const int64_t end = k->col_bits[c + 1];
        REAL *o = k->out + c * B;
        for (int64_t t = 0; t < B; t++) o[t] = 0, odd[t] = 0;
        for (int64_t j = k->cb[c]; j < k->cb[c + 1]; j++) {
            uint32_t sym;
            const int st = cnn_huff_at(k->h, &k->bits, &p, end, &sym);
            if (st) return st;
            const int64_t row = sham_ri(k->ri, j, k->ri_bytes);
            if (row >= k->n) return CNN_ERR_CORRUPT;
            const REAL v = k->values[sym], *x = k->xt + row * B;
            REAL *a = k->two && ((j - k->cb[c]) & 1) ? odd : o;
            for (int64_t t = 0; t < B; t++) a[t] += v * x[t];
        }
        if (k->two)
            for (int64_t t = 0; t < B; t++) o[t] += odd[t];
        if (p != end) return CNN_ERR_CORRUPT;
    }
    return CNN_OK;
}

/* b = 1 and b = 8 (the benchmarks' batches) get constant batch sizes. */
static int sham_range(void *vctx, int64_t c0, int64_t c1)
{
    const sham_ctx *k = (const sham_ctx *)vctx;
    REAL small[SHAM_LANES * 8];
    REAL *odd = k->b <= 8 ? small : malloc(sizeof(REAL) * SHAM_LANES * (size_t)k->b);
    if (!odd) return CNN_ERR_NOMEM;
    const int st = !k->stream ? sham_reference(k, c0, c1, odd)
                 : k->b == 1 ? sham_fast_b(k, c0, c1, odd, 1)
                 : k->b == 8 ? sham_fast_b(k, c0, c1, odd, 8)
                 : sham_fast_b(k, c0, c1, odd, k->b);
    if (odd != small) free(odd);
    return st;
}

/* The public products (sham_f32.c, sham_f64.c) with their arguments as in compactnn.h. */
static int sham_matmat(int64_t n, int64_t m, const void *words, int64_t nwords, int wordbits,
                       const uint8_t *stream, int64_t nstream, const int64_t *col_bits,
                       int64_t ncol_bits, const uint32_t *len_count, int maxlen, const REAL *values,
                       int64_t nsym, const void *ri, int ri_bytes, int64_t q, const int64_t *cb,
                       int64_t ncb, int verified, const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || q < 0 || threads < 1) return CNN_ERR_ARG;
    if (ncol_bits != m + 1 || ncb != m + 1) return CNN_ERR_ARG;
    if (ri_bytes != 1 && ri_bytes != 2 && ri_bytes != 4) return CNN_ERR_ARG;
    cnn_huff h;
    sham_ctx k;
    int st = cnn_bits_init(&k.bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.bits.nchunks);
    if (st) return st;
    if (cb[0] != 0 || cb[m] != q) return CNN_ERR_CORRUPT;
    st = cnn_check_offsets(cb, ncb, q);
    if (st) return st;
    /* the byte stream is optional; when given it must hold the words' bits plus padding */
    if (stream != NULL && nstream != 4 * k.bits.nchunks + 8) return CNN_ERR_ARG;
    if (m == 0 || b == 0) return CNN_OK;
    uint32_t table[1 << CNN_TABLE_BITS];
    st = cnn_huff_init(&h, len_count, maxlen, nsym, -1, stream ? NULL : table, NULL);
    if (st) return st;
    if (q > 0 && nsym == 0) return CNN_ERR_CORRUPT;
    /* the split table covers the longest codeword where 2^maxlen entries fit
     * in CNN_TABLE_BITS, so a small code gets a small table */
    const int tb = maxlen < CNN_TABLE_BITS ? maxlen : CNN_TABLE_BITS;
    const int tm = SHAM_MULTI * maxlen < SHAM_TM ? SHAM_MULTI * maxlen : SHAM_TM;
    split_tables split;
    uint8_t *tl = split.tl;
    REAL *tv = split.tv;
    sham_multi tab;
    int multi = 0;
    if (stream != NULL && nsym > 0) {
        multi = sham_table_codewords(&h, tm) >= ((int64_t)SHAM_MULTI_MIN << tm);
        if (multi) {
            split_table(&h, values, tm, tl, tv);
            sham_multi_table(tm, tl, tv, &tab);
        } else {
            split_table(&h, values, tb, tl, tv);
        }
    }
    k.tab = multi ? &tab : NULL;
    k.stream = stream;
    k.lim = stream != NULL ? 8 * (nstream - 8) : 0;
    k.tl = tl;
    const int width = multi ? tm : tb; /* of the table in use */
    k.sh = 64 - (width > 0 ? width : 1);
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
    /* A column's sum is a chain of adds, one per nonzero; the out-of-order
     * core overlaps the chains of neighbouring short columns, but not those
     * of long ones, which two sums halve.  Against one sum (1 thread, paired
     * medians, b = 1 and 8): 0.82-0.87x the time on the skewed 512 x 4096 at
     * density 0.1 and 4096 x 4096 at 0.01 (51 and 41 nonzeros per column),
     * 0.95-0.98x on the uniform ones, but 1.04-1.09x at b = 1 on 512 x 4096
     * at density 0.01 (5 per column) and on 192 x 1024, where one sum is
     * kept. */
    k.two = q >= (int64_t)CNN_SHAM_TWO_SUMS * m;
    k.verified = verified != 0;
    return cnn_parallel_for(pool, threads, m, cb, sham_range, &k);
}

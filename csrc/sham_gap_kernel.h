/* sham_gap_kernel.h: the sHAM-gap product out = X @ W for one value type REAL.
 * Included by sham_gap_f32.c (REAL = float) and sham_gap_f64.c (double),
 * which write the public functions out by name; the helpers are static, so
 * each file has its own copy under the same names.  The stream's decoding
 * (shared with the reference decoder of sham_gap.c) is in sham_gap_code.h.
 *
 * Blocks of `group` columns are independent (each starts at blk_bits[blk]);
 * a thread takes a contiguous range of blocks and decodes four of them at
 * once, one bit position each (in its own locals), so that one lane's table
 * lookups overlap the others'.  A lane that reaches its block's END takes the
 * next block of the range, so the four stay busy until the range runs out.
 * A row past n moves to the next column of the block (past the block's last
 * column is corruption), and each block must end exactly at blk_bits[blk + 1].
 */
#include <stdlib.h>
#include <string.h>

#include "real.h"
#include "sham_gap_code.h"

typedef struct {
    int64_t n, m, group, b;
    const int64_t *blk_bits;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_gapc *g;
    cnn_bits bits;
    int64_t safe, end; /* see cnn_gap_peek */
    const uint64_t *pair; /* gap and value in one lookup (gap_pair_table), or NULL */
} gap_ctx;

/* The pair table, taken where it covers at least 15/16 of the windows that
 * the gap table decodes (stream bits are close to uniform, so that is the
 * share of nonzeros it serves): then its miss branch is predictable.
 * Measured against the gap table alone on 512 x 4096 at density 0.1 and
 * 0.01, 1 thread, paired medians: 0.79-0.94x the time at b = 1 and 8 with
 * 2 or 3 values (96-99.8 % covered) and 32 values at density 0.1 (95 %);
 * 1.43-1.49x with 32 values at density 0.01 (61 %), where it is not taken.
 * Its building costs about 10 us (1.3x the time of a 192 x 1024 product at
 * density 0.01), hence the size rule in sham_gap_matmat.
 * For every CNN_GAP_TB-bit window whose whole gap (codeword
 * and extra bits) and the value codeword after it both fit in the window,
 * bits 0-5 the bits they take, 6-31 the value's canonical index and 32-63
 * the gap; 0 for the other windows, which take cnn_gap_next.  Returns
 * whether the table covers enough windows to be taken. */
_Static_assert(CNN_TABLE_BITS <= CNN_GAP_TB, "a value table index is a window's prefix");
static int gap_pair_table(const cnn_gapc *g, uint64_t *pair)
{
    const uint64_t mask = ((uint64_t)1 << CNN_GAP_TB) - 1;
    const cnn_huff *hv = &g->val;
    int64_t covered = 0, decoded = 0;
    for (uint64_t ix = 0; ix <= mask; ix++) {
        const uint32_t e = g->fast[ix];
        pair[ix] = 0;
        decoded += e != 0;
        if (!e || hv->nsym == 0 || hv->tb <= 0) continue;
        const int lg = (int)(e & 31u), left = CNN_GAP_TB - lg;
        const uint64_t rest = (ix << lg) & mask; /* the bits after the gap, zeros below */
        const uint32_t ve = hv->table[rest >> (CNN_GAP_TB - hv->tb)];
        if (!ve || CNN_E_BITS(ve) > left || CNN_E_SYM(ve) >> 26) continue;
        pair[ix] = (uint64_t)(lg + CNN_E_BITS(ve)) | (uint64_t)CNN_E_SYM(ve) << 6 | (uint64_t)(e >> 5) << 32;
        covered++;
    }
    return 16 * covered >= 15 * decoded;
}

/* Next nonzero of a block from position p: one lookup in the pair table where
 * it covers the window, else cnn_gap_next. */
CNN_INLINE cnn_gap_res gap_next(const gap_ctx *k, int64_t p)
{
    if (k->pair) {
        const uint64_t e = k->pair[cnn_gap_peek(&k->bits, p, k->safe) >> (64 - CNN_GAP_TB)];
        if (CNN_LIKELY(e))
            return (cnn_gap_res){p + (int64_t)(e & 63u), (int64_t)(e >> 32),
                                 (uint32_t)((e >> 6) & 0x3ffffffu), CNN_OK};
    }
    return cnn_gap_next(k->g, &k->bits, p, k->safe, k->end);
}

/* One lane: its bit position, the block it decodes, the current row and column. */
typedef struct {
    int64_t pos, row, col, cend, blk;
} cnn_gap_lane;
#define CNN_GAP_END (-1) /* internal status: the lane's block is finished */
#if defined(__GNUC__)
#define CNN_GAP_VEC 1 /* b = 8 sums in one vector register (GCC/Clang extension) */
#else
#define CNN_GAP_VEC 0
#endif

/* A lane's sums of the current column: b = 1 in a1, b = 8 in a8 where the
 * compiler has vector types; any other b is summed in place in out. */
#if CNN_GAP_VEC
typedef REAL gap_vec8 __attribute__((vector_size(8 * sizeof(REAL))));
#else
typedef struct { REAL v[8]; } gap_vec8;
#endif
typedef struct {
    gap_vec8 a8;
    REAL a1;
} gap_acc;

/* Store the current column's sums and clear them. */
CNN_INLINE void gap_flush(const gap_ctx *k, const cnn_gap_lane *L, gap_acc *s,
                          const int64_t B)
{
    if (B == 1) {
        k->out[L->col] = s->a1;
        s->a1 = 0;
    } else if (CNN_GAP_VEC && B == 8) {
        memcpy(k->out + L->col * 8, &s->a8, sizeof s->a8);
        memset(&s->a8, 0, sizeof s->a8);
    }
}

/* Start block `blk` in lane L. */
CNN_INLINE void gap_open(const gap_ctx *k, cnn_gap_lane *L, int64_t blk,
                         gap_acc *s)
{
    L->pos = k->blk_bits[blk];
    L->blk = blk;
    L->row = -1;
    L->col = blk * k->group;
    L->cend = k->m - L->col < k->group ? k->m : L->col + k->group;
    memset(s, 0, sizeof *s);
}

/* One nonzero of lane L: CNN_OK, CNN_GAP_END after its block's END, or an error. */
CNN_INLINE int gap_step(const gap_ctx *k, cnn_gap_lane *L, gap_acc *s,
                        const int64_t B)
{
    const cnn_gap_res r = gap_next(k, L->pos);
    if (CNN_UNLIKELY(r.st)) return r.st;
    L->pos = r.pos;
    if (CNN_UNLIKELY(r.gap < 0)) {
        gap_flush(k, L, s, B);
        return L->pos == k->blk_bits[L->blk + 1] ? CNN_GAP_END : CNN_ERR_CORRUPT;
    }
    L->row += r.gap + 1;
    while (CNN_UNLIKELY(L->row >= k->n)) {
        gap_flush(k, L, s, B);
        if (++L->col >= L->cend) return CNN_ERR_CORRUPT;
        L->row -= k->n;
    }
    const REAL v = k->values[r.vs];
    const REAL *x = k->xt + L->row * B;
    if (B == 1) {
        s->a1 += v * x[0];
#if CNN_GAP_VEC
    } else if (B == 8) {
        gap_vec8 xv;
        memcpy(&xv, x, sizeof xv);
        s->a8 += v * xv;
#endif
    } else {
        REAL *a = k->out + L->col * B;
        for (int64_t t = 0; t < B; t++) a[t] += v * x[t];
    }
    return CNN_OK;
}

CNN_INLINE int gap_drain(const gap_ctx *k, cnn_gap_lane *L, gap_acc *s,
                         const int64_t B)
{
    int st;
    while ((st = gap_step(k, L, s, B)) == CNN_OK) {
    }
    return st == CNN_GAP_END ? CNN_OK : st;
}

CNN_INLINE int gap_span(const gap_ctx *kp, int64_t b0, int64_t b1, const int64_t B)
{
    /* Local copies: stores through out cannot then alias the constants. */
    const cnn_gapc g = *kp->g;
    gap_ctx kc = *kp;
    kc.g = &g;
    const gap_ctx *k = &kc;
    cnn_gap_lane L0, L1, L2, L3;
    gap_acc s0, s1, s2, s3;
    int64_t next = b0;
    int st = CNN_OK;
    if (b1 - b0 >= 4) {
        gap_open(k, &L0, next++, &s0);
        gap_open(k, &L1, next++, &s1);
        gap_open(k, &L2, next++, &s2);
        gap_open(k, &L3, next++, &s3);
        int live0 = 1, live1 = 1, live2 = 1, live3 = 1;
        /* A lane whose block ends takes the next one; once none is left the
         * others finish their blocks one at a time. */
#define CNN_GAP_LANE_STEP(L, s, live)                                         \
        st = gap_step(k, &L, s, B);                                      \
        if (CNN_UNLIKELY(st)) {                                               \
            if (st != CNN_GAP_END) return st;                                 \
            if (next < b1) gap_open(k, &L, next++, s);                   \
            else { live = 0; break; }                                         \
        }
        for (;;) {
            CNN_GAP_LANE_STEP(L0, &s0, live0)
            CNN_GAP_LANE_STEP(L1, &s1, live1)
            CNN_GAP_LANE_STEP(L2, &s2, live2)
            CNN_GAP_LANE_STEP(L3, &s3, live3)
        }
#undef CNN_GAP_LANE_STEP
        st = live0 ? gap_drain(k, &L0, &s0, B) : CNN_OK;
        if (!st && live1) st = gap_drain(k, &L1, &s1, B);
        if (!st && live2) st = gap_drain(k, &L2, &s2, B);
        if (!st && live3) st = gap_drain(k, &L3, &s3, B);
    }
    while (!st && next < b1) {
        gap_open(k, &L0, next++, &s0);
        st = gap_drain(k, &L0, &s0, B);
    }
    return st;
}

static int gap_range(void *vctx, int64_t b0, int64_t b1)
{
    const gap_ctx *k = (const gap_ctx *)vctx;
    const int64_t b = k->b;
    return b == 1 ? gap_span(k, b0, b1, 1)
         : b == 8 ? gap_span(k, b0, b1, 8)
         : gap_span(k, b0, b1, b);
}

/* The public products (sham_gap_f32.c, sham_gap_f64.c). */
static int sham_gap_matmat(int64_t n, int64_t m, int64_t group,
                           const void *words, int64_t nwords, int wordbits,
                           const int64_t *blk_bits, int64_t nblk_bits,
                           const uint32_t *gap_len_count, int gap_maxlen,
                           const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                           const uint32_t *len_count, int maxlen,
                           const REAL *values, int64_t nsym,
                           const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (b < 0 || threads < 1) return CNN_ERR_ARG;
    uint32_t gtab[1 << CNN_TABLE_BITS], vtab[1 << CNN_TABLE_BITS];
    uint32_t *fast;
    uint64_t *pair = NULL;
    cnn_gapc g;
    gap_ctx k;
    int st = cnn_gap_setup(n, m, group, words, nwords, wordbits, blk_bits, nblk_bits,
                           gap_len_count, gap_maxlen, gap_syms, ngap, lit,
                           len_count, maxlen, nsym, &k.bits, &g, gtab, vtab, &fast);
    if (st == CNN_OK && m > 0 && b > 0) {
        for (int64_t i = 0; i < m * b; i++) out[i] = 0;
        k.n = n;
        k.m = m;
        k.group = group;
        k.b = b;
        k.blk_bits = blk_bits;
        k.values = values;
        k.xt = xt;
        k.out = out;
        k.g = &g;
        k.end = 32 * k.bits.nchunks;
        k.safe = k.end - 32;
        k.pair = NULL;
        /* building the table costs about as much as 1 << CNN_GAP_TB lookups:
         * only for streams of at least 64 bits per window */
        if (k.end >= (int64_t)64 << CNN_GAP_TB) {
            pair = malloc(sizeof(uint64_t) << CNN_GAP_TB);
            if (!pair) st = CNN_ERR_NOMEM;
            else if (gap_pair_table(&g, pair)) k.pair = pair;
        }
    }
    if (st == CNN_OK && m > 0 && b > 0) {
        st = cnn_parallel_for(pool, threads, nblk_bits - 1, blk_bits, gap_range, &k);
    }
    free(fast);
    free(pair);
    return st;
}

/* sham_gap_kernel.h: the sHAM-gap product out = X @ W for one value type REAL.
 * Included by sham_gap_f32.c (REAL = float) and sham_gap_f64.c (double),
 * which write the public functions out by name; the helpers are static, so
 * each file has its own copy under the same names.  The stream's layout and
 * its slow decoding (shared with the reference decoder of sham_gap.c) are in
 * sham_gap_code.h.
 *
 * One path for every batch size b, as in sham_kernel.h: blocks of `group`
 * columns follow each other in the stream (block blk from bit blk_bits[blk]
 * to its END codeword, which must end at blk_bits[blk + 1]), so the blocks of
 * a thread's range decode as one sequence of entries (a nonzero: its gap and
 * value; or an END).  Four lanes, each a run of whole blocks cut near
 * quarters of the range's bits, decode in lockstep (so that one lane's table
 * lookups overlap the others') into a buffer of gaps and values, one 64-bit
 * window of the byte stream per group of lookups; the buffer is then summed
 * block by block, column by column: the gap moves the row on, a row past n
 * moves to the next column (past the block's last column is corruption),
 * and b = 1 and b = 8 keep the column's sums in registers.  Each round
 * decodes at most (bits left in the lane) / maxbits entries, maxbits being
 * the longest entry the codes allow, so the lockstep rounds never pass a
 * lane's end and need no checks; a lane left with less room sits the rounds
 * out (its slots decode the bits of the lane with the most room again, and
 * are dropped) and then finishes alone, stopping at its end.
 * Measured against the kernel before it (four lanes that summed each
 * nonzero as they decoded it, taking the next block when one ended), both
 * called the same way, 1 thread, paired medians at b = 1 and 8, two runs:
 * 0.70-0.87x the time on 512 x 4096 at density 0.1, 0.81-0.95x at 0.01,
 * 0.75-0.99x on 192 x 1024 at 0.1 and 0.82-0.98x at 0.01, but 1.11-1.24x on
 * the skewed 192 x 1024 at 0.01 (four blocks of unequal length, 15-30 us a
 * product: the longest lane finishes alone).  Not kept: the lone lane
 * decoding several entries per window (1.0x), lanes leaving the rounds
 * with more room left (at 8 and 32 entries: 1.0-1.1x), and a pair table of
 * two whole entries per lookup where they fit (64-bit entries, 32 KiB, a
 * slot count per lane): 1.13-1.54x on 512 x 4096 and up to 1.54x on
 * 192 x 1024, skewed and 2 values included.
 */
#include <stdlib.h>
#include <string.h>

#include "real.h"
#include "sham_gap_code.h"

/* GAP_SLOTS entries per lane and round at most: a round's gaps, values and
 * END positions stay in the L1 cache while they are summed. */
enum { GAP_LANES = 4, GAP_SLOTS = 256 };

/* A buffered gap is a uint32: END is GAP_END, and a gap past what a block
 * can hold (group * n <= 2^31 positions, checked on entry) is stored as
 * GAP_HUGE, which moves the row past the block's last column. */
#define GAP_END UINT32_MAX
#define GAP_HUGE (UINT32_MAX - 1u)

typedef REAL gap_vec8 __attribute__((vector_size(8 * sizeof(REAL))));

typedef struct {
    int64_t n, m, group, b;
    const int64_t *blk_bits;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_gapc *g;
    cnn_bits bits;       /* the word reader of the slow path */
    int64_t end;         /* its end: 32 * bits.nchunks */
    const uint8_t *stream; /* the same bits as bytes, padded (cnn_peek_be) */
    const uint32_t *vtab;  /* the value code's table (never NULL) */
    int vsh;               /* 64 - its width */
    const uint32_t *pair;  /* gap and value in one lookup (gap_pair_table), or NULL */
    int64_t maxbits;       /* the most bits one entry (nonzero or END) takes */
} gap_ctx;


/* One entry of lane J from the top of its window W (the stream from bit p##J
 * on): its gap into gap[s] (GAP_END for END, whose end position goes to
 * endp[s]), its value into val[s], p##J advanced and W shifted past it.  With
 * the pair table (PAIR) a hit takes at most CNN_GAP_TB bits of W; otherwise
 * the gap table and then the value table, at most CNN_GAP_FAST_BITS +
 * CNN_TABLE_BITS bits (after which PAIR reloads W, for its four lookups per
 * window).  Codewords off both tables, END and bad bits take cnn_gap_slow,
 * then W is reloaded. */
#define GAP_DEC(J, W, S_)                                                          \
    {                                                                              \
        const int64_t s_ = (S_);                                                   \
        const uint32_t e_ = PAIR ? pair[(W) >> (64 - CNN_GAP_TB)] : 0;             \
        if (PAIR && CNN_LIKELY(e_)) {                                              \
            const int l_ = (int)(e_ & 15u);                                        \
            gap[s_] = e_ >> 12;                                                    \
            val[s_] = V[(e_ >> 4) & 255u];                                         \
            (W) <<= l_;                                                            \
            p##J += l_;                                                            \
        } else {                                                                   \
            const uint32_t eg_ = fast[(W) >> (64 - CNN_GAP_TB)];                   \
            const uint32_t ve_ = vtab[((W) << CNN_GAP_E_BITS(eg_)) >> vsh];        \
            if (CNN_LIKELY(eg_ && ve_)) {                                          \
                const int l_ = CNN_GAP_E_BITS(eg_) + CNN_E_BITS(ve_);              \
                gap[s_] = cnn_gap_fast_gap(eg_, W);                                \
                val[s_] = V[CNN_E_SYM(ve_)];                                       \
                p##J += l_;                                                        \
                if (PAIR) (W) = cnn_peek_be(S, p##J);                              \
                else (W) <<= l_;                                                   \
            } else {                                                               \
                const cnn_gap_res r_ = cnn_gap_slow(g, &k->bits, p##J, k->end);    \
                if (r_.st) return r_.st;                                           \
                gap[s_] = r_.gap < 0 ? GAP_END                                     \
                        : r_.gap < (int64_t)GAP_HUGE ? (uint32_t)r_.gap : GAP_HUGE; \
                val[s_] = r_.gap < 0 ? 0 : V[r_.vs];                               \
                if (r_.gap < 0) endp[s_] = r_.pos;                                 \
                p##J = r_.pos;                                                     \
                (W) = cnn_peek_be(S, p##J);                                        \
            }                                                                      \
        }                                                                          \
    }

#define GAP_DEC_LOCALS                                                             \
    const uint8_t *S = k->stream;                                                  \
    const cnn_gapc *g = k->g;                                                      \
    const uint32_t *pair = k->pair, *fast = g->fast, *vtab = k->vtab;              \
    const int vsh = k->vsh;                                                        \
    const REAL *V = k->values;

/* K entries of each of the four lanes, from bits pp[0..3] on: entry i of lane
 * j into slot j * GAP_SLOTS + i of gap, val (and endp for END); pp advanced
 * past them.  The caller keeps K * maxbits within every lane's bits, so no
 * peek needs a check.  Four lookups (PAIR) or two entries come from one
 * window (57 stream bits).  Out of line: one copy per table choice serves
 * every batch size. */
CNN_INLINE int gap_decode4(const gap_ctx *k, int64_t *pp, int64_t K, uint32_t *restrict gap,
                           REAL *restrict val, int64_t *restrict endp, const int PAIR)
{
    GAP_DEC_LOCALS
    int64_t p0 = pp[0], p1 = pp[1], p2 = pp[2], p3 = pp[3];
    int64_t i = 0;
#define GAP_DEC4(I)                                                                \
    GAP_DEC(0, w0, (I)) GAP_DEC(1, w1, GAP_SLOTS + (I))                            \
    GAP_DEC(2, w2, 2 * GAP_SLOTS + (I)) GAP_DEC(3, w3, 3 * GAP_SLOTS + (I))
    const int E = PAIR ? 4 : 2;
    for (; i + E <= K; i += E) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        GAP_DEC4(i)
        GAP_DEC4(i + 1)
        if (PAIR) {
            GAP_DEC4(i + 2)
            GAP_DEC4(i + 3)
        }
    }
    for (; i < K; i++) {
        uint64_t w0 = cnn_peek_be(S, p0), w1 = cnn_peek_be(S, p1);
        uint64_t w2 = cnn_peek_be(S, p2), w3 = cnn_peek_be(S, p3);
        GAP_DEC4(i)
    }
#undef GAP_DEC4
    pp[0] = p0, pp[1] = p1, pp[2] = p2, pp[3] = p3;
    return CNN_OK;
}

__attribute__((noinline)) static int gap_decode4_pair(const gap_ctx *k, int64_t *pp, int64_t K,
                                                      uint32_t *gap, REAL *val, int64_t *endp)
{
    return gap_decode4(k, pp, K, gap, val, endp, 1);
}

__attribute__((noinline)) static int gap_decode4_two(const gap_ctx *k, int64_t *pp, int64_t K,
                                                     uint32_t *gap, REAL *val, int64_t *endp)
{
    return gap_decode4(k, pp, K, gap, val, endp, 0);
}

/* One lane alone from bit *pp: at most R entries, stopping once the
 * position reaches pend (the lane's end).  Returns the entries decoded in *cnt. */
static int gap_decode1(const gap_ctx *k, int64_t *pp, int64_t pend, int64_t R,
                       uint32_t *restrict gap, REAL *restrict val, int64_t *restrict endp,
                       int64_t *cnt)
{
    GAP_DEC_LOCALS
    const int PAIR = pair != NULL;
    int64_t p0 = *pp, i = 0;
    for (; i < R && p0 < pend; i++) { /* p0 < pend <= the stream's end: a safe peek */
        uint64_t w0 = cnn_peek_be(S, p0);
        GAP_DEC(0, w0, i)
    }
    *pp = p0;
    *cnt = i;
    return CNN_OK;
}
#undef GAP_DEC
#undef GAP_DEC_LOCALS

/* One lane: its next entry's bit position and its lane's end, its block and
 * end block, and the sums' state: the row of the last nonzero, the column,
 * the block's end column and the column's sums (b = 1 in a1, b = 8 in a8;
 * other b sum in place in out). */
typedef struct {
    int64_t p, pend, blk, be, row, col, cend;
    gap_vec8 a8;
    REAL a1;
} gap_lane;

CNN_INLINE void gap_open(const gap_ctx *k, gap_lane *L)
{
    L->row = -1;
    L->col = L->blk * k->group;
    L->cend = k->m - L->col < k->group ? k->m : L->col + k->group;
    L->a1 = 0;
    L->a8 = (gap_vec8){0};
}

/* Sum the lane's U decoded entries (see the top of this file); called only
 * while the lane has blocks left.  An END must end at its block's offset,
 * and no entry may follow the lane's last END.  The column's sums live in
 * locals (in memory, each add would wait on the previous store). */
CNN_INLINE int gap_sum(const gap_ctx *k, gap_lane *L, int64_t U, const uint32_t *restrict gap,
                       const REAL *restrict val, const int64_t *restrict endp, const int64_t B)
{
    const int64_t n = k->n;
    const REAL *restrict xt = k->xt;
    REAL *restrict out = k->out;
    int64_t row = L->row, col = L->col, cend = L->cend;
    REAL a1 = L->a1;
    gap_vec8 a8 = L->a8;
    int st = CNN_OK;
#define GAP_FLUSH                                                                  \
    if (B == 1) {                                                                  \
        out[col] = a1;                                                             \
        a1 = 0;                                                                    \
    } else if (B == 8) {                                                           \
        __builtin_memcpy(out + col * 8, &a8, sizeof a8);                           \
        a8 = (gap_vec8){0};                                                        \
    }
    for (int64_t s = 0; s < U; s++) {
        const int64_t d = gap[s];
        if (CNN_UNLIKELY(d == GAP_END)) {
            if (endp[s] != k->blk_bits[L->blk + 1]) return CNN_ERR_CORRUPT;
            GAP_FLUSH
            if (++L->blk == L->be) {
                st = s + 1 == U ? CNN_OK : CNN_ERR_CORRUPT;
                break;
            }
            gap_open(k, L);
            row = -1, col = L->col, cend = L->cend;
            continue;
        }
        row += d + 1;
        while (CNN_UNLIKELY(row >= n)) {
            GAP_FLUSH
            if (++col >= cend) return CNN_ERR_CORRUPT;
            row -= n;
        }
        const REAL v = val[s];
        const REAL *x = xt + row * B;
        if (B == 1) {
            a1 += v * x[0];
        } else if (B == 8) {
            gap_vec8 xv;
            __builtin_memcpy(&xv, x, sizeof xv);
            a8 += v * xv;
        } else {
            REAL *restrict a = out + col * B;
            for (int64_t t = 0; t < B; t++) a[t] += v * x[t];
        }
    }
#undef GAP_FLUSH
    L->row = row, L->col = col, L->a1 = a1, L->a8 = a8;
    return st;
}

CNN_INLINE int gap_span(const gap_ctx *kp, int64_t b0, int64_t b1, const int64_t B)
{
    /* Local copies: stores through out cannot then alias the constants. */
    const cnn_gapc gc = *kp->g;
    gap_ctx kc = *kp;
    kc.g = &gc;
    const gap_ctx *k = &kc;
    const int64_t *bb = k->blk_bits;
    uint32_t gap[GAP_LANES * GAP_SLOTS];
    REAL val[GAP_LANES * GAP_SLOTS];
    int64_t endp[GAP_LANES * GAP_SLOTS];
    gap_lane L[GAP_LANES];
    const int64_t pa = bb[b0], pz = bb[b1];
    for (int64_t j = 0, bs = b0; j < GAP_LANES; j++) {
        const int64_t be = j == GAP_LANES - 1
                         ? b1 : cnn_first_at_least(bb, bs, b1, pa + (pz - pa) * (j + 1) / GAP_LANES);
        L[j].p = bb[bs];
        L[j].pend = bb[be];
        L[j].blk = bs;
        L[j].be = be;
        gap_open(k, &L[j]);
        bs = be;
    }
    int st;
    /* lockstep rounds of K entries while two lanes or more have room for a
     * whole entry (K at most the least room of those); a lane without room
     * decodes the bits of the lane with the most room again, and its entries
     * are dropped, so that the other lanes' lookups still overlap */
    for (;;) {
        int64_t K = GAP_SLOTS, p[GAP_LANES], room[GAP_LANES], most = 0;
        int live = 0;
        for (int j = 0; j < GAP_LANES; j++) {
            room[j] = L[j].blk < L[j].be ? (L[j].pend - L[j].p) / k->maxbits : 0;
            if (room[j] <= 0) continue;
            live++;
            K = room[j] < K ? room[j] : K;
            most = room[j] > room[most] ? j : most;
        }
        if (live < 2) break;
        for (int j = 0; j < GAP_LANES; j++) p[j] = room[j] > 0 ? L[j].p : L[most].p;
        st = k->pair ? gap_decode4_pair(k, p, K, gap, val, endp)
                     : gap_decode4_two(k, p, K, gap, val, endp);
        if (st) return st;
        for (int j = 0; j < GAP_LANES; j++) {
            if (room[j] <= 0) continue;
            L[j].p = p[j];
            const int64_t o = j * GAP_SLOTS;
            if ((st = gap_sum(k, &L[j], K, gap + o, val + o, endp + o, B))) return st;
        }
    }
    /* then each lane alone to its end */
    for (int j = 0; j < GAP_LANES; j++) {
        gap_lane *l = &L[j];
        while (l->blk < l->be) {
            int64_t U;
            if (l->p >= l->pend) return CNN_ERR_CORRUPT; /* blocks left, no bits */
            if ((st = gap_decode1(k, &l->p, l->pend, GAP_SLOTS, gap, val, endp, &U))) return st;
            if ((st = gap_sum(k, l, U, gap, val, endp, B))) return st;
        }
    }
    return CNN_OK;
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
                           const uint8_t *stream, int64_t nstream,
                           const int64_t *blk_bits, int64_t nblk_bits,
                           const uint32_t *gap_len_count, int gap_maxlen,
                           const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                           const uint32_t *len_count, int maxlen,
                           const REAL *values, int64_t nsym,
                           const uint32_t *tab, int64_t ntab,
                           const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (b < 0 || threads < 1 || stream == NULL) return CNN_ERR_ARG;
    if (group >= 1 && n > ((int64_t)1 << 31) / group) return CNN_ERR_ARG; /* see GAP_END */
    uint32_t gtab[1 << CNN_TABLE_BITS], vtab[1 << CNN_TABLE_BITS];
    static const uint32_t no_values[2] = {0, 0};
    uint32_t *fast;
    uint32_t *pair = NULL;
    cnn_gapc g;
    gap_ctx k;
    int st = cnn_gap_setup(n, m, group, words, nwords, wordbits, blk_bits, nblk_bits,
                           gap_len_count, gap_maxlen, gap_syms, ngap, lit,
                           len_count, maxlen, nsym, tab, ntab, &k.bits, &g, gtab, vtab, &fast);
    /* the byte stream holds the words' bits plus 8 bytes of padding */
    if (st == CNN_OK && nstream != 4 * k.bits.nchunks + 8) st = CNN_ERR_ARG;
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
        k.stream = stream;
        /* without values the fast entries are all 0 (slow path), so any
         * value lookup there may read a table of zeros */
        k.vtab = g.val.nsym > 0 ? g.val.table : no_values;
        k.vsh = 64 - (g.val.nsym > 0 ? g.val.tb : 1);
        /* the longest entry: a gap codeword with the most extra bits, then
         * the longest value codeword (cnn_gapc_init bounds the extra bits) */
        k.maxbits = gap_maxlen + cnn_gap_max_extra(gap_syms, ngap, lit) + maxlen + 1;
        k.pair = NULL;
        /* the pair table, for streams of at least 32 bits per window: built
         * here (without tab) it costs about 9 us, what it saves on some 9000
         * nonzeros (on 192 x 1024 with 32 values, paired: 0.86x the time
         * without it at density 0.1, 197 kbit; 1.27x at density 0.01, 20
         * kbit), and taken from tab on shorter streams it still cost 1.10-1.14x
         * at 0.01 */
        if (k.end >= (int64_t)32 << CNN_GAP_TB && nsym > 0) {
            if (tab != NULL) {
                if (tab[CNN_GAP_TAB_PAIR_OK]) k.pair = tab + CNN_GAP_TAB_PAIR;
            } else {
                pair = malloc(sizeof(uint32_t) << CNN_GAP_TB);
                if (!pair) st = CNN_ERR_NOMEM;
                else if (cnn_gap_pair_table(&g, pair)) k.pair = pair;
            }
        }
    }
    if (st == CNN_OK && m > 0 && b > 0) {
        st = cnn_parallel_for(pool, threads, nblk_bits - 1, blk_bits, gap_range, &k);
    }
    free(fast);
    free(pair);
    return st;
}

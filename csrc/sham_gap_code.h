/* sham_gap_code.h: decoding of the sHAM-gap stream (shared by sham_gap.c's
 * product and decoder; not part of the public API).
 *
 * Layout of one block of `group` consecutive columns, read column-major as
 * one sequence of positions p = (col - first col) * n + row:
 *
 *     for each nonzero:  gap codeword [extra bits]  value codeword
 *     then:              END codeword
 *
 * where the gap is p - (previous p) - 1 (the previous p is -1 at the block
 * start), so runs of zeros cross column boundaries for free and no column
 * pointers are stored.  Gap symbols (the gap code's alphabet):
 *
 *     s <  lit            a literal gap s
 *     s == lit            END of the block
 *     s == lit + 1 + j    a long gap lit - 1 + v, v in [2^j, 2^(j+1)), whose
 *                         j low bits follow the codeword raw (j <= 31)
 *
 * Fast path: two dependent lookups.  The gap table, indexed by the next
 * CNN_GAP_TB bits, decodes a whole gap when its codeword fits in the index:
 * a literal, or a class codeword with its extra bits, either folded into the
 * index (up to CNN_GAP_TB bits in all) or, up to CNN_GAP_FAST_BITS, read
 * from the peeked bits after it, as in DEFLATE decoders; then the value
 * code's own table decodes the value.  END, longer codewords and longer
 * gaps take cnn_gap_slow.  (Whether
 * gap and value fit one lookup together is unpredictable for k >= 32, where
 * such entries cost more in branches than the lookup saved; the product looks
 * them up first only where they cover nearly every window: gap_pair_table in
 * sham_gap_kernel.h.)
 *
 * Reading (cnn_gap_next, the reference decoder's): one bit position and a
 * 64-bit peek at it (two 32-bit chunks), so a step has no buffer state and no
 * refill branch.  The fast path does not compare codewords with the end of
 * the stream: past it the peek reads zero bits, and the block's END must land
 * exactly on its end offset.  Rows and value indices stay in range regardless
 * (they come from the tables and the row checks, and every nonzero advances
 * the position in the block), so a corrupt stream can only end in
 * CNN_ERR_CORRUPT.  The product (sham_gap_kernel.h) uses the same tables and
 * cnn_gap_slow, on windows of the byte stream.
 */
#ifndef CNN_SHAM_GAP_CODE_H
#define CNN_SHAM_GAP_CODE_H

#include "internal.h"

#define CNN_GAP_TB 12
#define CNN_GAP_MAX_EXTRA 31
/* Fast entry (uint32): bits 0-4 the bits consumed, codeword and extra bits
 * (0: slow path), bits 5-8 the extra bits not folded into the index (those
 * last of the consumed bits), bits 9-31 the gap with them zero.  A fast gap
 * takes at most CNN_GAP_FAST_BITS bits: with a value codeword on its table,
 * two entries fit one 64-bit window of the byte stream (57 stream bits) and
 * one entry the 33 bits of cnn_gap_peek.  On 512 x 4096 at density 0.01,
 * 4.2% of the gaps have more than CNN_GAP_TB bits and 0.26% more than 16
 * (uniform), 9.1% and 1.2% (skewed).  Measured against CNN_GAP_TB as the
 * limit (the product, 1 thread, paired medians, b = 1 and 8): 0.88-0.93x
 * the time there (uniform) and 0.75x (skewed); 0.93-0.96x and 0.88-0.89x
 * on 4096 x 4096 at 0.01; 0.90-0.96x on the skewed 512 x 4096 at 0.1;
 * 0.95-1.05x elsewhere, 192 x 1024 included.  The extra bits are added
 * behind a branch: without it (a mask of zero bits for the other gaps)
 * 0.69-0.89x at density 0.01 but 1.06-1.18x on 192 x 1024 at 0.1 with 2
 * and 3 values. */
#define CNN_GAP_FAST_BITS 16
#define CNN_GAP_GAPMAX ((1u << 23) - 1u)
/* Fields of a fast entry (layout above). */
#define CNN_GAP_ENTRY(bits, extra, base) \
    ((uint32_t)(bits) | (uint32_t)(extra) << 5 | (uint32_t)(base) << 9)
#define CNN_GAP_E_BITS(e) ((int)((e) & 31u))
#define CNN_GAP_E_EXTRA(e) (((e) >> 5) & 15u)
#define CNN_GAP_E_BASE(e) ((e) >> 9)
_Static_assert(2 * (CNN_GAP_FAST_BITS + CNN_TABLE_BITS) <= 57, "two fast entries fit one window");

#if defined(__GNUC__)
#define CNN_GAP_NOINLINE static __attribute__((noinline))
#else
#define CNN_GAP_NOINLINE static
#endif

typedef struct {
    cnn_huff gap, val;
    const uint32_t *gap_syms; /* gap symbol of each canonical index of the gap code */
    int64_t lit;
    const uint32_t *fast;     /* 1 << CNN_GAP_TB entries */
} cnn_gapc;

/* Validate both codes and build the tables; gtab and vtab are caller storage
 * of 1 << CNN_TABLE_BITS entries, fast of 1 << CNN_GAP_TB. */
int cnn_gapc_init(cnn_gapc *g, const uint32_t *gap_len_count, int gap_maxlen,
                  const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                  const uint32_t *len_count, int maxlen, int64_t nsym,
                  uint32_t *gtab, uint32_t *vtab, uint32_t *fast);

/* The most extra bits a gap symbol carries (0 with none): an entry of the
 * stream takes at most gap_maxlen + this + the value code's maxlen bits. */
CNN_INLINE int64_t cnn_gap_max_extra(const uint32_t *gap_syms, int64_t ngap, int64_t lit)
{
    int64_t extra = 0;
    for (int64_t i = 0; i < ngap; i++) {
        const int64_t j = (int64_t)gap_syms[i] - lit - 1;
        extra = j > extra ? j : extra;
    }
    return extra;
}

/* The pair table of the product (pair: 1 << CNN_GAP_TB entries; see
 * sham_gap_kernel.h for its layout and rule); returns whether it is taken. */
int cnn_gap_pair_table(const cnn_gapc *g, uint32_t *pair);

/* The tables of one code, built once by cnn_sham_gap_tables for the
 * products (CNN_GAP_TABLES words): a header (what they were built for, and
 * whether the pair table is taken), then the gap code's table, the value
 * code's (1 << CNN_TABLE_BITS entries each), the fast gap table and the
 * pair table (1 << CNN_GAP_TB each). */
enum {
    CNN_GAP_TAB_HEAD = 8,
    CNN_GAP_TAB_PAIR_OK = 7,
    CNN_GAP_TAB_PAD = 264, /* words between tables, so that they do not share cache sets */
    CNN_GAP_TAB_GAP = CNN_GAP_TAB_HEAD,
    CNN_GAP_TAB_VAL = CNN_GAP_TAB_GAP + (1 << CNN_TABLE_BITS) + CNN_GAP_TAB_PAD,
    CNN_GAP_TAB_FAST = CNN_GAP_TAB_VAL + (1 << CNN_TABLE_BITS) + CNN_GAP_TAB_PAD,
    CNN_GAP_TAB_PAIR = CNN_GAP_TAB_FAST + (1 << CNN_GAP_TB) + CNN_GAP_TAB_PAD,
    CNN_GAP_TAB_WORDS = CNN_GAP_TAB_PAIR + (1 << CNN_GAP_TB)
};
_Static_assert((int)CNN_GAP_TAB_WORDS == (int)CNN_SHAM_GAP_TABLES, "the table size of compactnn.h");

/* Checks shared by the decoder and the products: the sizes, the stream and
 * its block offsets, both codes; sets up the stream reader and the tables:
 * those of tab[ntab] when given (cnn_sham_gap_tables; CNN_ERR_ARG when they
 * do not fit the codes), else gtab, vtab and *fast (allocated here, 1 <<
 * CNN_GAP_TB entries: the caller frees it, also after an error; NULL with
 * tab). */
int cnn_gap_setup(int64_t n, int64_t m, int64_t group, const void *words, int64_t nwords,
                  int wordbits, const int64_t *blk_bits, int64_t nblk_bits,
                  const uint32_t *gap_len_count, int gap_maxlen, const uint32_t *gap_syms,
                  int64_t ngap, int64_t lit, const uint32_t *len_count, int maxlen, int64_t nsym,
                  const uint32_t *tab, int64_t ntab,
                  cnn_bits *bits, cnn_gapc *g, uint32_t *gtab, uint32_t *vtab, uint32_t **fast);

/* The 64 bits from stream position p on, MSB-aligned (at least 33 of them
 * stream bits).  Below `safe` = 32 * (nchunks - 1) both chunks exist, so the
 * common case needs no clamping; past it, cnn_bits_peek reads zeros. */
CNN_INLINE uint64_t cnn_gap_peek(const cnn_bits *s, int64_t p, int64_t safe)
{
    if (CNN_LIKELY(p < safe)) {
        const int64_t j = p >> 5;
        const uint64_t hi = s->w[j ^ s->swap], lo = s->w[(j + 1) ^ s->swap];
        return ((hi << 32) | lo) << (p & 31);
    }
    return cnn_bits_peek(s, p);
}

/* The gap of fast entry e (nonzero) at the top of the window v. */
CNN_INLINE uint32_t cnn_gap_fast_gap(uint32_t e, uint64_t v)
{
    uint32_t gap = CNN_GAP_E_BASE(e);
    if (CNN_UNLIKELY(CNN_GAP_E_EXTRA(e)))
        gap += (uint32_t)(v >> (64 - CNN_GAP_E_BITS(e))) & ((1u << CNN_GAP_E_EXTRA(e)) - 1u);
    return gap;
}

/* Result of decoding one nonzero: the new bit position, the gap (-1 for
 * END), the value's canonical index and a status.  Returned by value so that
 * the callers' positions never have their address taken (they stay in
 * registers on the fast path). */
typedef struct {
    int64_t pos, gap;
    uint32_t vs;
    int st;
} cnn_gap_res;

/* A whole nonzero (or END) from position p, one codeword at a time, each
 * checked against the end of the stream `end`. */
CNN_GAP_NOINLINE cnn_gap_res cnn_gap_slow(const cnn_gapc *g, const cnn_bits *s, int64_t p,
                                          int64_t end)
{
    cnn_gap_res r = {p, 0, 0, CNN_ERR_CORRUPT};
    uint32_t idx;
    if (CNN_UNLIKELY(g->gap.nsym == 0)) return r;
    if ((r.st = cnn_huff_at(&g->gap, s, &r.pos, end, &idx))) return r;
    int64_t sym = g->gap_syms[idx];
    if (sym >= g->lit) {
        if (sym == g->lit) {
            r.gap = -1;
            return r;
        }
        const int j = (int)(sym - g->lit - 1); /* <= CNN_GAP_MAX_EXTRA, checked at init */
        if (CNN_UNLIKELY(j > end - r.pos)) {
            r.st = CNN_ERR_CORRUPT;
            return r;
        }
        const int64_t extra = j ? (int64_t)(cnn_bits_peek(s, r.pos) >> (64 - j)) : 0;
        r.pos += j;
        sym = g->lit - 1 + (((int64_t)1 << j) | extra);
    }
    r.gap = sym;
    r.st = g->val.nsym == 0 ? CNN_ERR_CORRUPT : cnn_huff_at(&g->val, s, &r.pos, end, &r.vs);
    return r;
}

/* The value codeword alone, when it is longer than the value table. */
CNN_GAP_NOINLINE cnn_gap_res cnn_gap_slow_value(const cnn_gapc *g, const cnn_bits *s,
                                                int64_t p, int64_t end, int64_t gap)
{
    cnn_gap_res r = {p, gap, 0, CNN_OK};
    r.st = cnn_huff_at(&g->val, s, &r.pos, end, &r.vs);
    return r;
}

/* Next nonzero of a block from position p (see cnn_gap_res).  `safe` as in
 * cnn_gap_peek; `end` = 32 * nchunks. */
CNN_INLINE cnn_gap_res cnn_gap_next(const cnn_gapc *g, const cnn_bits *s, int64_t p,
                                    int64_t safe, int64_t end)
{
    uint64_t v = cnn_gap_peek(s, p, safe);
    const uint32_t e = g->fast[v >> (64 - CNN_GAP_TB)];
    if (CNN_UNLIKELY(e == 0)) return cnn_gap_slow(g, s, p, end);
    const int lg = CNN_GAP_E_BITS(e);
    cnn_gap_res r = {p + lg, (int64_t)cnn_gap_fast_gap(e, v), 0, CNN_OK};
    const uint32_t ve = g->val.table[(v << lg) >> (64 - g->val.tb)];
    if (CNN_UNLIKELY(ve == 0)) return cnn_gap_slow_value(g, s, r.pos, end, r.gap);
    r.pos += CNN_E_BITS(ve);
    r.vs = CNN_E_SYM(ve);
    return r;
}

#endif

/* internal.h: helpers shared by the kernels (not part of the public API). */
#ifndef COMPACTNN_INTERNAL_H
#define COMPACTNN_INTERNAL_H

#include "compactnn.h"

#if defined(__GNUC__)
#define CNN_LIKELY(x) __builtin_expect(!!(x), 1)
#define CNN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CNN_INLINE static inline __attribute__((always_inline))
#else
#define CNN_LIKELY(x) (x)
#define CNN_UNLIKELY(x) (x)
#define CNN_INLINE static inline
#endif

/* ---- bit reader --------------------------------------------------------
 * The stream is read as 32-bit chunks in stream order (for 64-bit words the
 * high half comes first).  `buf` holds the next `cnt` bits MSB-aligned; refill
 * keeps cnt > 32 while chunks remain, so a peek of up to 32 bits is valid
 * whenever cnt allows it, and bits past the end of the stream read as 0.
 */
typedef struct {
    const uint32_t *w32;
    const uint64_t *w64;
    int64_t nchunks;
    int64_t next;
    uint64_t buf;
    int cnt;
} cnn_br;

CNN_INLINE uint32_t cnn_br_chunk(const cnn_br *r, int64_t j)
{
    if (r->w32) return r->w32[j];
    uint64_t w = r->w64[j >> 1];
    return (j & 1) ? (uint32_t)w : (uint32_t)(w >> 32);
}

/* Add one chunk; callers refill whenever cnt <= 32, and no codeword is longer
 * than 32 bits, so one chunk always restores cnt > 32 (or reaches the end). */
CNN_INLINE void cnn_br_refill(cnn_br *r)
{
    if (CNN_LIKELY(r->next < r->nchunks)) {
        r->buf |= (uint64_t)cnn_br_chunk(r, r->next++) << (32 - r->cnt);
        r->cnt += 32;
    }
}

/* Position the reader at bit `pos`; the caller guarantees pos <= 32*nchunks. */
CNN_INLINE void cnn_br_seek(cnn_br *r, int64_t pos)
{
    r->next = pos >> 5;
    r->buf = 0;
    r->cnt = 0;
    cnn_br_refill(r);
    cnn_br_refill(r);
    int skip = (int)(pos & 31);
    r->buf <<= skip;
    r->cnt -= skip;
}

CNN_INLINE void cnn_br_skip(cnn_br *r, int nbits)
{
    r->buf = nbits >= 64 ? 0 : r->buf << nbits;
    r->cnt -= nbits;
}

/* Set up a reader over `words`; returns CNN_ERR_ARG for a bad word size. */
int cnn_br_init(cnn_br *r, const void *words, int64_t nwords, int wordbits);

/* ---- positional bit access ------------------------------------------------
 * The faster alternative to cnn_br used by the product kernels: no buffer
 * state, so no refill branch.  cnn_bits_peek(s, p) returns the 64 bits from
 * stream position p on, MSB-aligned, of which at least 33 are stream bits
 * (bits past the end read as 0).  For 64-bit words the 32-bit halves are
 * swapped in memory on little-endian machines, which `swap` undoes.
 */
typedef struct {
    const uint32_t *w;
    int64_t nchunks;   /* 32-bit chunks */
    int64_t swap;      /* 1: 64-bit words on a little-endian machine */
} cnn_bits;

int cnn_bits_init(cnn_bits *s, const void *words, int64_t nwords, int wordbits);

CNN_INLINE uint64_t cnn_bits_peek(const cnn_bits *s, int64_t p)
{
    const int64_t j = p >> 5, last = s->nchunks - 1;
    const int64_t j0 = j < last ? j : last, j1 = j + 1 < last ? j + 1 : last;
    const uint64_t hi = j <= last ? s->w[j0 ^ s->swap] : 0;
    const uint64_t lo = j + 1 <= last ? s->w[j1 ^ s->swap] : 0;
    return ((hi << 32) | lo) << (p & 31);
}

/* ---- lane reader ------------------------------------------------------------
 * The product kernels' reader: the buffer state lives in locals of the
 * caller (one per interleaved column), refilled one chunk at a time without
 * a branch, so that the unpredictable "buffer low" test costs no
 * misprediction.  Invariant after cnn_lane_refill: cnt > 32, or the stream
 * is exhausted (and the bits past its end read as 0).
 */
typedef struct {
    uint64_t buf;
    int64_t cnt;
    int64_t next;
} cnn_lane;

CNN_INLINE void cnn_lane_refill(const cnn_bits *s, cnn_lane *l)
{
    const int64_t need = l->cnt <= 32;
    const int64_t ok = need & (l->next < s->nchunks);
    const int64_t j = ok ? l->next : 0;
    const uint64_t ch = ok ? (uint64_t)s->w[j ^ s->swap] : 0;
    l->buf |= (ch << ((32 - l->cnt) & 63)) & (0 - (uint64_t)ok);
    l->cnt += ok << 5;
    l->next += ok;
}

CNN_INLINE void cnn_lane_seek(const cnn_bits *s, cnn_lane *l, int64_t pos)
{
    l->next = pos >> 5;
    l->buf = 0;
    l->cnt = 0;
    cnn_lane_refill(s, l);
    cnn_lane_refill(s, l);
    const int skip = (int)(pos & 31);
    l->buf <<= skip;
    l->cnt -= skip;
}

CNN_INLINE int64_t cnn_lane_pos(const cnn_lane *l) { return 32 * l->next - l->cnt; }

/* ---- byte streams -------------------------------------------------------------
 * The fastest reader: the stream as bytes in stream order (most significant
 * bit first) followed by at least 8 bytes of padding, so that the 64 bits at
 * any position p <= 8 * (length - 8) come from one unaligned load, with at
 * least 57 of them stream bits.  The only state is the bit position.
 */
CNN_INLINE uint64_t cnn_load_be(const uint8_t *s)
{
    uint64_t x;
    __builtin_memcpy(&x, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

CNN_INLINE uint64_t cnn_peek_be(const uint8_t *s, int64_t p)
{
    return cnn_load_be(s + (p >> 3)) << (p & 7);
}

/* The len bits of x from bit s on (bit 0 the least significant), for the
 * control word ctl = s | len << 8, 0 <= s, 1 <= len, s + len <= 64: one
 * instruction (bextr) where the machine has BMI, a shift and a mask
 * otherwise.  The core runs two shifts a cycle, so where indices are cut
 * out of a window at known offsets this takes half the shifts. */
CNN_INLINE uint64_t cnn_bits_at(uint64_t x, uint32_t ctl)
{
#if defined(__BMI__)
    return __builtin_ia32_bextr_u64(x, ctl);
#else
    return (x >> (ctl & 255u)) & (((uint64_t)2 << ((ctl >> 8) - 1)) - 1);
#endif
}

/* ---- canonical Huffman decoding --------------------------------------------
 * Table entry (uint32): bits 0-4 number of bits consumed (0 = take the slow
 * path), bits 5-9 a run of zero-symbol codewords decoded first, bit 10 set
 * when one more (non-zero) symbol follows the run, bits 11-31 that symbol.
 */
#define CNN_E_BITS(e) ((int)((e) & 31u))
#define CNN_E_RUN(e) ((int)(((e) >> 5) & 31u))
#define CNN_E_HAS(e) ((int)(((e) >> 10) & 1u))
#define CNN_E_SYM(e) ((e) >> 11)

typedef struct {
    int maxlen;
    int tb;               /* table width in bits, 0 if no table */
    int len0;             /* codeword length of zero_sym (0 if none) */
    int64_t nsym;
    int64_t zero_sym;
    uint64_t first[CNN_MAX_CODE_LEN + 1];  /* first codeword of each length */
    uint64_t count[CNN_MAX_CODE_LEN + 1];
    uint64_t offset[CNN_MAX_CODE_LEN + 1]; /* canonical index of that codeword */
    const uint32_t *table;                 /* 1 << tb entries */
} cnn_huff;

/* Validate the code description and fill `table` (1 << CNN_TABLE_BITS
 * entries, caller storage) and `scratch` (same size).  A NULL `table` (only
 * with zero_sym < 0) validates the code and fills no table (h->tb = 0), for
 * kernels that build a table of their own (the sHAM batch-8 split table).
 * With zero_sym >= 0 the table also decodes runs of that symbol (used by HAM,
 * where zero dominates). */
int cnn_huff_init(cnn_huff *h, const uint32_t *len_count, int maxlen, int64_t nsym,
                  int64_t zero_sym, uint32_t *table, uint32_t *scratch);

/* The code part of cnn_huff_init alone: validate the code description and
 * set everything but the table (h->table NULL; h->tb and h->len0 as
 * cnn_huff_init with a table sets them), for kernels whose table was built
 * before, by cnn_huff_init. */
int cnn_huff_code(cnn_huff *h, const uint32_t *len_count, int maxlen, int64_t nsym,
                  int64_t zero_sym);

/* Whether every entry of a table t of 1 << tb entries (cnn_huff_init's
 * layout, tables built before and passed in) takes 1 to tb bits and names a
 * symbol below nsym, or is 0; branch-free, so that the loop vectorises
 * ((x - 1) >= top is x == 0 or x > top). */
CNN_INLINE int cnn_huff_table_fits(const uint32_t *t, int tb, int64_t nsym)
{
    const uint32_t top = (uint32_t)tb, ns = (uint32_t)(nsym < 0x200000 ? nsym : 0x200000);
    uint32_t bad = 0;
    for (int64_t i = 0; i < ((int64_t)1 << tb); i++) {
        const uint32_t e = t[i];
        bad |= (e != 0) & ((((e & 31u) - 1u) >= top) | ((e >> 11) >= ns));
    }
    return !bad;
}

/* Decode one symbol bit by bit over the code lengths (long codes, rare symbols). */
CNN_INLINE int cnn_huff_slow(const cnn_huff *h, const cnn_br *r, uint32_t *sym, int *len)
{
    for (int l = 1; l <= h->maxlen; l++) {
        uint64_t d = (r->buf >> (64 - l)) - h->first[l];
        if (d < h->count[l]) {
            if (l > r->cnt) return CNN_ERR_CORRUPT;
            *sym = (uint32_t)(h->offset[l] + d);
            *len = l;
            return CNN_OK;
        }
    }
    return CNN_ERR_CORRUPT;
}

/* Slow path on a peeked 64-bit window with `avail` valid bits. */
CNN_INLINE int cnn_huff_slow_v(const cnn_huff *h, uint64_t v, int64_t avail, uint32_t *sym, int *len)
{
    for (int l = 1; l <= h->maxlen; l++) {
        uint64_t d = (v >> (64 - l)) - h->first[l];
        if (d < h->count[l]) {
            if (l > avail) return CNN_ERR_CORRUPT;
            *sym = (uint32_t)(h->offset[l] + d);
            *len = l;
            return CNN_OK;
        }
    }
    return CNN_ERR_CORRUPT;
}

/* The batch-8 kernels index their decode table with the top CNN_TABLE_BITS
 * bits of a 64-bit window (cnn_peek_be): a constant shift. */
#define CNN_WIN_SHIFT (64 - CNN_TABLE_BITS)

/* The slow path returning by value, so that the hot loops keep no locals in
 * memory: the symbol and the codeword length of the window v (at least 57
 * valid bits), len 0 when no codeword matches. */
typedef struct {
    uint32_t sym;
    int32_t len;
} cnn_dec;

CNN_INLINE cnn_dec cnn_huff_slow_dec(const cnn_huff *h, uint64_t v)
{
    for (int l = 1; l <= h->maxlen; l++) {
        const uint64_t d = (v >> (64 - l)) - h->first[l];
        if (d < h->count[l]) return (cnn_dec){(uint32_t)(h->offset[l] + d), l};
    }
    return (cnn_dec){0, 0};
}

/* Decode one symbol at position *p (no zero runs), not past bit `end`. */
CNN_INLINE int cnn_huff_at(const cnn_huff *h, const cnn_bits *s, int64_t *p, int64_t end, uint32_t *sym)
{
    const uint64_t v = cnn_bits_peek(s, *p);
    const uint32_t e = h->table[v >> (64 - h->tb)];
    int len;
    if (CNN_LIKELY(e)) {
        len = CNN_E_BITS(e);
        *sym = CNN_E_SYM(e);
    } else {
        int st = cnn_huff_slow_v(h, v, end - *p, sym, &len);
        if (st) return st;
    }
    *p += len;
    return CNN_LIKELY(*p <= end) ? CNN_OK : CNN_ERR_CORRUPT;
}

/* Decode one symbol (no zero runs). */
CNN_INLINE int cnn_huff_next(const cnn_huff *h, cnn_br *r, uint32_t *sym)
{
    if (r->cnt <= 32) cnn_br_refill(r);
    uint32_t e = h->table[r->buf >> (64 - h->tb)];
    int len;
    if (CNN_LIKELY(e)) { /* tables built without zero runs: one symbol per entry */
        len = CNN_E_BITS(e);
        *sym = CNN_E_SYM(e);
        if (CNN_UNLIKELY(len > r->cnt)) return CNN_ERR_CORRUPT;
    } else {
        int st = cnn_huff_slow(h, r, sym, &len);
        if (st) return st;
    }
    cnn_br_skip(r, len);
    return CNN_OK;
}

/* ---- threads ----------------------------------------------------------------
 * Split columns [0, m) into `threads` contiguous ranges of about equal work
 * (cum[m+1]: cumulative work per column, or NULL for equal columns) and run
 * fn(ctx, c0, c1) on each, the first range on the calling thread, the others
 * on the pool's workers when it is free and large enough, else on threads
 * started for the call; returns the first non-OK status. */
typedef int (*cnn_range_fn)(void *ctx, int64_t c0, int64_t c1);
int cnn_parallel_for(cnn_pool *pool, int threads, int64_t m, const int64_t *cum, cnn_range_fn fn,
                     void *ctx);

/* The first i in [lo, hi) with a[i] >= v (hi if none); a nondecreasing
 * (the kernels' lane cuts and the thread split, by binary search). */
static inline int64_t cnn_first_at_least(const int64_t *a, int64_t lo, int64_t hi, int64_t v)
{
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Validate a column-offset array: non-decreasing, within [0, total_bits]. */
int cnn_check_offsets(const int64_t *off, int64_t len, int64_t total_bits);

#endif

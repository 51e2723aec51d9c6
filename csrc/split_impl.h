/* split_impl.h: the split decode table of the batch-8 kernels and the
 * window decoder that reads it, a template fragment included by ham_impl.h
 * and sham_impl.h (REAL and SFX as there).
 *
 * For every CNN_TABLE_BITS-bit window (the top bits of cnn_peek_be), tl holds
 * the length of the codeword the window starts with (0 when that codeword is
 * longer than the table: the slow path) and tv the value the codeword stands
 * for, so that decoding a codeword costs two loads from one index and no
 * symbol indirection.  tl: 1 << CNN_TABLE_BITS bytes; tv: as many REALs;
 * values: h->nsym entries; cost 1 << CNN_TABLE_BITS stores into each.
 */
static void SFX(cnn_split_table)(const cnn_huff *h, const REAL *values, uint8_t *tl, REAL *tv)
{
    enum { W = CNN_TABLE_BITS };
    __builtin_memset(tl, 0, (size_t)1 << W);
    for (int i = 0; i < (1 << W); i++) tv[i] = 0;
    for (int l = 1; l <= h->maxlen && l <= W; l++) {
        for (uint64_t d = 0; d < h->count[l]; d++) {
            const REAL v = values[h->offset[l] + d];
            const uint64_t lo = (h->first[l] + d) << (W - l), hi = (h->first[l] + d + 1) << (W - l);
            for (uint64_t i = lo; i < hi; i++) {
                tl[i] = (uint8_t)l;
                tv[i] = v;
            }
        }
    }
}

#ifndef CNN_WIN_DEC
/* One codeword at the top of the window WIN (cnn_peek_be of stream S at bit
 * P): its length into L and its value into VAL, and WIN shifted past it.  A
 * codeword longer than the table takes the slow path, which reloads WIN from
 * the stream after it, so that WIN always holds at least 57 - 3 * 12 bits
 * for the next three table lookups; no codeword at all returns
 * CNN_ERR_CORRUPT from the enclosing function.  Symbol ZERO (-1: none) has
 * value 0 on the slow path whatever V says (HAM's zero symbol; on the table
 * its value is 0 wherever the kernels use it).  Uses h (the code), TL, TV
 * (the split table) and V (the values) of the enclosing scope. */
#define CNN_WIN_DEC(WIN, S, P, L, VAL, ZERO)                                  \
    do {                                                                      \
        const uint64_t ix_ = (WIN) >> CNN_WIN_SHIFT;                          \
        (L) = TL[ix_];                                                        \
        (VAL) = TV[ix_];                                                      \
        if (CNN_LIKELY(L)) {                                                  \
            (WIN) <<= (L);                                                    \
        } else {                                                              \
            const cnn_dec d_ = cnn_huff_slow_dec(h, cnn_peek_be((S), (P)));   \
            if (!d_.len) return CNN_ERR_CORRUPT;                              \
            (VAL) = (int64_t)d_.sym == (ZERO) ? 0 : V[d_.sym];                \
            (L) = d_.len;                                                     \
            (WIN) = cnn_peek_be((S), (P) + (L));                              \
        }                                                                     \
    } while (0)

/* The stream a few hundred bytes past bit P, prefetched: the lanes read
 * several places of it at once, which the hardware prefetcher follows
 * poorly.  (A prefetch never faults, so the address may lie past the
 * stream's end.) */
#define CNN_WIN_PREFETCH(S, P) __builtin_prefetch((const void *)((uintptr_t)(S) + (uint64_t)((P) >> 3) + 384))
#endif

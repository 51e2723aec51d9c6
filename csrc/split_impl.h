/* split_impl.h: the split decode table of the batch-8 kernels, a template
 * fragment included by ham_impl.h and sham_impl.h (REAL and SFX as there).
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

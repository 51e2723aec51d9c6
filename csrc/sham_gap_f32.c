/* sham_gap_f32.c: X @ W for sHAM with entropy-coded positions (sHAM-gap), float32. */
#define REAL float
#include "sham_gap_kernel.h"

int cnn_sham_gap_matmat_f32(int64_t n, int64_t m, int64_t group,
                            const void *words, int64_t nwords, int wordbits,
                            const uint8_t *stream, int64_t nstream,
                            const int64_t *blk_bits, int64_t nblk_bits,
                            const uint32_t *gap_len_count, int gap_maxlen,
                            const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                            const uint32_t *len_count, int maxlen,
                            const float *values, int64_t nsym,
                            const uint32_t *tab, int64_t ntab,
                            const float *xt, int64_t b, float *out, int threads, cnn_pool *pool)
{
    return sham_gap_matmat(n, m, group, words, nwords, wordbits, stream, nstream, blk_bits, nblk_bits,
                           gap_len_count, gap_maxlen, gap_syms, ngap, lit, len_count, maxlen,
                           values, nsym, tab, ntab, xt, b, out, threads, pool);
}

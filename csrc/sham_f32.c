/* sham_f32.c: X @ W for the sparse Huffman Address Map (sHAM), float32. */
#define REAL float
#include "sham_kernel.h"

int cnn_sham_matmat_f32(int64_t n, int64_t m,
                        const void *words, int64_t nwords, int wordbits,
                        const uint8_t *stream, int64_t nstream,
                        const int64_t *col_bits, int64_t ncol_bits,
                        const uint32_t *len_count, int maxlen,
                        const float *values, int64_t nsym,
                        const void *ri, int ri_bytes, int64_t q,
                        const int64_t *cb, int64_t ncb, int verified,
                        const float *xt, int64_t b, float *out, int threads, cnn_pool *pool)
{
    return sham_matmat(n, m, words, nwords, wordbits, stream, nstream, col_bits, ncol_bits,
                       len_count, maxlen, values, nsym, ri, ri_bytes, q, cb, ncb, verified, xt, b, out,
                       threads, pool);
}

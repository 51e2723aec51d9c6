/* im_f64.c: X @ W for the index map (IM), float64. */
#define REAL double
#include "im_kernel.h"

int cnn_im_matmat_f64(int64_t n, int64_t m,
                      const void *words, int64_t nwords, int wordbits, int width,
                      const uint8_t *stream, int64_t nstream,
                      const double *values, int64_t nsym, int64_t zero_sym,
                      const double *xt, int64_t b, double *out, int threads, cnn_pool *pool)
{
    return im_matmat(n, m, words, nwords, wordbits, width, stream, nstream, values, nsym,
                     zero_sym, xt, b, out, threads, pool);
}

/* ham_f64.c: X @ W for the Huffman Address Map (HAM), float64. */
#define REAL double
#include "ham_kernel.h"

int cnn_ham_matmat_f64(int64_t n, int64_t m,
                       const void *words, int64_t nwords, int wordbits,
                       const uint8_t *stream, int64_t nstream,
                       const int64_t *col_bits, int64_t ncol_bits,
                       const uint32_t *len_count, int maxlen,
                       const double *values, int64_t nsym, int64_t zero_sym,
                       const uint32_t *tab, int64_t ntab,
                       const double *xt, int64_t b, double *out, int threads, cnn_pool *pool)
{
    return ham_matmat(n, m, words, nwords, wordbits, stream, nstream, col_bits, ncol_bits,
                      len_count, maxlen, values, nsym, zero_sym, tab, ntab, xt, b, out, threads,
                      pool);
}

int cnn_ham_tables_f64(const uint32_t *len_count, int maxlen, const double *values, int64_t nsym,
                       int64_t zero_sym, uint32_t *tab, int64_t ntab)
{
    return ham_tables(len_count, maxlen, values, nsym, zero_sym, tab, ntab);
}

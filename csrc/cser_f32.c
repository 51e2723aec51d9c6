/* cser_f32.c: X @ W for CER and CSER (Wiedemann et al., TNNLS 2020), float32. */
#define REAL float
#include "cser_kernel.h"

int cnn_cer_matmat_f32(int64_t n, int64_t m, const float *values, int64_t nsym,
                       const void *ci, int ci_bytes, int64_t q,
                       const void *gp, int gp_bytes, int64_t ngp,
                       const void *rp, int rp_bytes, int64_t nrp,
                       const float *xt, int64_t b, float *out, int threads, cnn_pool *pool)
{
    return cser_run(n, m, values, nsym, ci, ci_bytes, q, gp, gp_bytes, ngp, rp, rp_bytes, nrp,
                    NULL, 1, 0, xt, b, out, threads, pool);
}

int cnn_cser_matmat_f32(int64_t n, int64_t m, const float *values, int64_t nsym,
                        const void *ci, int ci_bytes, int64_t q,
                        const void *gp, int gp_bytes, int64_t ngp,
                        const void *rp, int rp_bytes, int64_t nrp,
                        const void *vi, int vi_bytes, int64_t nvi,
                        const float *xt, int64_t b, float *out, int threads, cnn_pool *pool)
{
    if (!vi) return CNN_ERR_ARG;
    return cser_run(n, m, values, nsym, ci, ci_bytes, q, gp, gp_bytes, ngp, rp, rp_bytes, nrp,
                    vi, vi_bytes, nvi, xt, b, out, threads, pool);
}

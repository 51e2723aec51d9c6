/* cser_kernel.h: the CER and CSER products out = X @ W for one value type REAL.
 * Included by cser_f32.c (REAL = float) and cser_f64.c (double), which write
 * the public functions out by name; the helpers are static, so each file has
 * its own copy under the same names.
 *
 * Output c owns the groups rp[c] .. rp[c+1]-1; group g lists the inputs
 * ci[gp[g] .. gp[g+1]-1], which all hold the value values[v(g)], where
 * v(g) = 1 + (g - rp[c]) for CER and v(g) = vi[g] for CSER.  values[0] is the
 * implicit value of every position no group lists.  Per group the inputs are
 * summed first and the sum multiplied once, in double for both REAL types (a
 * float group of inputs near 1e38 would overflow a float sum although the
 * product is representable; the output is rounded to REAL once); with a nonzero implicit value the
 * row also sums the inputs it does not list (O(n) more per row) and adds
 * values[0] times that sum.
 *
 * The row pointers are validated up front (O(m)); the group pointers and
 * CSER's value indices as each row reads them, so that the O(groups) checks
 * run on the threads (up front, they held the speedup of 2 threads to
 * 1.3x on 4096 x 4096 with 256 values at density 0.01, where a row has
 * about as many groups as entries); each input index is checked against n
 * as it is read.
 */
#include <stdlib.h>

#include "real.h"

/* Element i of an unsigned array of `bytes` = 1, 2, 4 or 8 bytes; a uint64
 * above INT64_MAX reads as -1 so that every range check rejects it. */
CNN_INLINE int64_t cnn_uint_at(const void *a, int64_t i, const int bytes)
{
    switch (bytes) {
    case 1: return ((const uint8_t *)a)[i];
    case 2: return ((const uint16_t *)a)[i];
    case 4: return ((const uint32_t *)a)[i];
    default: {
        uint64_t v = ((const uint64_t *)a)[i];
        return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
    }
    }
}

static int cnn_width_ok(int bytes)
{
    return bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8;
}

/* ptr[0 .. len-1] starts at 0, never decreases and ends at `end`. */
static int cnn_check_ptr(const void *ptr, int bytes, int64_t len, int64_t end)
{
    if (len < 1 || cnn_uint_at(ptr, 0, bytes) != 0) return CNN_ERR_CORRUPT;
    int64_t prev = 0;
    for (int64_t i = 1; i < len; i++) {
        int64_t v = cnn_uint_at(ptr, i, bytes);
        if (v < prev) return CNN_ERR_CORRUPT;
        prev = v;
    }
    return prev == end ? CNN_OK : CNN_ERR_CORRUPT;
}

/* Batch columns handled per pass over a row's indices (accumulators in locals). */
#define CNN_CSER_W 8

typedef struct {
    int64_t n, b, nsym, q;
    const REAL *values;
    const void *ci, *gp, *rp, *vi; /* vi == NULL for CER */
    int ci_bytes, gp_bytes, rp_bytes, vi_bytes;
    const REAL *xt;
    REAL *out;
} cser_ctx;

/* Row c, batch columns t0 .. t0+W-1 of a batch of S (W <= CNN_CSER_W).
 * IMP: values[0] is nonzero; `mark` (n bytes, all zero on entry and on
 * return) flags the listed inputs so that the others can be summed directly,
 * which keeps the error within that of the plain sum (subtracting the listed
 * ones from the total would cancel). */
CNN_INLINE int cser_row(const cser_ctx *k, int64_t c, int64_t t0, const int W,
                        const int64_t S, const int CB, const int IMP,
                        unsigned char *restrict mark)
{
    const REAL *restrict xt = k->xt + t0;
    const REAL *restrict values = k->values;
    const void *ci = k->ci;
    const int64_t n = k->n;
    const uint64_t un = (uint64_t)n;
    double acc[CNN_CSER_W], s[CNN_CSER_W]; /* double: float groups near FLT_MAX must not overflow */
    for (int t = 0; t < W; t++) acc[t] = 0;
    const int64_t g0 = cnn_uint_at(k->rp, c, k->rp_bytes);
    const int64_t g1 = cnn_uint_at(k->rp, c + 1, k->rp_bytes);
    const int64_t e0 = cnn_uint_at(k->gp, g0, k->gp_bytes);
    int64_t e = e0;
    if (CNN_UNLIKELY(e0 < 0 || e0 > k->q)) return CNN_ERR_CORRUPT;
    for (int64_t g = g0; g < g1; g++) {
        const int64_t e1 = cnn_uint_at(k->gp, g + 1, k->gp_bytes);
        /* the group's entries within [e, q] (so the pointers never
         * decrease), its value index within the codebook (CER group counts
         * were checked up front) */
        const int64_t v = k->vi ? cnn_uint_at(k->vi, g, k->vi_bytes) : 1 + (g - g0);
        if (CNN_UNLIKELY((e1 < e) | (e1 > k->q) | (v < 1) | (v >= k->nsym))) return CNN_ERR_CORRUPT;
        if (W == 1) {
            /* four partial sums: the gathers of one group overlap */
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (; e + 4 <= e1; e += 4) {
                const int64_t r0 = cnn_uint_at(ci, e, CB), r1 = cnn_uint_at(ci, e + 1, CB);
                const int64_t r2 = cnn_uint_at(ci, e + 2, CB), r3 = cnn_uint_at(ci, e + 3, CB);
                if (CNN_UNLIKELY(((uint64_t)r0 >= un) | ((uint64_t)r1 >= un) |
                                 ((uint64_t)r2 >= un) | ((uint64_t)r3 >= un)))
                    return CNN_ERR_CORRUPT;
                s0 += xt[r0 * S];
                s1 += xt[r1 * S];
                s2 += xt[r2 * S];
                s3 += xt[r3 * S];
                if (IMP) mark[r0] = mark[r1] = mark[r2] = mark[r3] = 1;
            }
            for (; e < e1; e++) {
                const int64_t r = cnn_uint_at(ci, e, CB);
                if (CNN_UNLIKELY((uint64_t)r >= un)) return CNN_ERR_CORRUPT;
                s0 += xt[r * S];
                if (IMP) mark[r] = 1;
            }
            s[0] = (s0 + s1) + (s2 + s3);
        } else {
            for (int t = 0; t < W; t++) s[t] = 0;
            for (; e < e1; e++) {
                const int64_t r = cnn_uint_at(ci, e, CB);
                if (CNN_UNLIKELY((uint64_t)r >= un)) return CNN_ERR_CORRUPT;
                const REAL *restrict x = xt + r * S;
                for (int t = 0; t < W; t++) s[t] += x[t];
                if (IMP) mark[r] = 1;
            }
        }
        const double val = values[v];
        for (int t = 0; t < W; t++) acc[t] += val * s[t];
    }
    REAL *restrict o = k->out + c * S + t0;
    if (IMP) {
        /* every index below was range-checked in the loop above */
        for (int t = 0; t < W; t++) s[t] = 0;
        for (int64_t r = 0; r < n; r++)
            if (!mark[r])
                for (int t = 0; t < W; t++) s[t] += xt[r * S + t];
        for (int64_t p = e0; p < e; p++) mark[cnn_uint_at(ci, p, CB)] = 0;
        const double z = values[0];
        for (int t = 0; t < W; t++) o[t] = (REAL)(acc[t] + z * s[t]);
    } else {
        for (int t = 0; t < W; t++) o[t] = (REAL)acc[t];
    }
    return CNN_OK;
}

/* All batch columns of rows c0 .. c1-1; b = 1 and b = 8 get constant widths. */
CNN_INLINE int cser_span(const cser_ctx *k, int64_t c0, int64_t c1, const int CB,
                         const int IMP, unsigned char *mark)
{
    const int64_t b = k->b;
    for (int64_t c = c0; c < c1; c++) {
        int st = CNN_OK;
        if (b == 1) {
            st = cser_row(k, c, 0, 1, 1, CB, IMP, mark);
        } else if (b == CNN_CSER_W) {
            st = cser_row(k, c, 0, CNN_CSER_W, CNN_CSER_W, CB, IMP, mark);
        } else {
            int64_t t0 = 0;
            for (; st == CNN_OK && t0 + CNN_CSER_W <= b; t0 += CNN_CSER_W)
                st = cser_row(k, c, t0, CNN_CSER_W, b, CB, IMP, mark);
            if (st == CNN_OK && t0 < b)
                st = cser_row(k, c, t0, (int)(b - t0), b, CB, IMP, mark);
        }
        if (st) return st;
    }
    return CNN_OK;
}

#define CNN_CSER_DISPATCH(IMP)                                                \
    switch (k->ci_bytes) {                                                    \
    case 1: st = cser_span(k, c0, c1, 1, IMP, mark); break;              \
    case 2: st = cser_span(k, c0, c1, 2, IMP, mark); break;              \
    case 4: st = cser_span(k, c0, c1, 4, IMP, mark); break;              \
    default: st = cser_span(k, c0, c1, 8, IMP, mark); break;             \
    }

static int cser_range(void *vctx, int64_t c0, int64_t c1)
{
    const cser_ctx *k = (const cser_ctx *)vctx;
    int st;
    if (k->nsym > 0 && k->values[0] != 0) {
        /* per-thread scratch: which inputs the current row lists */
        unsigned char *mark = (unsigned char *)calloc((size_t)(k->n > 0 ? k->n : 1), 1);
        if (!mark) return CNN_ERR_NOMEM;
        CNN_CSER_DISPATCH(1)
        free(mark);
    } else {
        unsigned char *mark = NULL;
        CNN_CSER_DISPATCH(0)
    }
    return st;
}
#undef CNN_CSER_DISPATCH

/* The public products (cser_f32.c, cser_f64.c): CER with vi == NULL, CSER. */
static int cser_run(int64_t n, int64_t m, const REAL *values, int64_t nsym,
                    const void *ci, int ci_bytes, int64_t q,
                    const void *gp, int gp_bytes, int64_t ngp,
                    const void *rp, int rp_bytes, int64_t nrp,
                    const void *vi, int vi_bytes, int64_t nvi,
                    const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || q < 0 || nsym < 0 || threads < 1) return CNN_ERR_ARG;
    if (nrp != m + 1) return CNN_ERR_ARG;
    if (!cnn_width_ok(ci_bytes) || !cnn_width_ok(gp_bytes) || !cnn_width_ok(rp_bytes))
        return CNN_ERR_ARG;
    if (vi && !cnn_width_ok(vi_bytes)) return CNN_ERR_ARG;
    if (ngp < 1) return CNN_ERR_CORRUPT;
    const int64_t G = ngp - 1;
    int st = cnn_check_ptr(rp, rp_bytes, nrp, G);
    if (st) return st;
    /* the group pointers' ends here, the rest row by row (cser_row) */
    if (cnn_uint_at(gp, 0, gp_bytes) != 0 || cnn_uint_at(gp, G, gp_bytes) != q) return CNN_ERR_CORRUPT;
    if (vi) {
        if (nvi != G) return CNN_ERR_CORRUPT;
    } else {
        /* a CER row has at most one group per explicit value */
        const int64_t most = nsym > 0 ? nsym - 1 : 0;
        for (int64_t c = 0; c < m; c++)
            if (cnn_uint_at(rp, c + 1, rp_bytes) - cnn_uint_at(rp, c, rp_bytes) > most)
                return CNN_ERR_CORRUPT;
    }
    if (m == 0 || b == 0) return CNN_OK;

    cser_ctx k;
    k.n = n;
    k.b = b;
    k.nsym = nsym;
    k.q = q;
    k.values = values;
    k.ci = ci;
    k.gp = gp;
    k.rp = rp;
    k.vi = vi;
    k.ci_bytes = ci_bytes;
    k.gp_bytes = gp_bytes;
    k.rp_bytes = rp_bytes;
    k.vi_bytes = vi_bytes;
    k.xt = xt;
    k.out = out;
    int64_t *cum = NULL;
    if (threads > 1 && m > 1) {
        /* work of a row: its entries plus its groups (plus n with a nonzero
         * implicit value, the same for every row) */
        cum = (int64_t *)malloc((size_t)(m + 1) * sizeof(int64_t));
        if (!cum) return CNN_ERR_NOMEM;
        const int64_t extra = nsym > 0 && values[0] != 0 ? n : 0;
        for (int64_t c = 0; c <= m; c++) {
            int64_t g = cnn_uint_at(rp, c, rp_bytes), e = cnn_uint_at(gp, g, gp_bytes);
            /* e not checked yet: clamped, so that cum cannot overflow (a
             * bad pointer fails in its row) */
            e = e < 0 ? 0 : e > q ? q : e;
            cum[c] = g + e + extra * c;
        }
    }
    st = cnn_parallel_for(pool, threads, m, cum, cser_range, &k);
    free(cum);
    return st;
}

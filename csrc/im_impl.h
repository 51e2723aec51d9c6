/* im_impl.h: IM product, instantiated by im.c for REAL = float and double.
 * Fixed-width indices, column-major: entry (r, c) at bit (c*n + r) * width. */

typedef struct {
    int64_t n, b, nsym, zero_sym;
    int width;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    cnn_br proto;
} SFX(im_ctx);

CNN_INLINE int SFX(im_column)(const SFX(im_ctx) *k, int64_t c, const int64_t B)
{
    const int64_t n = k->n, nsym = k->nsym, z = k->zero_sym;
    const int w = k->width;
    const REAL *restrict xt = k->xt;
    REAL *restrict acc = k->out + c * B;
    REAL acc1 = 0;
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
    cnn_br r = k->proto;
    if (w > 0) cnn_br_seek(&r, c * n * w);
    for (int64_t row = 0; row < n; row++) {
        uint32_t idx = 0;
        if (w > 0) {
            if (r.cnt <= 32) cnn_br_refill(&r);
            if (CNN_UNLIKELY(r.cnt < w)) return CNN_ERR_CORRUPT;
            idx = (uint32_t)(r.buf >> (64 - w));
            cnn_br_skip(&r, w);
        }
        if (CNN_UNLIKELY((int64_t)idx >= nsym)) return CNN_ERR_CORRUPT;
        if ((int64_t)idx == z) continue;
        const REAL v = k->values[idx];
        const REAL *restrict x = xt + row * B;
        if (B == 1) acc1 += v * x[0];
        else for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    }
    if (B == 1) acc[0] = acc1;
    return CNN_OK;
}

static int SFX(im_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(im_ctx) *k = (const SFX(im_ctx) *)vctx;
    for (int64_t c = c0; c < c1; c++) {
        int st;
        if (k->b == 1) st = SFX(im_column)(k, c, 1);
        else if (k->b == 8) st = SFX(im_column)(k, c, 8);
        else st = SFX(im_column)(k, c, k->b);
        if (st) return st;
    }
    return CNN_OK;
}

int SFX(cnn_im_matmat)(int64_t n, int64_t m,
                       const void *words, int64_t nwords, int wordbits, int width,
                       const REAL *values, int64_t nsym, int64_t zero_sym,
                       const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || threads < 1) return CNN_ERR_ARG;
    if (width < 0 || width > 32 || zero_sym < -1 || zero_sym >= nsym) return CNN_ERR_ARG;
    SFX(im_ctx) k;
    int st = cnn_br_init(&k.proto, words, nwords, wordbits);
    if (st) return st;
    if (n > 0 && m > 0 && (double)n * (double)m * width > 32.0 * (double)k.proto.nchunks)
        return CNN_ERR_CORRUPT;
    if (m == 0 || b == 0) return CNN_OK;
    for (int64_t i = 0; i < m * b; i++) out[i] = 0;
    if (n == 0) return CNN_OK;
    if (nsym == 0) return CNN_ERR_CORRUPT;
    k.n = n;
    k.b = b;
    k.nsym = nsym;
    k.zero_sym = zero_sym;
    k.width = width;
    k.values = values;
    k.xt = xt;
    k.out = out;
    return cnn_parallel_for(pool, threads, m, NULL, SFX(im_range), &k);
}

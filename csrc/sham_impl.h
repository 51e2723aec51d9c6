/* sham_impl.h: sHAM product, instantiated by sham.c for REAL = float and double.
 *
 * Column c holds nonzeros cb[c] .. cb[c+1]-1: their rows in ri, their values
 * as consecutive codewords from bit col_bits[c].  Each row index is checked
 * against n before use; a column whose codewords do not end exactly at
 * col_bits[c+1] is reported as corrupt.
 */

typedef struct {
    int64_t n, b;
    const int64_t *col_bits, *cb;
    const void *ri;
    int ri_bytes;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_huff *h;
    cnn_br proto;
} SFX(sham_ctx);

#define CNN_SHAM_LOOP(RI_T)                                                   \
    do {                                                                      \
        const RI_T *restrict ri = (const RI_T *)k->ri;                        \
        for (int64_t p = p0; p < p1; p++) {                                   \
            uint32_t sym;                                                     \
            int st = cnn_huff_next(h, &r, &sym);                              \
            if (CNN_UNLIKELY(st)) return st;                                  \
            const int64_t row = ri[p];                                        \
            if (CNN_UNLIKELY(row >= n)) return CNN_ERR_CORRUPT;               \
            const REAL v = values[sym];                                       \
            const REAL *restrict x = xt + row * B;                            \
            if (B == 1) acc1 += v * x[0];                                     \
            else for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];          \
        }                                                                     \
    } while (0)

CNN_INLINE int SFX(sham_column)(const SFX(sham_ctx) *k, int64_t c, const int64_t B)
{
    cnn_br r = k->proto;
    cnn_br_seek(&r, k->col_bits[c]);
    const cnn_huff *h = k->h;
    const int64_t n = k->n, p0 = k->cb[c], p1 = k->cb[c + 1];
    const REAL *restrict xt = k->xt;
    const REAL *restrict values = k->values;
    REAL *restrict acc = k->out + c * B;
    REAL acc1 = 0;
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
    switch (k->ri_bytes) {
    case 1: CNN_SHAM_LOOP(uint8_t); break;
    case 2: CNN_SHAM_LOOP(uint16_t); break;
    default: CNN_SHAM_LOOP(uint32_t); break;
    }
    if (B == 1) acc[0] = acc1;
    if (32 * r.next - r.cnt != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    return CNN_OK;
}

static int SFX(sham_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(sham_ctx) *k = (const SFX(sham_ctx) *)vctx;
    const int64_t b = k->b;
    for (int64_t c = c0; c < c1; c++) {
        int st;
        if (b == 1) st = SFX(sham_column)(k, c, 1);
        else if (b == 8) st = SFX(sham_column)(k, c, 8);
        else st = SFX(sham_column)(k, c, b);
        if (st) return st;
    }
    return CNN_OK;
}

int SFX(cnn_sham_matmat)(int64_t n, int64_t m,
                         const void *words, int64_t nwords, int wordbits,
                         const int64_t *col_bits, int64_t ncol_bits,
                         const uint32_t *len_count, int maxlen,
                         const REAL *values, int64_t nsym,
                         const void *ri, int ri_bytes, int64_t q,
                         const int64_t *cb, int64_t ncb,
                         const REAL *xt, int64_t b, REAL *out, int threads)
{
    if (n < 0 || m < 0 || b < 0 || q < 0 || threads < 1) return CNN_ERR_ARG;
    if (ncol_bits != m + 1 || ncb != m + 1) return CNN_ERR_ARG;
    if (ri_bytes != 1 && ri_bytes != 2 && ri_bytes != 4) return CNN_ERR_ARG;
    uint32_t table[1 << CNN_TABLE_BITS];
    cnn_huff h;
    SFX(sham_ctx) k;
    int st = cnn_br_init(&k.proto, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.proto.nchunks);
    if (st) return st;
    if (cb[0] != 0 || cb[m] != q) return CNN_ERR_CORRUPT;
    st = cnn_check_offsets(cb, ncb, q);
    if (st) return st;
    if (m == 0 || b == 0) return CNN_OK;
    for (int64_t i = 0; i < m * b; i++) out[i] = 0;
    st = cnn_huff_init(&h, len_count, maxlen, nsym, -1, table, NULL);
    if (st) return st;
    if (q > 0 && nsym == 0) return CNN_ERR_CORRUPT;
    k.n = n;
    k.b = b;
    k.col_bits = col_bits;
    k.cb = cb;
    k.ri = ri;
    k.ri_bytes = ri_bytes;
    k.values = values;
    k.xt = xt;
    k.out = out;
    k.h = &h;
    return cnn_parallel_for(threads, m, cb, SFX(sham_range), &k);
}

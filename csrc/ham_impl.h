/* ham_impl.h: HAM product, instantiated by ham.c for REAL = float and double.
 *
 * Each worker decodes whole columns: the column's codewords start at
 * col_bits[c]; exactly n symbols are decoded, runs of zero codewords a table
 * lookup at a time, and every non-zero value v at row r adds v * xt[r, :] to
 * the column's b accumulators.  A column that does not end exactly at
 * col_bits[c+1] is reported as corrupt.
 */

typedef struct {
    int64_t n, b;
    const int64_t *col_bits;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    const cnn_huff *h;
    cnn_br proto;
} SFX(ham_ctx);

CNN_INLINE int SFX(ham_column)(const SFX(ham_ctx) *k, int64_t c, const int64_t B)
{
    cnn_br r = k->proto;
    cnn_br_seek(&r, k->col_bits[c]);
    const cnn_huff *h = k->h;
    const uint32_t *table = h->table;
    const int sh = 64 - h->tb;
    const int len0 = h->len0;
    const int64_t z = h->zero_sym, n = k->n;
    const REAL *restrict xt = k->xt;
    const REAL *restrict values = k->values;
    REAL *restrict acc = k->out + c * B;
    REAL acc1 = 0;
    for (int64_t t = 0; t < B; t++) acc[t] = 0;

    int64_t row = 0;
    while (row < n) {
        if (r.cnt <= 32) cnn_br_refill(&r);
        uint32_t e = table[r.buf >> sh];
        uint32_t sym;
        int nb;
        if (CNN_LIKELY(e)) {
            int64_t run = CNN_E_RUN(e);
            int has = CNN_E_HAS(e);
            nb = CNN_E_BITS(e);
            if (CNN_UNLIKELY(row + run + has > n)) { /* the run crosses the column end */
                run = n - row;
                has = 0;
                nb = (int)run * len0;
            }
            if (CNN_UNLIKELY(nb > r.cnt)) return CNN_ERR_CORRUPT;
            cnn_br_skip(&r, nb);
            row += run;
            if (!has) continue;
            sym = CNN_E_SYM(e);
        } else {
            int st = cnn_huff_slow(h, &r, &sym, &nb);
            if (st) return st;
            cnn_br_skip(&r, nb);
            if ((int64_t)sym == z) {
                row++;
                continue;
            }
        }
        const REAL v = values[sym];
        const REAL *restrict x = xt + row * B;
        if (B == 1) acc1 += v * x[0];
        else for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
        row++;
    }
    if (B == 1) acc[0] = acc1;
    if (32 * r.next - r.cnt != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    return CNN_OK;
}

static int SFX(ham_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(ham_ctx) *k = (const SFX(ham_ctx) *)vctx;
    const int64_t b = k->b;
    for (int64_t c = c0; c < c1; c++) {
        int st;
        if (b == 1) st = SFX(ham_column)(k, c, 1);
        else if (b == 8) st = SFX(ham_column)(k, c, 8);
        else st = SFX(ham_column)(k, c, b);
        if (st) return st;
    }
    return CNN_OK;
}

int SFX(cnn_ham_matmat)(int64_t n, int64_t m,
                        const void *words, int64_t nwords, int wordbits,
                        const int64_t *col_bits, int64_t ncol_bits,
                        const uint32_t *len_count, int maxlen,
                        const REAL *values, int64_t nsym, int64_t zero_sym,
                        const REAL *xt, int64_t b, REAL *out, int threads)
{
    if (n < 0 || m < 0 || b < 0 || threads < 1) return CNN_ERR_ARG;
    if (ncol_bits != m + 1) return CNN_ERR_ARG;
    if (zero_sym < -1) return CNN_ERR_ARG;
    uint32_t table[1 << CNN_TABLE_BITS], scratch[1 << CNN_TABLE_BITS];
    cnn_huff h;
    SFX(ham_ctx) k;
    int st = cnn_br_init(&k.proto, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.proto.nchunks);
    if (st) return st;
    if (m == 0 || b == 0) return CNN_OK;
    for (int64_t i = 0; i < m * b; i++) out[i] = 0;
    if (n == 0) return CNN_OK;
    st = cnn_huff_init(&h, len_count, maxlen, nsym, zero_sym, table, scratch);
    if (st) return st;
    if (nsym == 0) return CNN_ERR_CORRUPT;
    k.n = n;
    k.b = b;
    k.col_bits = col_bits;
    k.values = values;
    k.xt = xt;
    k.out = out;
    k.h = &h;
    return cnn_parallel_for(threads, m, col_bits, SFX(ham_range), &k);
}

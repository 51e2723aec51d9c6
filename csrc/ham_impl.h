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
    cnn_bits bits;
    const uint8_t *stream;
    int64_t stream_bits;  /* readable positions: 8 * (nstream - 8) */
} SFX(ham_ctx);

/* One lookup in one column: skip a run of zero codewords and decode at most
 * one other symbol.  Returns a status; *sym is set (and *row points at its
 * row) when a non-zero symbol was decoded, else *sym = UINT32_MAX. */
CNN_INLINE int SFX(ham_decode)(const SFX(ham_ctx) *k, cnn_lane *l, int64_t *row, uint32_t *sym)
{
    const cnn_huff *h = k->h;
    const int64_t n = k->n;
    if (l->cnt <= 32 && l->next < k->bits.nchunks) {
        l->buf |= (uint64_t)k->bits.w[l->next ^ k->bits.swap] << (32 - l->cnt);
        l->cnt += 32;
        l->next++;
    }
    const uint32_t e = h->table[l->buf >> (64 - h->tb)];
    int nb;
    *sym = UINT32_MAX;
    if (CNN_LIKELY(e)) {
        int64_t run = CNN_E_RUN(e);
        int has = CNN_E_HAS(e);
        nb = CNN_E_BITS(e);
        if (CNN_UNLIKELY(*row + run + has > n)) { /* the run crosses the column end */
            run = n - *row;
            has = 0;
            nb = (int)run * h->len0;
        }
        if (CNN_UNLIKELY(nb > l->cnt)) return CNN_ERR_CORRUPT;
        l->buf <<= nb;
        l->cnt -= nb;
        *row += run;
        if (has) *sym = CNN_E_SYM(e);
        return CNN_OK;
    }
    uint32_t s;
    int st = cnn_huff_slow_v(h, l->buf, l->cnt, &s, &nb);
    if (st) return st;
    l->buf = nb >= 64 ? 0 : l->buf << nb;
    l->cnt -= nb;
    if ((int64_t)s == h->zero_sym) (*row)++;
    else *sym = s;
    return CNN_OK;
}

/* ham_decode, then the decoded value times the row of X^T into the accumulators. */
CNN_INLINE int SFX(ham_step)(const SFX(ham_ctx) *k, cnn_lane *l, int64_t *row, REAL *restrict acc,
                             const int64_t B)
{
    uint32_t sym;
    int st = SFX(ham_decode)(k, l, row, &sym);
    if (st || sym == UINT32_MAX) return st;
    const REAL v = k->values[sym];
    const REAL *restrict x = k->xt + *row * B;
    for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    (*row)++;
    return CNN_OK;
}

CNN_INLINE void SFX(ham_open)(const SFX(ham_ctx) *k, int64_t c, cnn_lane *l, int64_t *row,
                              REAL *acc, const int64_t B)
{
    cnn_lane_seek(&k->bits, l, k->col_bits[c]);
    *row = 0;
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
}

CNN_INLINE int SFX(ham_close)(const SFX(ham_ctx) *k, int64_t c, cnn_lane *l, int64_t *row,
                              REAL *acc, const int64_t B)
{
    while (*row < k->n) {
        int st = SFX(ham_step)(k, l, row, acc, B);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    REAL *out = k->out + c * B;
    if (out != acc)
        for (int64_t t = 0; t < B; t++) out[t] = acc[t];
    return CNN_OK;
}

/* Columns [c0, c1) through four lanes (independent bit readers in locals);
 * a lane whose column is complete takes the next one at once. */
CNN_INLINE int SFX(ham_span)(const SFX(ham_ctx) *k, int64_t c0, int64_t c1, const int64_t B)
{
    cnn_lane l0 = {0, 0, 0}, l1 = {0, 0, 0}, l2 = {0, 0, 0}, l3 = {0, 0, 0};
    int64_t r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    int64_t k0 = -1, k1 = -1, k2 = -1, k3 = -1; /* column of each lane, -1 when idle */
    REAL s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
    REAL *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
    const int64_t n = k->n;
    int64_t nc = c0;
    int st = CNN_OK;
#define CNN_HAM_OPEN(J)                                                       \
    do {                                                                      \
        k##J = nc++;                                                          \
        a##J = B <= 8 ? s##J : k->out + k##J * B;                             \
        SFX(ham_open)(k, k##J, &l##J, &r##J, a##J, B);                        \
    } while (0)
#define CNN_HAM_ROTATE(J)                                                     \
    while (r##J >= n) {                                                       \
        st = SFX(ham_close)(k, k##J, &l##J, &r##J, a##J, B);                  \
        k##J = -1;                                                            \
        if (st || nc >= c1) goto drain;                                       \
        CNN_HAM_OPEN(J);                                                      \
    }
    if (c1 - c0 >= 4) {
        CNN_HAM_OPEN(0);
        CNN_HAM_OPEN(1);
        CNN_HAM_OPEN(2);
        CNN_HAM_OPEN(3);
        for (;;) {
            CNN_HAM_ROTATE(0)
            CNN_HAM_ROTATE(1)
            CNN_HAM_ROTATE(2)
            CNN_HAM_ROTATE(3)
            st = SFX(ham_step)(k, &l0, &r0, a0, B);
            st |= SFX(ham_step)(k, &l1, &r1, a1, B);
            st |= SFX(ham_step)(k, &l2, &r2, a2, B);
            st |= SFX(ham_step)(k, &l3, &r3, a3, B);
            if (CNN_UNLIKELY(st)) return CNN_ERR_CORRUPT;
        }
    }
drain:
    if (st) return st;
    if (k0 >= 0 && (st = SFX(ham_close)(k, k0, &l0, &r0, a0, B))) return st;
    if (k1 >= 0 && (st = SFX(ham_close)(k, k1, &l1, &r1, a1, B))) return st;
    if (k2 >= 0 && (st = SFX(ham_close)(k, k2, &l2, &r2, a2, B))) return st;
    if (k3 >= 0 && (st = SFX(ham_close)(k, k3, &l3, &r3, a3, B))) return st;
    while (nc < c1) {
        CNN_HAM_OPEN(0);
        if ((st = SFX(ham_close)(k, k0, &l0, &r0, a0, B))) return st;
    }
#undef CNN_HAM_OPEN
#undef CNN_HAM_ROTATE
    return CNN_OK;
}

#if defined(__GNUC__)
typedef REAL SFX(hvec8) __attribute__((vector_size(8 * sizeof(REAL))));

/* b = 8: as ham_step, with the column's eight sums in one vector variable. */
CNN_INLINE int SFX(ham_step8)(const SFX(ham_ctx) *k, cnn_lane *l, int64_t *row, SFX(hvec8) *acc)
{
    uint32_t sym;
    int st = SFX(ham_decode)(k, l, row, &sym);
    if (st || sym == UINT32_MAX) return st;
    SFX(hvec8) x;
    __builtin_memcpy(&x, k->xt + *row * 8, sizeof x);
    *acc += k->values[sym] * x;
    (*row)++;
    return CNN_OK;
}

CNN_INLINE int SFX(ham_close8)(const SFX(ham_ctx) *k, int64_t c, cnn_lane *l, int64_t *row,
                               SFX(hvec8) *acc)
{
    while (*row < k->n) {
        int st = SFX(ham_step8)(k, l, row, acc);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    __builtin_memcpy(k->out + c * 8, acc, sizeof *acc);
    return CNN_OK;
}

/* b = 8 on the byte stream: four columns in lockstep, each lane's decoder
 * state only a bit position and a row.  A round decodes one table entry per
 * lane (a run of zeros and at most one more symbol); rounds go on while no
 * lane meets a long codeword or its column's end, then the word reader
 * (ham_close8) finishes the four columns. */
CNN_INLINE int SFX(ham_quad8)(const SFX(ham_ctx) *k, int64_t c)
{
    const uint8_t *S = k->stream;
    const cnn_huff *h = k->h;
    const uint32_t *T = h->table;
    const int SH = 64 - h->tb;
    const REAL *V = k->values, *XT = k->xt;
    const int64_t n = k->n, LIM = k->stream_bits;
    int64_t p0 = k->col_bits[c], p1 = k->col_bits[c + 1], p2 = k->col_bits[c + 2], p3 = k->col_bits[c + 3];
    int64_t r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    SFX(hvec8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
#define CNN_HQ_DEC(J)                                                         \
    const uint32_t E##J = T[cnn_peek_be(S, p##J) >> SH];                     \
    const int64_t end##J = r##J + CNN_E_RUN(E##J) + CNN_E_HAS(E##J);
#define CNN_HQ_APPLY(J)                                                       \
    p##J += CNN_E_BITS(E##J);                                                 \
    r##J += CNN_E_RUN(E##J);                                                  \
    if (CNN_E_HAS(E##J)) {                                                    \
        SFX(hvec8) xx_;                                                       \
        __builtin_memcpy(&xx_, XT + r##J * 8, sizeof xx_);                    \
        a##J += V[CNN_E_SYM(E##J)] * xx_;                                     \
        r##J++;                                                               \
    }
    for (;;) {
        /* positions are checked before each round, so every peek is in bounds */
        if (CNN_UNLIKELY((p0 > LIM) | (p1 > LIM) | (p2 > LIM) | (p3 > LIM))) return CNN_ERR_CORRUPT;
        CNN_HQ_DEC(0)
        CNN_HQ_DEC(1)
        CNN_HQ_DEC(2)
        CNN_HQ_DEC(3)
        if (CNN_UNLIKELY(!E0 | !E1 | !E2 | !E3 | (end0 >= n) | (end1 >= n) | (end2 >= n) | (end3 >= n)))
            break; /* a long codeword or a column's last entries: finish carefully */
        CNN_HQ_APPLY(0)
        CNN_HQ_APPLY(1)
        CNN_HQ_APPLY(2)
        CNN_HQ_APPLY(3)
    }
#undef CNN_HQ_DEC
#undef CNN_HQ_APPLY
    int64_t ps[4] = {p0, p1, p2, p3}, rs[4] = {r0, r1, r2, r3};
    SFX(hvec8) as[4] = {a0, a1, a2, a3};
    for (int j = 0; j < 4; j++) {
        cnn_lane l;
        cnn_lane_seek(&k->bits, &l, ps[j]);
        int st = SFX(ham_close8)(k, c + j, &l, &rs[j], &as[j]);
        if (st) return st;
    }
    return CNN_OK;
}

CNN_INLINE int SFX(ham_span8_fast)(const SFX(ham_ctx) *k, int64_t c0, int64_t c1)
{
    int64_t c = c0;
    for (; c + 4 <= c1; c += 4) {
        int st = SFX(ham_quad8)(k, c);
        if (st) return st;
    }
    for (; c < c1; c++) {
        cnn_lane l;
        int64_t r = 0;
        SFX(hvec8) a = {0};
        cnn_lane_seek(&k->bits, &l, k->col_bits[c]);
        int st = SFX(ham_close8)(k, c, &l, &r, &a);
        if (st) return st;
    }
    return CNN_OK;
}

#define CNN_HAM_SPAN8 SFX(ham_span8_fast)(k, c0, c1)
#else
#define CNN_HAM_SPAN8 SFX(ham_span)(k, c0, c1, b)
#endif

static int SFX(ham_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(ham_ctx) *k = (const SFX(ham_ctx) *)vctx;
    const int64_t b = k->b;
    if (b == 1) return SFX(ham_span)(k, c0, c1, 1);
    /* b = 8 with the byte stream: the lockstep path; otherwise the generic lanes */
    if (b == 8 && k->stream) return CNN_HAM_SPAN8;
    return SFX(ham_span)(k, c0, c1, b);
}

int SFX(cnn_ham_matmat)(int64_t n, int64_t m,
                        const void *words, int64_t nwords, int wordbits,
                        const uint8_t *stream, int64_t nstream,
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
    int st = cnn_bits_init(&k.bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.bits.nchunks);
    if (st) return st;
    /* the byte stream is optional; when given it is the words' bytes plus 8 of padding */
    if (stream != NULL && nstream != 4 * k.bits.nchunks + 8) return CNN_ERR_ARG;
    k.stream = stream;
    k.stream_bits = stream != NULL ? 8 * (nstream - 8) : 0;
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

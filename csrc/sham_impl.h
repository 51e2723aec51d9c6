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
    cnn_bits bits;
    const uint8_t *stream;
    int64_t stream_bits;  /* readable positions: 8 * (nstream - 8) */
} SFX(sham_ctx);

#ifndef CNN_SHAM_COMMON
#define CNN_SHAM_COMMON
CNN_INLINE int64_t cnn_ri_at(const void *ri, int64_t p, const int ri_bytes)
{
    if (ri_bytes == 1) return ((const uint8_t *)ri)[p];
    if (ri_bytes == 2) return ((const uint16_t *)ri)[p];
    return ((const uint32_t *)ri)[p];
}
#endif

/* One nonzero of one column: decode its value, check its row, accumulate. */
CNN_INLINE int SFX(sham_step)(const SFX(sham_ctx) *k, cnn_lane *l, int64_t *p, REAL *restrict acc,
                              const int64_t B, const int ri_bytes)
{
    uint32_t sym;
    int st = cnn_huff_lane(k->h, &k->bits, l, &sym);
    if (CNN_UNLIKELY(st)) return st;
    const int64_t row = cnn_ri_at(k->ri, (*p)++, ri_bytes);
    if (CNN_UNLIKELY(row >= k->n)) return CNN_ERR_CORRUPT;
    const REAL v = k->values[sym];
    const REAL *restrict x = k->xt + row * B;
    for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    return CNN_OK;
}

/* Start one column: position its lane and zero its accumulators. */
CNN_INLINE void SFX(sham_open)(const SFX(sham_ctx) *k, int64_t c, cnn_lane *l, int64_t *p,
                               int64_t *e, REAL *acc, const int64_t B)
{
    cnn_lane_seek(&k->bits, l, k->col_bits[c]);
    *p = k->cb[c];
    *e = k->cb[c + 1];
    for (int64_t t = 0; t < B; t++) acc[t] = 0;
}

/* Finish one column: every nonzero decoded, codewords end at the next offset. */
CNN_INLINE int SFX(sham_close)(const SFX(sham_ctx) *k, int64_t c, cnn_lane *l, int64_t *p,
                               int64_t e, REAL *acc, const int64_t B, const int ri_bytes)
{
    while (*p < e) {
        int st = SFX(sham_step)(k, l, p, acc, B, ri_bytes);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    REAL *out = k->out + c * B;
    if (out != acc)
        for (int64_t t = 0; t < B; t++) out[t] = acc[t];
    return CNN_OK;
}

/* Columns [c0, c1) through four lanes, each with its own bit reader in
 * locals, so one decoder's table lookup overlaps the others'.  A lane whose
 * column ends takes the next column at once, so the four stay busy until
 * fewer than four columns are left. */
CNN_INLINE int SFX(sham_span)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1,
                              const int64_t B, const int ri_bytes)
{
    cnn_lane l0 = {0, 0, 0}, l1 = {0, 0, 0}, l2 = {0, 0, 0}, l3 = {0, 0, 0};
    int64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    int64_t k0 = -1, k1 = -1, k2 = -1, k3 = -1; /* column of each lane, -1 when idle */
    REAL s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
    REAL *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
    int64_t nc = c0;
    int st = CNN_OK;
#define CNN_SHAM_OPEN(J)                                                      \
    do {                                                                      \
        k##J = nc++;                                                          \
        a##J = B <= 8 ? s##J : k->out + k##J * B;                             \
        SFX(sham_open)(k, k##J, &l##J, &p##J, &e##J, a##J, B);                \
    } while (0)
#define CNN_SHAM_ROTATE(J)                                                    \
    while (p##J == e##J) {                                                    \
        st = SFX(sham_close)(k, k##J, &l##J, &p##J, e##J, a##J, B, ri_bytes); \
        k##J = -1;                                                            \
        if (st || nc >= c1) goto drain;                                       \
        CNN_SHAM_OPEN(J);                                                     \
    }
    if (c1 - c0 >= 4) {
        CNN_SHAM_OPEN(0);
        CNN_SHAM_OPEN(1);
        CNN_SHAM_OPEN(2);
        CNN_SHAM_OPEN(3);
        for (;;) {
            CNN_SHAM_ROTATE(0)
            CNN_SHAM_ROTATE(1)
            CNN_SHAM_ROTATE(2)
            CNN_SHAM_ROTATE(3)
            st = SFX(sham_step)(k, &l0, &p0, a0, B, ri_bytes);
            st |= SFX(sham_step)(k, &l1, &p1, a1, B, ri_bytes);
            st |= SFX(sham_step)(k, &l2, &p2, a2, B, ri_bytes);
            st |= SFX(sham_step)(k, &l3, &p3, a3, B, ri_bytes);
            if (CNN_UNLIKELY(st)) return CNN_ERR_CORRUPT;
        }
    }
drain:
    if (st) return st;
    if (k0 >= 0 && (st = SFX(sham_close)(k, k0, &l0, &p0, e0, a0, B, ri_bytes))) return st;
    if (k1 >= 0 && (st = SFX(sham_close)(k, k1, &l1, &p1, e1, a1, B, ri_bytes))) return st;
    if (k2 >= 0 && (st = SFX(sham_close)(k, k2, &l2, &p2, e2, a2, B, ri_bytes))) return st;
    if (k3 >= 0 && (st = SFX(sham_close)(k, k3, &l3, &p3, e3, a3, B, ri_bytes))) return st;
    while (nc < c1) {
        CNN_SHAM_OPEN(0);
        if ((st = SFX(sham_close)(k, k0, &l0, &p0, e0, a0, B, ri_bytes))) return st;
    }
#undef CNN_SHAM_OPEN
#undef CNN_SHAM_ROTATE
    return CNN_OK;
}

#if defined(__GNUC__)
typedef REAL SFX(vec8) __attribute__((vector_size(8 * sizeof(REAL))));

/* b = 8 on the word reader (the columns the lockstep path leaves over): the
 * eight sums of a column in one vector variable (GCC/Clang vector extension). */
CNN_INLINE int SFX(sham_step8)(const SFX(sham_ctx) *k, cnn_lane *l, int64_t *p, SFX(vec8) *acc,
                               const int ri_bytes)
{
    uint32_t sym;
    int st = cnn_huff_lane(k->h, &k->bits, l, &sym);
    if (CNN_UNLIKELY(st)) return st;
    const int64_t row = cnn_ri_at(k->ri, (*p)++, ri_bytes);
    if (CNN_UNLIKELY(row >= k->n)) return CNN_ERR_CORRUPT;
    SFX(vec8) x;
    __builtin_memcpy(&x, k->xt + row * 8, sizeof x);
    *acc += k->values[sym] * x;
    return CNN_OK;
}

CNN_INLINE int SFX(sham_close8)(const SFX(sham_ctx) *k, int64_t c, cnn_lane *l, int64_t *p,
                                int64_t e, SFX(vec8) *acc, const int ri_bytes)
{
    while (*p < e) {
        int st = SFX(sham_step8)(k, l, p, acc, ri_bytes);
        if (st) return st;
    }
    if (cnn_lane_pos(l) != k->col_bits[c + 1]) return CNN_ERR_CORRUPT;
    __builtin_memcpy(k->out + c * 8, acc, sizeof *acc);
    return CNN_OK;
}

/* Four columns in lockstep on the byte stream: per lane the only decoder
 * state is a bit position, so the four lanes' lookups overlap; the checks of
 * the four steps are folded into one rarely taken branch, which also takes
 * codewords longer than the table.  Leftover nonzeros of the longer columns
 * go through sham_close8. */
CNN_INLINE int SFX(sham_quad8)(const SFX(sham_ctx) *k, int64_t c, const int ri_bytes)
{
    const uint8_t *S = k->stream;
    const cnn_huff *h = k->h;
    const uint32_t *T = h->table;
    const int SH = 64 - h->tb;
    const REAL *V = k->values, *XT = k->xt;
    const void *RI = k->ri;
    const int64_t n = k->n, LIM = k->stream_bits;
    int64_t p0 = k->col_bits[c], p1 = k->col_bits[c + 1], p2 = k->col_bits[c + 2], p3 = k->col_bits[c + 3];
    int64_t q0 = k->cb[c], q1 = k->cb[c + 1], q2 = k->cb[c + 2], q3 = k->cb[c + 3], q4 = k->cb[c + 4];
    SFX(vec8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t common = q1 - q0;
    if (q2 - q1 < common) common = q2 - q1;
    if (q3 - q2 < common) common = q3 - q2;
    if (q4 - q3 < common) common = q4 - q3;
#define CNN_Q_DEC(J)                                                          \
    const uint64_t x##J = cnn_peek_be(S, p##J);                               \
    const uint32_t E##J = T[x##J >> SH];                                      \
    uint32_t s##J = CNN_E_SYM(E##J);                                          \
    p##J += CNN_E_BITS(E##J);                                                 \
    const int64_t r##J = cnn_ri_at(RI, q##J++, ri_bytes);
#define CNN_Q_FIX(J)                                                          \
    if (!E##J) { /* long codeword: decode it bit-length by bit-length */     \
        int l_;                                                               \
        if (cnn_huff_slow_v(h, x##J, 57, &s##J, &l_)) return CNN_ERR_CORRUPT; \
        p##J += l_;                                                           \
    }                                                                         \
    if (p##J > LIM || r##J >= n) return CNN_ERR_CORRUPT;
#define CNN_Q_FMA(J)                                                          \
    {                                                                         \
        SFX(vec8) xx_;                                                        \
        __builtin_memcpy(&xx_, XT + r##J * 8, sizeof xx_);                    \
        a##J += V[s##J] * xx_;                                                \
    }
    for (int64_t i = 0; i < common; i++) {
        /* positions are checked before each round, so every peek is in bounds */
        if (CNN_UNLIKELY((p0 > LIM) | (p1 > LIM) | (p2 > LIM) | (p3 > LIM))) return CNN_ERR_CORRUPT;
        CNN_Q_DEC(0)
        CNN_Q_DEC(1)
        CNN_Q_DEC(2)
        CNN_Q_DEC(3)
        if (CNN_UNLIKELY(!E0 | !E1 | !E2 | !E3 | (r0 >= n) | (r1 >= n) | (r2 >= n) | (r3 >= n))) {
            CNN_Q_FIX(0)
            CNN_Q_FIX(1)
            CNN_Q_FIX(2)
            CNN_Q_FIX(3)
        }
        CNN_Q_FMA(0)
        CNN_Q_FMA(1)
        CNN_Q_FMA(2)
        CNN_Q_FMA(3)
    }
#undef CNN_Q_DEC
#undef CNN_Q_FIX
#undef CNN_Q_FMA
    if ((p0 > LIM) | (p1 > LIM) | (p2 > LIM) | (p3 > LIM)) return CNN_ERR_CORRUPT;
    /* hand the four columns over to the word reader for their remaining nonzeros */
    int64_t ps[4] = {p0, p1, p2, p3}, qs[4] = {q0, q1, q2, q3};
    SFX(vec8) as[4] = {a0, a1, a2, a3};
    for (int j = 0; j < 4; j++) {
        cnn_lane l;
        cnn_lane_seek(&k->bits, &l, ps[j]);
        int st = SFX(sham_close8)(k, c + j, &l, &qs[j], k->cb[c + j + 1], &as[j], ri_bytes);
        if (st) return st;
    }
    return CNN_OK;
}

/* b = 8 on the byte stream: four columns at a time, then the rest one by one. */
CNN_INLINE int SFX(sham_span8_fast)(const SFX(sham_ctx) *k, int64_t c0, int64_t c1, const int ri_bytes)
{
    int64_t c = c0;
    for (; c + 4 <= c1; c += 4) {
        int st = SFX(sham_quad8)(k, c, ri_bytes);
        if (st) return st;
    }
    for (; c < c1; c++) {
        cnn_lane l;
        int64_t p = k->cb[c];
        SFX(vec8) a = {0};
        cnn_lane_seek(&k->bits, &l, k->col_bits[c]);
        int st = SFX(sham_close8)(k, c, &l, &p, k->cb[c + 1], &a, ri_bytes);
        if (st) return st;
    }
    return CNN_OK;
}

#define CNN_SHAM_FAST8 1
#else
#define CNN_SHAM_FAST8 0
#endif

/* b = 8 with the byte stream takes the lockstep path; every other case (and b = 8
 * without a stream) the generic lanes, with b as a run-time value. */
#if CNN_SHAM_FAST8
#define CNN_SHAM_SPAN_FAST8(RB) SFX(sham_span8_fast)(k, c0, c1, RB)
#else
#define CNN_SHAM_SPAN_FAST8(RB) SFX(sham_span)(k, c0, c1, b, RB)
#endif
#define CNN_SHAM_DISPATCH_B(RB)                                               \
    (b == 1 ? SFX(sham_span)(k, c0, c1, 1, RB)                               \
     : b == 8 && k->stream ? CNN_SHAM_SPAN_FAST8(RB)                          \
     : SFX(sham_span)(k, c0, c1, b, RB))

static int SFX(sham_range)(void *vctx, int64_t c0, int64_t c1)
{
    const SFX(sham_ctx) *k = (const SFX(sham_ctx) *)vctx;
    const int64_t b = k->b;
    switch (k->ri_bytes) {
    case 1: return CNN_SHAM_DISPATCH_B(1);
    case 2: return CNN_SHAM_DISPATCH_B(2);
    default: return CNN_SHAM_DISPATCH_B(4);
    }
}
#undef CNN_SHAM_DISPATCH_B
#undef CNN_SHAM_SPAN_FAST8
#undef CNN_SHAM_FAST8

int SFX(cnn_sham_matmat)(int64_t n, int64_t m,
                         const void *words, int64_t nwords, int wordbits,
                         const uint8_t *stream, int64_t nstream,
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
    int st = cnn_bits_init(&k.bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(col_bits, ncol_bits, 32 * k.bits.nchunks);
    if (st) return st;
    if (cb[0] != 0 || cb[m] != q) return CNN_ERR_CORRUPT;
    st = cnn_check_offsets(cb, ncb, q);
    if (st) return st;
    /* the byte stream is optional; when given it must hold the words' bits plus padding */
    if (stream != NULL && nstream != 4 * k.bits.nchunks + 8) return CNN_ERR_ARG;
    k.stream = stream;
    k.stream_bits = stream != NULL ? 8 * (nstream - 8) : 0;
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

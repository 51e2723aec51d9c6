/* im_kernel.h: the IM product out = X @ W for one value type REAL.
 * Included by im_f32.c (REAL = float) and im_f64.c (double), which write
 * the public functions out by name; the helpers are static, so each file has
 * its own copy under the same names.
 *
 * Fixed-width indices, column-major: entry (r, c) at bit (c*n + r) * width.
 * Two paths: eight columns row by row on the byte stream (im_oct; b = 1 and
 * 8, finite X), reading the codebook padded with NaN to 2^width entries so
 * that no index needs a check (see im_range), and column by column through
 * the word reader (im_column) for the rest. */
#include "real.h"

/* Widths up to IM_PAD_BITS get the NaN-padded codebook (see im_matmat). */
enum { IM_PAD_BITS = 12 };

typedef struct {
    int64_t n, b, nsym, zero_sym;
    int width;
    const REAL *values;
    const REAL *xt;
    REAL *out;
    cnn_br proto;
    const uint8_t *stream; /* byte stream when the branch-free paths apply, else NULL */
    const REAL *vpad;      /* values padded with NaN to 2^width entries (see im_matmat), or NULL */
} im_ctx;

/* The order of a column's sum at b = 1 with float values and indices of
 * IM_LANE_BITS bits or fewer (im_lanes), on every path: row r into partial
 * sum r % 8, in row order, then the eight combined as im_lanes_sum does (an
 * eight-lane vector halved twice), so that im_col8 and im_column give the
 * same bits.  Otherwise each column sums in row order.  (Doubles keep the
 * eight-column rows of im_oct: GCC's shuffle of eight doubles took 2.3-2.9x
 * their time.) */
enum { IM_LANE_BITS = 3 };
#define im_lanes(k, B) ((B) == 1 && (k)->width <= IM_LANE_BITS && sizeof(REAL) == 4)

CNN_INLINE REAL im_lanes_sum(const REAL *a)
{
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

CNN_INLINE int im_column(const im_ctx *k, int64_t c, const int64_t B)
{
    const int64_t n = k->n, nsym = k->nsym, z = k->zero_sym;
    const int w = k->width, lanes = im_lanes(k, B);
    const REAL *restrict xt = k->xt;
    REAL *restrict acc = k->out + c * B;
    REAL lane[8] = {0}; /* at b = 1: the partial sums (lane[0] alone without lanes) */
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
        if (B == 1) lane[lanes ? row & 7 : 0] += v * x[0];
        else for (int64_t t = 0; t < B; t++) acc[t] += v * x[t];
    }
    if (B == 1) acc[0] = lanes ? im_lanes_sum(lane) : lane[0];
    return CNN_OK;
}

#if defined(__GNUC__)
typedef REAL ivec8 __attribute__((vector_size(8 * sizeof(REAL))));

/* b = 1 and indices of IM_LANE_BITS bits or fewer: column c eight rows at a
 * time, their indices cut out of four bytes of the stream broadcast to the
 * 32-bit lanes of a vector (put in stream order there by one byte shuffle),
 * their values picked from the codebook held in a register
 * (__builtin_shuffle: one vpermps on AVX2) and multiplied by eight
 * consecutive entries of x, into partial sums in the order of im_lanes_sum.
 * The zero symbol is multiplied like any other (X is finite, its value is 0).
 * Cost: n / 8 vector steps, n % 8 scalar ones.  Against its previous form
 * (each step a 64-bit window of the stream moved into the vector, and the
 * indices compared with the codebook's size): 0.64-0.66x the time on
 * 512 x 4096 and 4096 x 4096, 0.81x on 192 x 1024 (paired, 2 and 3 values).
 * That form, against the eight-column rows
 * of im_oct at b = 1 (1 thread, paired medians): 0.40-0.46x the time on
 * 512 x 4096 and 4096 x 4096 (2 values, uniform; 3 values, skewed), 0.54-0.61x
 * on 192 x 1024.  Measured and not kept: widths 4-6 through 2-8 such
 * registers, one permute each and a blend per further index bit (0.97x the
 * time of im_oct at 5 bits, 1.6-1.9x at 6), and the values of any width
 * gathered from the codebook (vgatherdps: 1.4x at 1-6 bits); nor, for the
 * wider indices on the eight-column rows, a table of every row's products
 * with the codebook built per call, so that an entry costs a lookup and an
 * add (1.0x at 5-6 bits, 1.3-1.6x at 8-9 bits, where the table outgrows the
 * L1 cache). */
typedef uint32_t im_u32x8 __attribute__((vector_size(32)));
typedef uint8_t im_u8x32 __attribute__((vector_size(32)));

/* V: the codebook, full or NaN-padded to 2^width entries (see im_range), so
 * that every index reads a value: an index past the codebook makes the sum
 * NaN, and a column whose sum is not finite is summed again by im_column,
 * which reports the index (or, after an overflow, gives the same sums). */
CNN_INLINE int im_col8(const im_ctx *k, int64_t c, const REAL *V)
{
    typedef __typeof__((ivec8){0} < (ivec8){0}) im_mask8; /* integers of REAL's size */
    const uint8_t *S = k->stream;
    const REAL *restrict xt = k->xt;
    const int64_t n = k->n, w = k->width;
    int64_t p = c * n * w, row = 0;
    /* eight rows take 8 * w bits, whole bytes: every step's window starts at
     * the same bit o of its first byte, and its 32 bits hold o + 8 * w <= 31 */
    const uint32_t o = (uint32_t)(p & 7), u = (uint32_t)w;
    const im_u32x8 sl = {o, o + u, o + 2 * u, o + 3 * u, o + 4 * u, o + 5 * u, o + 6 * u, o + 7 * u};
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const im_u8x32 be = {3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                         19, 18, 17, 16, 23, 22, 21, 20, 27, 26, 25, 24, 31, 30, 29, 28};
#endif
    const int sr = 32 - (int)w;
    ivec8 acc = {0}, x, tab;
    for (int t = 0; t < 8; t++) tab[t] = V[t < (1 << w) ? t : 0];
    const uint8_t *b = S + (p >> 3);
    for (; row + 8 <= n; row += 8, b += w) {
        uint32_t raw;
        __builtin_memcpy(&raw, b, sizeof raw); /* the stream's byte order */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const im_u32x8 win = (im_u32x8)__builtin_shuffle((im_u8x32)((im_u32x8){0} + raw), be);
#else
        const im_u32x8 win = (im_u32x8){0} + raw;
#endif
        const im_u32x8 i = (win << sl) >> sr;
        __builtin_memcpy(&x, xt + row, sizeof x);
        acc += __builtin_shuffle(tab, __builtin_convertvector(i, im_mask8)) * x;
    }
    REAL lane[8];
    __builtin_memcpy(lane, &acc, sizeof lane);
    for (p += row * w; row < n; row++, p += w)
        lane[row & 7] += V[cnn_peek_be(S, p) >> (64 - w)] * xt[row];
    const REAL sum = im_lanes_sum(lane);
    if (!real_finite(&sum, 1)) return im_column(k, c, 1);
    k->out[c] = sum;
    return CNN_OK;
}

/* Columns c .. c+7 row by row, each row of X^T loaded once for the eight:
 * every index is read with one unaligned load from the byte stream (the
 * stream's length was checked against n * m * width), an index >= nsym is
 * remembered and reported after the columns, and the zero symbol is
 * multiplied like any other (X is finite, its value is 0). */
#define CNN_IM_V(I) V[FULL || (I) < (uint64_t)nsym ? (I) : 0]
#define CNN_IM_IDX(J)                                                         \
    const uint64_t i##J = cnn_peek_be(S, p + (J) * stride) >> sh;             \
    if (!FULL) bad |= i##J >= (uint64_t)nsym;                                 \
    const REAL v##J = CNN_IM_V(i##J);
/* Four rows of lane J from one window (width <= 14: 4 * 14 + 7 <= 64 bits):
 * the window holds the lane's rows from bit 63 - o down, o = p & 7 the bit
 * of lane 0's first row in its byte, and each index is cut out of it by
 * cnn_bits_at with control words shared by the eight lanes.  Where the
 * lanes' offsets differ by whole bytes (ALIGNED: stride % 8 == 0, so every
 * n divisible by 8), each window is one load; otherwise it is shifted into
 * place.  Against a peek and two shifts per index (the core runs two shifts
 * a cycle), 1 thread, paired medians, widths 4-9: 0.63-0.67x the time at
 * b = 1 and 0.64-0.67x at b = 8 (512 x 4096, 4096 x 4096, 192 x 1024, and
 * 300 and 784 rows), 0.95-0.97x and 0.87-0.90x where the offsets are not
 * whole bytes (301 and 100 rows); with ALIGNED a test inside the loop
 * instead of a constant, 0.80-0.82x at b = 1. */
#define CNN_IM_QUAD(J, X0, X1, X2, X3)                                        \
    {                                                                         \
        uint64_t x_;                                                          \
        if (ALIGNED) {                                                        \
            x_ = cnn_load_be(Sq + (J) * s8);                                  \
        } else {                                                              \
            const int64_t pj_ = p + (J) * stride;                             \
            x_ = cnn_peek_be(S, pj_) >> o;                                    \
        }                                                                     \
        const uint64_t i0_ = cnn_bits_at(x_, c0), i1_ = cnn_bits_at(x_, c1);  \
        const uint64_t i2_ = cnn_bits_at(x_, c2), i3_ = cnn_bits_at(x_, c3);  \
        if (!FULL)                                                            \
            bad |= (i0_ >= (uint64_t)nsym) | (i1_ >= (uint64_t)nsym)          \
                 | (i2_ >= (uint64_t)nsym) | (i3_ >= (uint64_t)nsym);         \
        /* row by row, as the other paths add (results do not depend on threads) */ \
        a##J += CNN_IM_V(i0_) * X0;                                           \
        a##J += CNN_IM_V(i1_) * X1;                                           \
        a##J += CNN_IM_V(i2_) * X2;                                           \
        a##J += CNN_IM_V(i3_) * X3;                                           \
    }
/* The window's offset o and its four rows' control words for cnn_bits_at,
 * shared by the lanes of a step. */
#define CNN_IM_QUAD_SETUP                                                     \
    const uint32_t o = (uint32_t)(p & 7);                                     \
    const uint8_t *Sq = S + (p >> 3);                                         \
    const uint32_t c0 = q0 - o, c1 = q0 - o - u, c2 = q0 - o - 2 * u, c3 = q0 - o - 3 * u;
/* FULL: V has 2^width entries, so that every index is valid. */
CNN_INLINE int im_oct(const im_ctx *k, int64_t c, const int64_t B, const int FULL, const int ALIGNED,
                      const REAL *V)
{
    const uint8_t *S = k->stream;
    const REAL *XT = k->xt;
    const int64_t n = k->n, nsym = k->nsym, w = k->width, stride = n * w;
    const int sh = 64 - (int)w;
    /* the quads: row k of a window at bit 64 - (k + 1) w - o (cnn_bits_at) */
    const int64_t s8 = stride / 8;
    const uint32_t u = (uint32_t)w, q0 = (uint32_t)(64 - w) | (uint32_t)w << 8;
    int64_t p = c * stride;
    uint64_t bad = 0;
    if (B == 8) {
        ivec8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        int64_t row = 0;
        if (w <= 14)
            for (; row + 4 <= n; row += 4, p += 4 * w) {
                ivec8 x0, x1, x2, x3;
                __builtin_memcpy(&x0, XT + row * 8, sizeof x0);
                __builtin_memcpy(&x1, XT + row * 8 + 8, sizeof x1);
                __builtin_memcpy(&x2, XT + row * 8 + 16, sizeof x2);
                __builtin_memcpy(&x3, XT + row * 8 + 24, sizeof x3);
                CNN_IM_QUAD_SETUP
                CNN_IM_QUAD(0, x0, x1, x2, x3) CNN_IM_QUAD(1, x0, x1, x2, x3)
                CNN_IM_QUAD(2, x0, x1, x2, x3) CNN_IM_QUAD(3, x0, x1, x2, x3)
                CNN_IM_QUAD(4, x0, x1, x2, x3) CNN_IM_QUAD(5, x0, x1, x2, x3)
                CNN_IM_QUAD(6, x0, x1, x2, x3) CNN_IM_QUAD(7, x0, x1, x2, x3)
            }
        for (; row < n; row++, p += w) {
            ivec8 xx;
            __builtin_memcpy(&xx, XT + row * 8, sizeof xx);
            CNN_IM_IDX(0) CNN_IM_IDX(1) CNN_IM_IDX(2) CNN_IM_IDX(3)
            CNN_IM_IDX(4) CNN_IM_IDX(5) CNN_IM_IDX(6) CNN_IM_IDX(7)
            a0 += v0 * xx, a1 += v1 * xx, a2 += v2 * xx, a3 += v3 * xx;
            a4 += v4 * xx, a5 += v5 * xx, a6 += v6 * xx, a7 += v7 * xx;
        }
        REAL *o = k->out + c * 8;
        __builtin_memcpy(o, &a0, sizeof a0), __builtin_memcpy(o + 8, &a1, sizeof a1);
        __builtin_memcpy(o + 16, &a2, sizeof a2), __builtin_memcpy(o + 24, &a3, sizeof a3);
        __builtin_memcpy(o + 32, &a4, sizeof a4), __builtin_memcpy(o + 40, &a5, sizeof a5);
        __builtin_memcpy(o + 48, &a6, sizeof a6), __builtin_memcpy(o + 56, &a7, sizeof a7);
    } else {
        REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        int64_t row = 0;
        if (w <= 14)
            for (; row + 4 <= n; row += 4, p += 4 * w) {
                const REAL x0 = XT[row], x1 = XT[row + 1], x2 = XT[row + 2], x3 = XT[row + 3];
                CNN_IM_QUAD_SETUP
                CNN_IM_QUAD(0, x0, x1, x2, x3) CNN_IM_QUAD(1, x0, x1, x2, x3)
                CNN_IM_QUAD(2, x0, x1, x2, x3) CNN_IM_QUAD(3, x0, x1, x2, x3)
                CNN_IM_QUAD(4, x0, x1, x2, x3) CNN_IM_QUAD(5, x0, x1, x2, x3)
                CNN_IM_QUAD(6, x0, x1, x2, x3) CNN_IM_QUAD(7, x0, x1, x2, x3)
            }
        for (; row < n; row++, p += w) {
            const REAL x = XT[row];
            CNN_IM_IDX(0) CNN_IM_IDX(1) CNN_IM_IDX(2) CNN_IM_IDX(3)
            CNN_IM_IDX(4) CNN_IM_IDX(5) CNN_IM_IDX(6) CNN_IM_IDX(7)
            a0 += v0 * x, a1 += v1 * x, a2 += v2 * x, a3 += v3 * x;
            a4 += v4 * x, a5 += v5 * x, a6 += v6 * x, a7 += v7 * x;
        }
        REAL *o = k->out + c;
        o[0] = a0, o[1] = a1, o[2] = a2, o[3] = a3, o[4] = a4, o[5] = a5, o[6] = a6, o[7] = a7;
    }
    return bad ? CNN_ERR_CORRUPT : CNN_OK;
}
#undef CNN_IM_IDX
#undef CNN_IM_QUAD
#undef CNN_IM_QUAD_SETUP
#undef CNN_IM_V
#define CNN_IM_OCT 1
#else
#define CNN_IM_OCT 0
#endif

/* Not auto-vectorized: GCC turns the eight-column loop at b = 1 into gathers,
 * several times slower than the scalar loads (the b = 8 loop is written with
 * vector types and needs no vectorizer). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static int im_range(void *vctx, int64_t c0, int64_t c1)
{
    const im_ctx *k = (const im_ctx *)vctx;
    int64_t c = c0;
#if CNN_IM_OCT
    if (k->stream) {
        const REAL *V = k->nsym == ((int64_t)1 << k->width) ? k->values : k->vpad;
        if (im_lanes(k, k->b)) { /* V is NULL: a short codebook with a value not finite */
            for (; c < c1; c++) {
                const int st = V ? im_col8(k, c, V) : im_column(k, c, 1);
                if (st) return st;
            }
            return CNN_OK;
        }
        const int64_t stride = k->n * k->width; /* bits per column */
        for (; c + 8 <= c1; c += 8) {
            /* with every index valid (a full or NaN-padded codebook), eight
             * columns with a sum that is not finite are summed again with the
             * index checks, which report an index past the codebook or (after
             * an overflow) give the same sums */
            int st = CNN_OK, checked = V == NULL;
            if (V) {
                if (stride % 8 == 0)
                    st = k->b == 8 ? im_oct(k, c, 8, 1, 1, V) : im_oct(k, c, 1, 1, 1, V);
                else
                    st = k->b == 8 ? im_oct(k, c, 8, 1, 0, V) : im_oct(k, c, 1, 1, 0, V);
                checked = !real_finite(k->out + c * k->b, 8 * k->b);
            }
            if (checked)
                st = k->b == 8 ? im_oct(k, c, 8, 0, 0, k->values) : im_oct(k, c, 1, 0, 0, k->values);
            if (st) return st;
        }
    }
#endif
    for (; c < c1; c++) {
        int st;
        if (k->b == 1) st = im_column(k, c, 1);
        else if (k->b == 8) st = im_column(k, c, 8);
        else st = im_column(k, c, k->b);
        if (st) return st;
    }
    return CNN_OK;
}

static int im_matmat(int64_t n, int64_t m,
                     const void *words, int64_t nwords, int wordbits, int width,
                     const uint8_t *stream, int64_t nstream, const REAL *values, int64_t nsym, int64_t zero_sym,
                     const REAL *xt, int64_t b, REAL *out, int threads, cnn_pool *pool)
{
    if (n < 0 || m < 0 || b < 0 || threads < 1) return CNN_ERR_ARG;
    if (width < 0 || width > 32 || zero_sym < -1 || zero_sym >= nsym) return CNN_ERR_ARG;
    im_ctx k;
    int st = cnn_br_init(&k.proto, words, nwords, wordbits);
    if (st) return st;
    if (n > 0 && m > 0 && (double)n * (double)m * width > 32.0 * (double)k.proto.nchunks)
        return CNN_ERR_CORRUPT;
    if (stream != NULL && nstream != 4 * k.proto.nchunks + 8) return CNN_ERR_ARG;
    if (m == 0 || b == 0) return CNN_OK;
    for (int64_t i = 0; i < m * b; i++) out[i] = 0;
    if (n == 0) return CNN_OK;
    if (nsym == 0) return CNN_ERR_CORRUPT;
    /* no index bits, every entry zero (an all-zero matrix): the sums are the
     * zeros above, where the rows' loop took 0.7 ns an entry to find that */
    if (width == 0 && zero_sym == 0) return CNN_OK;
    k.n = n;
    k.b = b;
    k.nsym = nsym;
    k.zero_sym = zero_sym;
    k.width = width;
    k.values = values;
    k.xt = xt;
    k.out = out;
    /* the branch-free paths: a byte stream, 1 <= width <= 32 (a 64-bit peek holds
     * at least 57 stream bits), b = 1 or 8, finite X, and zero's value 0 */
    k.stream = (stream != NULL && width > 0 && (b == 1 || b == 8)
                && (zero_sym < 0 || values[zero_sym] == 0) && real_finite(xt, n * b))
             ? stream : NULL;
    /* a codebook short of 2^width entries is padded with NaN, so that the
     * eight-column paths need no index check (the speed of a full codebook),
     * where the padded codebook stays small and every value is finite */
    REAL vpad[1 << IM_PAD_BITS];
    k.vpad = NULL;
    if (k.stream != NULL && width <= IM_PAD_BITS && nsym < ((int64_t)1 << width)
        && real_finite(values, nsym)) {
        for (int64_t i = 0; i < ((int64_t)1 << width); i++)
            vpad[i] = i < nsym ? values[i] : (REAL)__builtin_nan("");
        k.vpad = vpad;
    }
    return cnn_parallel_for(pool, threads, m, NULL, im_range, &k);
}

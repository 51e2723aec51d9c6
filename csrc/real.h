/* real.h: helpers over the value type REAL (float or double), for the kernel
 * headers (*_kernel.h) that the per-type files (*_f32.c, *_f64.c) include
 * with REAL defined.  Static, so every such file has its own copy. */
#ifndef COMPACTNN_REAL_H
#define COMPACTNN_REAL_H

#include "internal.h"

/* 1 when no element of x[len] is Inf or NaN: the lockstep paths multiply zero
 * entries too, which only finite X allows (0 * Inf is NaN). */
static inline int real_finite(const REAL *x, int64_t len)
{
    int bad = 0;
    for (int64_t i = 0; i < len; i++) bad |= !(x[i] - x[i] == 0);
    return !bad;
}

/* A split table (split_table): the lengths, then the values at a constant
 * offset from them, so that one register addresses both (split_tv).  With a
 * separate pointer for the values, which sHAM's four-lane decoder kept on
 * the stack for want of registers, sHAM took 1.01-1.06x this time at b = 1
 * and 0.95-1.05x at b = 8, HAM 0.96-1.06x (512 x 4096, 4096 x 4096 and
 * 192 x 1024, uniform and skewed, 1 thread, paired). */
typedef struct {
    uint8_t tl[1 << CNN_TABLE_BITS];
    REAL tv[1 << CNN_TABLE_BITS];
} split_tables;

/* The value of entry ix of the split table whose lengths start at tl. */
static inline REAL split_tv(const uint8_t *tl, uint64_t ix)
{
    return ((const split_tables *)(const void *)tl)->tv[ix];
}

/* The split decode table of width tb <= CNN_TABLE_BITS: for every tb-bit
 * window (the top bits of cnn_peek_be), tl holds the length of the codeword
 * the window starts with (0 when that codeword is longer than tb bits: the
 * slow path) and tv the value it stands for, so that a codeword costs two
 * loads from one index and no symbol indirection.  tl, tv: 1 << tb entries;
 * values: h->nsym entries; cost 1 << tb stores into each. */
static inline void split_table(const cnn_huff *h, const REAL *values, int tb, uint8_t *tl, REAL *tv)
{
    for (int64_t i = 0; i < ((int64_t)1 << tb); i++) {
        tl[i] = 0;
        tv[i] = 0;
    }
    for (int l = 1; l <= h->maxlen && l <= tb; l++) {
        for (uint64_t d = 0; d < h->count[l]; d++) {
            const uint64_t lo = (h->first[l] + d) << (tb - l), hi = (h->first[l] + d + 1) << (tb - l);
            for (uint64_t i = lo; i < hi; i++) {
                tl[i] = (uint8_t)l;
                tv[i] = values[h->offset[l] + d];
            }
        }
    }
}

#endif

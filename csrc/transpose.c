/* transpose.c: X (b x n) to xt (n x b), the layout the products read. */
#include "internal.h"

/* Blocks of 8 rows of x, so that each row of out is written whole from eight
 * sequential reads; rows == 8 (the batch of the benchmarks) unrolls fully. */
#define CNN_TRANSPOSE(SUFFIX, REAL)                                                         \
    int cnn_transpose_##SUFFIX(const REAL *x, int64_t rows, int64_t cols, REAL *out,        \
                               int64_t nout)                                                \
    {                                                                                       \
        if (rows < 0 || cols < 0 || (rows > 0 && cols > INT64_MAX / rows)) return CNN_ERR_ARG; \
        if (nout != rows * cols) return CNN_ERR_ARG;                                        \
        if (rows == 8) {                                                                    \
            for (int64_t c = 0; c < cols; c++)                                              \
                for (int64_t r = 0; r < 8; r++) out[c * 8 + r] = x[r * cols + c];           \
            return CNN_OK;                                                                  \
        }                                                                                   \
        for (int64_t r0 = 0; r0 < rows; r0 += 8) {                                          \
            const int64_t r1 = r0 + 8 < rows ? r0 + 8 : rows;                               \
            for (int64_t c = 0; c < cols; c++)                                              \
                for (int64_t r = r0; r < r1; r++) out[c * rows + r] = x[r * cols + c];      \
        }                                                                                   \
        return CNN_OK;                                                                      \
    }

CNN_TRANSPOSE(f32, float)
CNN_TRANSPOSE(f64, double)

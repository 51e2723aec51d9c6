/* compactnn.h: the one public header of the compactnn C kernels.
 *
 * Conventions (after SciPy's sparsetools): fixed-width integer types; the
 * caller allocates every array, outputs included, and passes every length;
 * no global state; every function returns an int status (CNN_OK == 0),
 * which cnn_strerror() turns into a message.
 *
 * The section between the CDEF markers is read verbatim by the cffi build
 * script (lib/compactnn/_build_native.py), so it must stay plain C
 * declarations without preprocessor directives.
 */
#ifndef COMPACTNN_H
#define COMPACTNN_H

#include <stddef.h>
#include <stdint.h>

/* CDEF BEGIN */

enum cnn_status {
    CNN_OK = 0,
    CNN_ERR_ARG = 1,      /* an argument or array length is invalid */
    CNN_ERR_CORRUPT = 2,  /* compressed data inconsistent with its header */
    CNN_ERR_CODE = 3,     /* invalid Huffman code description */
    CNN_ERR_NOMEM = 4,    /* allocation failed */
    CNN_ERR_THREAD = 5    /* a worker thread could not be started */
};

/* Compile-time build options, readable from Python. */
enum cnn_build {
    CNN_TABLE_BITS = 12,    /* width of the primary Huffman decode table */
    CNN_MAX_CODE_LEN = 32,  /* longest Huffman codeword supported */
    CNN_MAX_THREADS = 256,  /* upper bound on worker threads per call */
    CNN_MAX_TABLE_SYMBOL = 2097151  /* symbols above this decode on the slow path */
};

/* Message for a status code (static storage, never NULL). */
const char *cnn_strerror(int status);

/* CDEF END */

#endif /* COMPACTNN_H */

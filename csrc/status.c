/* status.c: status codes to messages. */
#include "compactnn.h"

const char *cnn_strerror(int status)
{
    switch (status) {
    case CNN_OK: return "ok";
    case CNN_ERR_ARG: return "invalid argument or array length";
    case CNN_ERR_CORRUPT: return "compressed data is corrupted or inconsistent with its header";
    case CNN_ERR_CODE: return "invalid Huffman code description";
    case CNN_ERR_NOMEM: return "out of memory";
    case CNN_ERR_THREAD: return "could not start a worker thread";
    default: return "unknown status";
    }
}

/* ham.c: X @ W for the Huffman Address Map (HAM) format, float32 and float64. */
#include "internal.h"

#define CNN_TEMPLATE "ham_impl.h"
#include "instantiate.h"

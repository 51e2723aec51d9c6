/* sham.c: X @ W for the sparse Huffman Address Map (sHAM), float32 and float64. */
#include "internal.h"

#define CNN_TEMPLATE "sham_impl.h"
#include "instantiate.h"

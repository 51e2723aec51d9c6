/* sham.c: X @ W for the sparse Huffman Address Map (sHAM), float32 and float64. */
#include "internal.h"

#define REAL float
#define SFX(name) name##_f32
#include "sham_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "sham_impl.h"
#undef REAL
#undef SFX

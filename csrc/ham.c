/* ham.c: X @ W for the Huffman Address Map (HAM) format, float32 and float64. */
#include "internal.h"

#define REAL float
#define SFX(name) name##_f32
#include "ham_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "ham_impl.h"
#undef REAL
#undef SFX

/* cser.c: X @ W for CER and CSER (Wiedemann et al., TNNLS 2020), float32 and float64. */
#include <stdlib.h>

#include "internal.h"

#define REAL float
#define SFX(name) name##_f32
#include "cser_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "cser_impl.h"
#undef REAL
#undef SFX

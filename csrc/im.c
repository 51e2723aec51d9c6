/* im.c: X @ W for the index map (IM) format, float32 and float64. */
#include "internal.h"

#define REAL float
#define SFX(name) name##_f32
#include "im_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "im_impl.h"
#undef REAL
#undef SFX

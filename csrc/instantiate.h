/* instantiate.h: compile a kernel template for float32 and float64.
 *
 * Usage, in a .c file:   #define CNN_TEMPLATE "ham_impl.h"
 *                        #include "instantiate.h"
 * The template sees REAL (the value type) and SFX(name) (name_f32 / name_f64).
 */
#ifndef CNN_TEMPLATE
#error "define CNN_TEMPLATE before including instantiate.h"
#endif

#define REAL float
#define SFX(name) name##_f32
#include CNN_TEMPLATE
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include CNN_TEMPLATE
#undef REAL
#undef SFX

#undef CNN_TEMPLATE

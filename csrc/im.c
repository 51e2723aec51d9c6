/* im.c: X @ W for the index map (IM) format, float32 and float64. */
#include "internal.h"

#define CNN_TEMPLATE "im_impl.h"
#include "instantiate.h"

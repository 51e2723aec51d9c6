/* cser.c: X @ W for CER and CSER (Wiedemann et al., TNNLS 2020), float32 and float64. */
#include <stdlib.h>

#include "internal.h"

#define CNN_TEMPLATE "cser_impl.h"
#include "instantiate.h"

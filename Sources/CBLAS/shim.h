#ifndef BETTY_CBLAS_SHIM_H
#define BETTY_CBLAS_SHIM_H
// Debian puts the OpenBLAS header under an alternatives path; this one is always there.
#include <x86_64-linux-gnu/openblas-pthread/cblas.h>
#endif

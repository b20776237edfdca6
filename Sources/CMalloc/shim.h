#ifndef BETTY_CMALLOC_SHIM_H
#define BETTY_CMALLOC_SHIM_H
// glibc's allocator tuning (mallopt), which Swift's Glibc module does not import.
#include <malloc.h>
#endif

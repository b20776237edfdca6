#ifndef BETTY_CZLIB_SHIM_H
#define BETTY_CZLIB_SHIM_H
// The system zlib (Debian's zlib1g-dev). Its init macros pass the library's version and the
// stream's size and do not import into Swift: one function each.
#include <zlib.h>

/// A raw deflate stream (no zlib header or trailer), as a zip member holds.
static inline int betty_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -MAX_WBITS);
}

static inline int betty_deflate_init_raw(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}

#endif

#ifndef BETTY_CNCURSES_SHIM_H
#define BETTY_CNCURSES_SHIM_H

// Wide-character curses without pkgConfig: SwiftPM would drop the feature macros pkg-config adds.
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <langinfo.h>
#include <stdio.h>
#include <ncursesw/curses.h>

// Macros and C globals do not import (or are concurrency errors in Swift 6): one accessor each.
static inline WINDOW *betty_stdscr(void) { return stdscr; }
static inline int betty_lines(void) { return LINES; }
static inline int betty_cols(void) { return COLS; }
static inline int betty_maxy(WINDOW *w) { int y, x; getmaxyx(w, y, x); (void)x; return y; }
static inline int betty_maxx(WINDOW *w) { int y, x; getmaxyx(w, y, x); (void)y; return x; }
static inline attr_t betty_a_normal(void) { return A_NORMAL; }
static inline attr_t betty_a_bold(void) { return A_BOLD; }
static inline attr_t betty_a_dim(void) { return A_DIM; }
static inline attr_t betty_a_reverse(void) { return A_REVERSE; }
static inline int betty_color_pair(int n) { return COLOR_PAIR(n); }
static inline int betty_key_resize(void) { return KEY_RESIZE; }
static inline int betty_key_code_yes(void) { return KEY_CODE_YES; }
static inline int betty_err(void) { return ERR; }
static inline int betty_ok(void) { return OK; }
static inline const char *betty_codeset(void) { return nl_langinfo(CODESET); }
static inline int betty_lc_all(void) { return LC_ALL; }

#endif

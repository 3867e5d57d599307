/* The web page of relage serve: web/index.html, embedded at build time (cmake/embed.cmake). */
#ifndef RELAGE_SERVE_PAGE_H
#define RELAGE_SERVE_PAGE_H

#include <stddef.h>

extern const char serve_page[];
extern const size_t serve_page_size;

#endif

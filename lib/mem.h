/* mem: allocation with an injectable failure, so that tests can reach every ENOMEM path.
 *
 * Pat's code allocates through these wrappers. They behave as malloc/calloc/realloc/strdup
 * and free, except that a test may arm mem_fail_after(n): the n-th allocation from then on
 * (0 = the next one) returns NULL, as do all later ones while `sticky` is set. */
#ifndef PAT_LIB_MEM_H
#define PAT_LIB_MEM_H

#include <stdbool.h>
#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/* Make the n-th allocation from now on fail (and every later one, when sticky). */
void mem_fail_after(long n, bool sticky);
/* Stop injecting failures. */
void mem_fail_reset(void);
/* How many allocations were attempted since the last mem_fail_after()/mem_fail_reset(). */
long mem_count(void);

#endif

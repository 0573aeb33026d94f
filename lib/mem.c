/* mem: see mem.h. The failure counter is atomic so that the wrappers are safe to call from any
 * thread; when no failure is armed the cost is one relaxed atomic load and one increment. */
#include "lib/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_at = -1; /* allocation index that fails, or -1 */
static atomic_bool fail_sticky;
static atomic_long counter;

static bool should_fail(void)
{
	long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
	long n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);

	if (at < 0)
		return false;
	return n == at || (n > at && atomic_load_explicit(&fail_sticky, memory_order_relaxed));
}

void *mem_alloc(size_t size)
{
	return should_fail() ? NULL : malloc(size == 0 ? 1 : size);
}

void *mem_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

void *mem_realloc(void *p, size_t size)
{
	return should_fail() ? NULL : realloc(p, size == 0 ? 1 : size);
}

char *mem_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = mem_alloc(len + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

void mem_free(void *p)
{
	free(p);
}

void mem_fail_after(long n, bool sticky)
{
	atomic_store(&counter, 0);
	atomic_store(&fail_sticky, sticky);
	atomic_store(&fail_at, n);
}

void mem_fail_reset(void)
{
	atomic_store(&fail_at, -1);
	atomic_store(&counter, 0);
}

long mem_count(void)
{
	return atomic_load(&counter);
}

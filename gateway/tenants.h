/* tenants: which tenant a message belongs to: the AUTH user's, else the one its first
 * recipient's domain maps to, else the listener's. */
#ifndef PAT_GATEWAY_TENANTS_H
#define PAT_GATEWAY_TENANTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct tenant_domain {
	char *domain; /* lower case */
	char *tenant;
};

struct tenant_map {
	struct tenant_domain *entries;
	size_t n;
};

/* Parse "domain tenant" lines ('#' comments and blank lines skipped); errors name the line.
 * A tenant name is lower-case letters, digits and '-'. */
int tenant_map_parse(struct tenant_map *m, const char *text, size_t len, const char *name, struct pat_err *err);
void tenant_map_free(struct tenant_map *m);

/* A tenant name: 1 to 63 lower-case letters, digits and '-', not starting with '-'. */
bool tenant_name_valid(const char *name);

/* The tenant for a message: auth_tenant if not empty, else the mapped domain of the first of
 * the comma-separated recipients, else fallback. */
const char *tenant_resolve(const struct tenant_map *m, const char *auth_tenant, const char *rcpt_to,
			   const char *fallback);

#endif

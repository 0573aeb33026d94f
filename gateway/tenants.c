/* tenants: see tenants.h. */
#include "gateway/tenants.h"

#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"

void tenant_map_free(struct tenant_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		mem_free(m->entries[i].domain);
		mem_free(m->entries[i].tenant);
	}
	mem_free(m->entries);
	m->entries = NULL;
	m->n = 0;
}

bool tenant_name_valid(const char *t)
{
	if (t[0] == '\0' || t[0] == '-' || strlen(t) > 63)
		return false;
	for (; *t != '\0'; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '-'))
			return false;
	return true;
}

int tenant_map_parse(struct tenant_map *m, const char *text, size_t len, const char *name, struct pat_err *err)
{
	size_t line = 0, off = 0;

	memset(m, 0, sizeof *m);
	for (;;) {
		char buf[512], domain[256], tenant[128], extra[8];
		struct tenant_domain *grown;
		int k, got = str_next_line(text, len, &off, buf, sizeof buf, &line);

		if (got == 0)
			break;
		if (got < 0) {
			tenant_map_free(m);
			return err_set(err, PAT_EINVAL, "%s:%zu: line too long", name, line);
		}
		k = sscanf(buf, "%255s %127s %7s", domain, tenant, extra);
		if (k != 2 || strchr(domain, '@') != NULL || !tenant_name_valid(tenant)) {
			tenant_map_free(m);
			return err_set(err, PAT_EINVAL, "%s:%zu: expected \"domain tenant\", the tenant in lower-case letters, digits and '-'",
				       name, line);
		}
		str_lower(domain);
		grown = mem_realloc(m->entries, (m->n + 1) * sizeof *grown);
		if (grown == NULL) {
			tenant_map_free(m);
			return err_set(err, PAT_ENOMEM, "out of memory");
		}
		m->entries = grown;
		m->entries[m->n].domain = mem_strdup(domain);
		m->entries[m->n].tenant = mem_strdup(tenant);
		m->n++;
		if (m->entries[m->n - 1].domain == NULL || m->entries[m->n - 1].tenant == NULL) {
			tenant_map_free(m);
			return err_set(err, PAT_ENOMEM, "out of memory");
		}
	}
	return PAT_OK;
}

const char *tenant_resolve(const struct tenant_map *m, const char *auth_tenant, const char *rcpt_to,
			   const char *fallback)
{
	const char *at, *end;
	char domain[256];
	size_t n;

	if (auth_tenant != NULL && auth_tenant[0] != '\0')
		return auth_tenant;
	if (m == NULL || rcpt_to == NULL || (at = strchr(rcpt_to, '@')) == NULL)
		return fallback;
	end = strchr(at, ',');
	n = end != NULL ? (size_t)(end - at - 1) : strlen(at + 1);
	if (n == 0 || n >= sizeof domain)
		return fallback;
	memcpy(domain, at + 1, n);
	domain[n] = '\0';
	str_lower(domain);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].domain, domain) == 0)
			return m->entries[i].tenant;
	return fallback;
}

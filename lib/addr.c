/* addr: see addr.h. Nothing here resolves names: configuration is checked before the network is
 * up, and a check must give the same answer on every machine. */
#include "lib/addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/err.h"
#include "lib/str.h"
#include "lib/units.h"

static bool valid_dns_name(const char *h)
{
	size_t len = strlen(h), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = h[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return true;
}

static int fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return PAT_EINVAL;
}

int addr_parse(const char *s, bool allow_port_zero, struct addr_hostport *out, const char **why)
{
	const char *colon, *port;
	size_t hlen;
	int64_t p;
	unsigned char bin[16];

	memset(out, 0, sizeof *out);
	if (s == NULL || *s == '\0')
		return fail(why, "empty address");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return fail(why, "missing ']' after IPv6 address");
		if (close[1] != ':')
			return fail(why, "missing ':PORT' after ']'");
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= sizeof out->host)
			return fail(why, "bad IPv6 address");
		memcpy(out->host, s + 1, hlen);
		out->host[hlen] = '\0';
		if (inet_pton(AF_INET6, out->host, bin) != 1)
			return fail(why, "bad IPv6 address");
		out->ipv6 = true;
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return fail(why, "missing ':PORT'");
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return fail(why, "IPv6 addresses must be written in brackets, as [::1]:PORT");
		hlen = (size_t)(colon - s);
		if (hlen == 0)
			return fail(why, "missing host before ':PORT'");
		if (hlen >= sizeof out->host)
			return fail(why, "host name too long");
		memcpy(out->host, s, hlen);
		out->host[hlen] = '\0';
		if (inet_pton(AF_INET, out->host, bin) != 1) {
			bool numeric = strspn(out->host, "0123456789.") == hlen;

			if (numeric || !valid_dns_name(out->host))
				return fail(why, "bad host: expected an IPv4 address, [IPv6] or a DNS name");
		}
		port = colon + 1;
	}
	if (units_parse_int(port, allow_port_zero ? 0 : 1, 65535, &p) != PAT_OK)
		return fail(why, allow_port_zero ? "bad port: expected 0-65535" : "bad port: expected 1-65535");
	out->port = (uint16_t)p;
	return PAT_OK;
}

int addr_parse_list(const char *s, bool allow_port_zero,
		    int (*cb)(const struct addr_hostport *a, void *data), void *data, const char **why)
{
	const char *p = s;

	if (s == NULL)
		return fail(why, "empty list");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char item[ADDR_HOST_MAX + 16];
		struct addr_hostport a;
		int rv;

		if (len >= sizeof item)
			return fail(why, "address too long");
		memcpy(item, p, len);
		item[len] = '\0';
		str_trim(item);
		if (item[0] == '\0')
			return fail(why, "empty item in the list");
		rv = addr_parse(item, allow_port_zero, &a, why);
		if (rv != PAT_OK)
			return rv;
		if (cb != NULL && (rv = cb(&a, data)) != PAT_OK)
			return rv;
		if (comma == NULL)
			return PAT_OK;
		p = comma + 1;
	}
}

bool addr_is_loopback(const struct addr_hostport *a)
{
	unsigned char bin[16];

	if (str_eq_nocase(a->host, "localhost"))
		return true;
	if (a->ipv6)
		return inet_pton(AF_INET6, a->host, bin) == 1 && memcmp(bin, in6addr_loopback.s6_addr, 16) == 0;
	return inet_pton(AF_INET, a->host, bin) == 1 && bin[0] == 127;
}

/* addr: network addresses as people write them: "host:port", "[::1]:1025", lists "a,b,c". */
#ifndef PAT_LIB_ADDR_H
#define PAT_LIB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_HOST_MAX 254 /* a 253-byte DNS name and its NUL */

struct addr_hostport {
	char host[ADDR_HOST_MAX]; /* IPv4 literal, IPv6 literal without brackets, or DNS name */
	uint16_t port;            /* 0 only when the caller allowed it */
	bool ipv6;                /* host is an IPv6 literal */
};

/* Parse "host:port" or "[v6]:port" without resolving anything. The host must be an IPv4 or
 * IPv6 literal or a syntactically valid DNS name; the port 1-65535, or 0 when allow_port_zero
 * (a listener that lets the kernel pick). On PAT_EINVAL, why (if not NULL) gets a short reason. */
int addr_parse(const char *s, bool allow_port_zero, struct addr_hostport *out, const char **why);

/* Parse a comma-separated list (spaces around items allowed), calling cb for each address;
 * an empty item is an error. Stops at the first error or non-zero return of cb. */
int addr_parse_list(const char *s, bool allow_port_zero,
		    int (*cb)(const struct addr_hostport *a, void *data), void *data, const char **why);

/* True for 127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach. */
bool addr_is_loopback(const struct addr_hostport *a);

#endif

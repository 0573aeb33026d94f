/* auth: the SMTP users of `[smtp] auth = users`: a file of `user:password[:tenant]` lines,
 * checked for AUTH PLAIN, LOGIN and CRAM-MD5, each user optionally tied to a tenant. */
#ifndef PAT_GATEWAY_AUTH_H
#define PAT_GATEWAY_AUTH_H

#include <stddef.h>

#include "lib/err.h"

struct auth_user {
	char *name;
	char *password;
	char *tenant; /* NULL: the listener's tenant */
};

struct auth_users {
	struct auth_user *users;
	size_t n;
};

/* Parse the file's text (name is used in messages). Blank lines and lines starting with '#'
 * are skipped; every other line must be user:password or user:password:tenant, with a user
 * named once. Errors name the line. */
int auth_users_parse(struct auth_users *u, const char *text, size_t len, const char *name, struct pat_err *err);
void auth_users_free(struct auth_users *u);

/* The user with this name and password, or NULL (compared in constant time). */
const struct auth_user *auth_check_password(const struct auth_users *u, const char *user, const char *password);
/* CRAM-MD5: the user whose HMAC-MD5(password, challenge) is hex_digest, or NULL. */
const struct auth_user *auth_check_cram_md5(const struct auth_users *u, const char *user, const char *challenge,
					    const char *hex_digest);

#endif

/* auth: see auth.h. Passwords are compared with CRYPTO_memcmp so that timing tells nothing. */
#include "gateway/auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"

void auth_users_free(struct auth_users *u)
{
	for (size_t i = 0; i < u->n; i++) {
		mem_free(u->users[i].name);
		if (u->users[i].password != NULL)
			OPENSSL_cleanse(u->users[i].password, strlen(u->users[i].password));
		mem_free(u->users[i].password);
		mem_free(u->users[i].tenant);
	}
	mem_free(u->users);
	u->users = NULL;
	u->n = 0;
}

int auth_users_parse(struct auth_users *u, const char *text, size_t len, const char *name, struct pat_err *err)
{
	size_t line = 0, off = 0;

	memset(u, 0, sizeof *u);
	for (;;) {
		char buf[1024], *user, *pass, *tenant;
		struct auth_user *grown;
		int got = str_next_line(text, len, &off, buf, sizeof buf, &line);

		if (got == 0)
			break;
		if (got < 0) {
			auth_users_free(u);
			return err_set(err, PAT_EINVAL, "%s:%zu: line too long", name, line);
		}
		user = buf;
		pass = strchr(buf, ':');
		if (pass == NULL || pass == user || pass[1] == '\0') {
			auth_users_free(u);
			return err_set(err, PAT_EINVAL, "%s:%zu: expected user:password or user:password:tenant", name, line);
		}
		*pass++ = '\0';
		tenant = strchr(pass, ':');
		if (tenant != NULL)
			*tenant++ = '\0';
		for (size_t i = 0; i < u->n; i++)
			if (strcmp(u->users[i].name, user) == 0) {
				auth_users_free(u);
				return err_set(err, PAT_EINVAL, "%s:%zu: user %s is named twice", name, line, user);
			}
		grown = mem_realloc(u->users, (u->n + 1) * sizeof *grown);
		if (grown == NULL) {
			auth_users_free(u);
			return err_set(err, PAT_ENOMEM, "out of memory");
		}
		u->users = grown;
		u->users[u->n] = (struct auth_user){ mem_strdup(user), mem_strdup(pass),
						     tenant != NULL && tenant[0] != '\0' ? mem_strdup(tenant) : NULL };
		u->n++;
		if (u->users[u->n - 1].name == NULL || u->users[u->n - 1].password == NULL) {
			auth_users_free(u);
			return err_set(err, PAT_ENOMEM, "out of memory");
		}
	}
	if (u->n == 0)
		return err_set(err, PAT_EINVAL, "%s: no users (expected user:password lines)", name);
	return PAT_OK;
}

static const struct auth_user *find(const struct auth_users *u, const char *user)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->users[i].name, user) == 0)
			return &u->users[i];
	return NULL;
}

const struct auth_user *auth_check_password(const struct auth_users *u, const char *user, const char *password)
{
	const struct auth_user *e = find(u, user);
	size_t n = strlen(password);

	if (e == NULL || strlen(e->password) != n || CRYPTO_memcmp(e->password, password, n) != 0)
		return NULL;
	return e;
}

const struct auth_user *auth_check_cram_md5(const struct auth_users *u, const char *user, const char *challenge,
					    const char *hex_digest)
{
	const struct auth_user *e = find(u, user);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (e == NULL || HMAC(EVP_md5(), e->password, (int)strlen(e->password), (const unsigned char *)challenge,
			      strlen(challenge), mac, &len) == NULL)
		return NULL;
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	if (strlen(hex_digest) != 2 * len || CRYPTO_memcmp(hex, hex_digest, 2 * len) != 0)
		return NULL;
	return e;
}

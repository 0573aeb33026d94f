/* relay: see relay.h. */
#include "gateway/relay.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_message(char *out, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t room = size * n, left = u->len - u->off;
	size_t k = left < room ? left : room;

	memcpy(out, u->data + u->off, k);
	u->off += k;
	return k;
}

/* A host as an URL may hold it: letters, digits, '.', '-', and ':' for IPv6 literals. */
static bool host_ok(const char *h)
{
	if (h == NULL || h[0] == '\0' || strlen(h) > 253)
		return false;
	for (; *h != '\0'; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') || *h == '.' ||
		      *h == '-' || *h == ':'))
			return false;
	return true;
}

int relay_send(const struct relay_target *t, const char *data, size_t len, struct pat_err *err)
{
	struct upload u = { data, len, 0 };
	char url[300], from[600], to[600], options[32], why[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	CURLcode rc;
	CURL *c;

	if (!host_ok(t->host))
		return err_set(err, PAT_EINVAL, "\"%.64s\" is not a host name or address", t->host ? t->host : "");
	if (t->port == 0 || t->port > 65535)
		return err_set(err, PAT_EINVAL, "port %u is not a port (1-65535)", t->port);
	if (strpbrk(t->to, "\r\n<>") != NULL || strpbrk(t->from, "\r\n<>") != NULL)
		return err_set(err, PAT_EINVAL, "an address may not contain CR, LF, '<' or '>'");
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return err_set(err, PAT_EIO, "libcurl could not start: %s", curl_easy_strerror(curl_init_result));
	snprintf(url, sizeof url, strchr(t->host, ':') != NULL ? "smtp://[%s]:%u" : "smtp://%s:%u", t->host, t->port);
	snprintf(from, sizeof from, "<%s>", t->from);
	snprintf(to, sizeof to, "<%s>", t->to);
	if ((c = curl_easy_init()) == NULL || (rcpt = curl_slist_append(NULL, to)) == NULL) {
		curl_easy_cleanup(c);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms < 10000 ? t->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
	if (t->username != NULL) {
		snprintf(options, sizeof options, "AUTH=%s", t->mechanism != NULL ? t->mechanism : "PLAIN");
		curl_easy_setopt(c, CURLOPT_USERNAME, t->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, t->password != NULL ? t->password : "");
		curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, options);
	}
	rc = curl_easy_perform(c);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return err_set(err, PAT_EREMOTE, "relaying to %s:%u failed: %s", t->host, t->port,
			       why[0] != '\0' ? why : curl_easy_strerror(rc));
	return PAT_OK;
}

/* smtp: Pat's ESMTP server (RFC 5321) on a libuv loop: sessions, the command table, limits,
 * and the hand-off of each complete message to a delivery function whose answer (from any
 * thread) becomes the reply: 250 only when the delivery says the message is stored.
 *
 * Extensions: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, AUTH PLAIN, LOGIN and
 * CRAM-MD5 (any credentials, or checked against users), STARTTLS when a TLS context is given. */
#ifndef PAT_GATEWAY_SMTP_H
#define PAT_GATEWAY_SMTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "gateway/auth.h"
#include "gateway/chaos.h"
#include "lib/buf.h"
#include "lib/err.h"

struct smtp_server;
struct smtp_session;

/* A message received, waiting for its delivery to be decided. */
struct smtp_delivery {
	struct smtp_session *session; /* who is waiting (the server's business) */
	const char *helo;             /* what the client called itself */
	const char *peer;             /* client address */
	const char *mail_from;        /* envelope sender ("" for <>) */
	const char *rcpt_to;          /* envelope recipients, comma-separated */
	const char *auth_user;        /* AUTH identity, or "" */
	const char *auth_tenant;      /* the tenant the AUTH user belongs to, or "" */
	const uint8_t *data;          /* the message as received, dot-unstuffed, CRLF line ends */
	size_t len;
	void *data_for_deliverer;     /* free for the delivery function's use */
	/* Set by smtp_delivery_done(): */
	int status;                   /* PAT_OK: stored */
	char id[64];                  /* the id it was stored under */
	char error[128];              /* why not, for the log */
	struct smtp_delivery *next;   /* completion queue link */
};

/* Called on the loop thread; must eventually call smtp_delivery_done() (from any thread). The
 * delivery's pointers stay valid until then. */
typedef void (*smtp_deliver_fn)(struct smtp_server *s, struct smtp_delivery *d, void *data);

/* off: AUTH not offered; any: any credentials accepted; users: checked against users, and
 * required before MAIL. */
enum smtp_auth { SMTP_AUTH_MODE_OFF, SMTP_AUTH_MODE_ANY, SMTP_AUTH_MODE_USERS };

struct smtp_options {
	const char *listen;                /* HOST:PORT (port 0: any free port) */
	const char *hostname;              /* greeting name */
	size_t max_message_size;           /* bytes */
	unsigned max_recipients;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	int64_t command_timeout_ms;
	int64_t data_timeout_ms;
	enum smtp_auth auth;
	const struct auth_users *users;    /* for SMTP_AUTH_MODE_USERS */
	SSL_CTX *tls;                      /* STARTTLS is offered when set */
	struct chaos *chaos;               /* Mailpit's chaos triggers, or NULL */
	smtp_deliver_fn deliver;
	void *deliver_data;
};

struct smtp_stats {
	uint64_t sessions;      /* accepted */
	uint64_t refused;       /* turned away by connection limits */
	uint64_t accepted;      /* messages answered 250 */
	uint64_t failed;        /* messages answered 451 */
	uint64_t rejected;      /* commands answered 5xx */
	unsigned open;          /* sessions open now */
};

struct smtp_server {
	struct smtp_options o;
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_async_t wakeup;            /* deliveries done on other threads */
	pthread_mutex_t mu;           /* guards done */
	struct smtp_delivery *done;   /* completed deliveries for the loop to answer */
	struct smtp_session *sessions;/* open sessions */
	int port;                     /* the port bound */
	unsigned waiting;             /* sessions whose delivery is pending */
	bool closing;
	struct smtp_stats stats;
};

/* Bind and listen on loop. */
int smtp_server_start(struct smtp_server *s, uv_loop_t *loop, const struct smtp_options *o, struct pat_err *err);
/* Close the listener and every session; a session waiting for its delivery closes once
 * answered, so keep the loop running until every delivery is done (the loop then ends). */
void smtp_server_close(struct smtp_server *s);
/* Report a delivery's outcome (any thread). id: the stored id when status is PAT_OK. */
void smtp_delivery_done(struct smtp_server *s, struct smtp_delivery *d, int status, const char *id, const char *error);

#endif

/* smtp: see smtp.h.
 *
 * One loop thread runs every session. Input is appended to the session's buffer and processed
 * line by line; while a message's delivery is pending the session processes nothing more and
 * stops reading (pipelined commands wait in the buffer), so replies always come in order and a
 * slow commit pushes back on the client instead of piling up memory. Commands are rows of a
 * table: the name, the states they are allowed in, and the function that answers them. */
#include "gateway/smtp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_metrics.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

#define LINE_MAX_COMMAND 4096 /* a command line (RFC 5321 asks for 512, extensions need more) */
#define READ_CHUNK 65536

enum state {
	S_GREETED,  /* before HELO/EHLO */
	S_READY,    /* after HELO/EHLO, no transaction */
	S_MAIL,     /* MAIL given */
	S_RCPT,     /* at least one RCPT */
	S_DATA,     /* reading the message */
	S_WAITING,  /* the message is being stored */
};

enum auth_step { AUTH_NONE, AUTH_PLAIN_WAIT, AUTH_LOGIN_USER, AUTH_LOGIN_PASS, AUTH_CRAM_WAIT };

struct smtp_session {
	uv_tcp_t tcp;                /* the connection */
	uv_timer_t timer;            /* idle timeout */
	struct smtp_server *s;
	enum state state;
	enum auth_step auth_step;
	char peer[64];
	char ip[48];
	char helo[256];
	char auth_user[256];         /* authenticated (or, during LOGIN, the name given) */
	char auth_tenant[64];        /* the authenticated user's tenant */
	bool authenticated;
	char challenge[128];         /* CRAM-MD5 challenge sent */
	bool esmtp;                  /* EHLO, not HELO */
	bool closing;                /* close after the pending writes */
	bool reading;                /* uv_read_start is on */
	int handles_open;            /* tcp and timer, until both close */
	struct buf in;               /* input not yet processed */
	size_t in_off;               /* processed bytes at the front of in */
	struct buf data;             /* the message being received */
	bool data_too_big;           /* more than max_message_size arrived */
	struct buf mail_from;
	struct buf rcpt_to;
	unsigned n_rcpt;
	struct smtp_delivery delivery;
	int64_t data_end_ns;         /* when the message being delivered ended (monotonic) */
	SSL *ssl;                    /* after STARTTLS: the TLS session */
	BIO *net_in, *net_out;       /* ciphertext from and to the network */
	char raw[READ_CHUNK];        /* ciphertext just read */
	struct smtp_session *next, *prev;
};

struct write_req {
	uv_write_t req;
	struct smtp_session *session;
	char text[];
};

static void process(struct smtp_session *se);
static void start_reading(struct smtp_session *se);

/* ---- output ---- */

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	(void)status;
	mem_free(w);
}

/* Send bytes: at once when the socket takes them and nothing is queued before them (most
 * replies), else queued, the rest copied until libuv has written it. A reply written at once
 * costs one write(): a uv_write() that completes at once also re-arms the socket in epoll
 * (libuv 1.44 queues the watcher again when it stops waiting to write), an epoll_ctl() per
 * reply, four or five per message. */
static void send_bytes(struct smtp_session *se, const char *data, size_t n)
{
	uv_buf_t ub = uv_buf_init((char *)data, (unsigned)n);
	int sent = uv_try_write((uv_stream_t *)&se->tcp, &ub, 1);
	struct write_req *w;

	if (sent < 0 && sent != UV_EAGAIN)
		return; /* the connection is failing: its read side ends the session */
	if (sent > 0) {
		data += sent;
		n -= (size_t)sent;
	}
	if (n == 0 || (w = mem_alloc(sizeof *w + n)) == NULL)
		return;
	memcpy(w->text, data, n);
	w->session = se;
	ub = uv_buf_init(w->text, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&se->tcp, &ub, 1, on_written) != 0)
		mem_free(w);
}

/* Send the ciphertext TLS has produced. */
static void flush_tls(struct smtp_session *se)
{
	char chunk[16384];
	int n;

	while (se->net_out != NULL && (n = BIO_read(se->net_out, chunk, sizeof chunk)) > 0)
		send_bytes(se, chunk, (size_t)n);
}

static void reply(struct smtp_session *se, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct smtp_session *se, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (se->closing && uv_is_closing((uv_handle_t *)&se->tcp))
		return;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (buf_append_str(&b, "\r\n") != PAT_OK) {
		buf_free(&b);
		return;
	}
	if (b.data[0] == '5')
		se->s->stats.rejected++;
	gateway_metrics_smtp_reply(b.data);
	if (se->ssl != NULL) {
		if (SSL_write(se->ssl, b.data, (int)b.len) <= 0)
			se->closing = true;
		flush_tls(se);
	} else {
		send_bytes(se, b.data, b.len);
	}
	buf_free(&b);
}

/* ---- session lifecycle ---- */

/* A chaos trigger that fires (gateway/chaos.h) refuses the command as Mailpit does. true when
 * it fired. */
static bool chaos_refuses(struct smtp_session *se, enum chaos_trigger t)
{
	int code = chaos_roll(se->s->o.chaos, t);
	char text[64];

	if (code == 0)
		return false;
	log_info("smtp chaos", "peer=%s trigger=%s code=%d", se->peer, chaos_trigger_name(t), code);
	chaos_reply_text(t, code, text, sizeof text);
	reply(se, "%s", text);
	return true;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct smtp_session *se = h->data;

	if (--se->handles_open > 0)
		return;
	buf_free(&se->in);
	buf_free(&se->data);
	buf_free(&se->mail_from);
	buf_free(&se->rcpt_to);
	if (se->ssl != NULL)
		SSL_free(se->ssl); /* frees its BIOs too */
	mem_free(se);
}

static void session_close(struct smtp_session *se)
{
	struct smtp_server *s = se->s;

	if (uv_is_closing((uv_handle_t *)&se->tcp))
		return;
	se->closing = true;
	if (se->state == S_WAITING)
		return; /* the delivery still points here: close when it is answered */
	if (se->prev != NULL)
		se->prev->next = se->next;
	else
		s->sessions = se->next;
	if (se->next != NULL)
		se->next->prev = se->prev;
	s->stats.open--;
	metric_add(gateway_metrics()->sessions, -1);
	uv_timer_stop(&se->timer);
	uv_close((uv_handle_t *)&se->timer, on_handle_closed);
	uv_close((uv_handle_t *)&se->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
	struct smtp_session *se = t->data;

	if (se->state == S_WAITING)
		return; /* our own slowness is not the client's */
	log_info("smtp session timed out", "peer=%s state=%d", se->peer, se->state);
	reply(se, "421 4.4.2 %s Error: timeout exceeded", se->s->o.hostname);
	session_close(se);
}

static void arm_timer(struct smtp_session *se)
{
	int64_t ms = se->state == S_DATA ? se->s->o.data_timeout_ms : se->s->o.command_timeout_ms;

	uv_timer_start(&se->timer, on_timeout, (uint64_t)ms, 0);
}

static void reset_transaction(struct smtp_session *se)
{
	buf_reset(&se->mail_from);
	buf_reset(&se->rcpt_to);
	buf_reset(&se->data);
	se->n_rcpt = 0;
	se->data_too_big = false;
	se->state = se->state == S_GREETED ? S_GREETED : S_READY;
}

/* ---- commands ---- */

/* Parse "<path>" after "FROM:" / "TO:" (spaces allowed before '<'); the rest goes to *params. */
static int parse_path(const char *arg, const char *prefix, char *path, size_t n, const char **params)
{
	const char *p = arg, *end;

	if (!str_has_prefix_nocase(p, prefix))
		return -1;
	p += strlen(prefix);
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return -1;
	if ((size_t)(end - p - 1) >= n)
		return -2;
	memcpy(path, p + 1, (size_t)(end - p - 1));
	path[end - p - 1] = '\0';
	*params = end + 1;
	return 0;
}

static void cmd_helo(struct smtp_session *se, const char *arg, bool ehlo)
{
	struct smtp_options *o = &se->s->o;

	if (arg[0] == '\0') {
		reply(se, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return;
	}
	str_copy(se->helo, arg, sizeof se->helo);
	se->esmtp = ehlo;
	reset_transaction(se);
	se->state = S_READY;
	if (!ehlo) {
		reply(se, "250 %s", o->hostname);
		return;
	}
	reply(se, "250-%s greets %s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
		  "250-ENHANCEDSTATUSCODES%s%s\r\n250 HELP",
	      o->hostname, se->helo, o->max_message_size, o->auth != SMTP_AUTH_MODE_OFF ? "\r\n250-AUTH PLAIN LOGIN CRAM-MD5" : "",
	      o->tls != NULL && se->ssl == NULL ? "\r\n250-STARTTLS" : "");
}

static void cmd_ehlo(struct smtp_session *se, const char *arg)
{
	cmd_helo(se, arg, true);
}

static void cmd_helo_plain(struct smtp_session *se, const char *arg)
{
	cmd_helo(se, arg, false);
}

static void cmd_mail(struct smtp_session *se, const char *arg)
{
	char path[1024];
	const char *params;
	int rv = parse_path(arg, "FROM:", path, sizeof path, &params);

	if (se->s->o.auth == SMTP_AUTH_MODE_USERS && !se->authenticated) {
		reply(se, "530 5.7.0 Authentication required");
		return;
	}
	if (rv == -2) {
		reply(se, "501 5.1.7 Sender address too long");
		return;
	}
	if (rv != 0) {
		reply(se, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	/* Parameters: SIZE=n, BODY=7BIT|8BITMIME, SMTPUTF8, AUTH=... */
	while (*params != '\0') {
		char word[256];
		size_t len;

		while (*params == ' ')
			params++;
		len = strcspn(params, " ");
		if (len == 0)
			break;
		if (len >= sizeof word) {
			reply(se, "501 5.5.4 Parameter too long");
			return;
		}
		memcpy(word, params, len);
		word[len] = '\0';
		params += len;
		if (str_has_prefix_nocase(word, "SIZE=")) {
			char *end;
			unsigned long long size = strtoull(word + 5, &end, 10);

			if (*end != '\0' || word[5] == '\0') {
				reply(se, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (size > se->s->o.max_message_size) {
				reply(se, "552 5.3.4 Message size exceeds fixed maximum message size (%zu bytes)",
				      se->s->o.max_message_size);
				return;
			}
		} else if (str_has_prefix_nocase(word, "BODY=")) {
			if (!str_eq_nocase(word + 5, "7BIT") && !str_eq_nocase(word + 5, "8BITMIME")) {
				reply(se, "501 5.5.4 Unknown BODY type: expected 7BIT or 8BITMIME");
				return;
			}
		} else if (!str_eq_nocase(word, "SMTPUTF8") && !str_has_prefix_nocase(word, "AUTH=")) {
			reply(se, "555 5.5.4 Unsupported MAIL parameter: %s", word);
			return;
		}
	}
	if (chaos_refuses(se, CHAOS_SENDER))
		return;
	reset_transaction(se);
	buf_append_str(&se->mail_from, path);
	se->state = S_MAIL;
	reply(se, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct smtp_session *se, const char *arg)
{
	char path[1024];
	const char *params;
	int rv = parse_path(arg, "TO:", path, sizeof path, &params);

	if (rv == -2) {
		reply(se, "501 5.1.3 Recipient address too long");
		return;
	}
	if (rv != 0) {
		reply(se, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (path[0] == '\0' || strchr(path, ',') != NULL) {
		reply(se, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (se->n_rcpt >= se->s->o.max_recipients) {
		reply(se, "452 4.5.3 Too many recipients (at most %u)", se->s->o.max_recipients);
		return;
	}
	if (chaos_refuses(se, CHAOS_RECIPIENT))
		return;
	if (se->n_rcpt > 0)
		buf_append_char(&se->rcpt_to, ',');
	buf_append_str(&se->rcpt_to, path);
	se->n_rcpt++;
	se->state = S_RCPT;
	reply(se, "250 2.1.5 Ok");
}

static void cmd_data(struct smtp_session *se, const char *arg)
{
	if (arg[0] != '\0') {
		reply(se, "501 5.5.4 Syntax: DATA takes no argument");
		return;
	}
	buf_reset(&se->data);
	se->data_too_big = false;
	se->state = S_DATA;
	reply(se, "354 End data with <CR><LF>.<CR><LF>");
}

static void cmd_rset(struct smtp_session *se, const char *arg)
{
	(void)arg;
	reset_transaction(se);
	reply(se, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *se, const char *arg)
{
	(void)arg;
	reply(se, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *se, const char *arg)
{
	(void)arg;
	reply(se, "221 2.0.0 Bye");
	session_close(se);
}

static void cmd_vrfy(struct smtp_session *se, const char *arg)
{
	(void)arg;
	reply(se, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_help(struct smtp_session *se, const char *arg)
{
	(void)arg;
	reply(se, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP AUTH");
}

static void cmd_starttls(struct smtp_session *se, const char *arg)
{
	if (se->s->o.tls == NULL) {
		reply(se, "502 5.5.1 STARTTLS is not available on this server");
		return;
	}
	if (se->ssl != NULL) {
		reply(se, "503 5.5.1 TLS is already active");
		return;
	}
	if (arg[0] != '\0') {
		reply(se, "501 5.5.4 Syntax: STARTTLS takes no argument");
		return;
	}
	reply(se, "220 2.0.0 Ready to start TLS");
	se->ssl = SSL_new(se->s->o.tls);
	se->net_in = BIO_new(BIO_s_mem());
	se->net_out = BIO_new(BIO_s_mem());
	if (se->ssl == NULL || se->net_in == NULL || se->net_out == NULL) {
		BIO_free(se->net_in);
		BIO_free(se->net_out);
		se->net_in = se->net_out = NULL;
		session_close(se);
		return;
	}
	SSL_set_bio(se->ssl, se->net_in, se->net_out);
	SSL_set_accept_state(se->ssl);
	/* Anything the client sent after STARTTLS in clear text must not be trusted (RFC 3207):
	 * drop it, and start over as a new session. */
	se->in.len = se->in_off;
	buf_reset(&se->mail_from);
	buf_reset(&se->rcpt_to);
	se->n_rcpt = 0;
	se->helo[0] = '\0';
	se->auth_user[0] = '\0';
	se->authenticated = false;
	se->state = S_GREETED;
}

/* Decode base64 into out (NUL-terminated); -1 when it is not base64. */
static int unbase64(const char *in, char *out, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t len = 0;

	for (; *in != '\0' && *in != '='; in++) {
		const char *p = strchr(alphabet, *in);

		if (p == NULL || *in == '\0')
			return -1;
		acc = (acc << 6) | (uint32_t)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len + 1 >= n)
				return -1;
			out[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[len] = '\0';
	return (int)len;
}

/* Decide on credentials: in "any" mode everyone is welcome; in "users" mode they must match. */
static void auth_finish(struct smtp_session *se, const struct auth_user *match, const char *user)
{
	se->auth_step = AUTH_NONE;
	if (se->s->o.auth == SMTP_AUTH_MODE_USERS && match == NULL) {
		se->auth_user[0] = '\0';
		log_warn("smtp authentication failed", "peer=%s user=%s", se->peer, user);
		reply(se, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	str_copy(se->auth_user, user, sizeof se->auth_user);
	str_copy(se->auth_tenant, match != NULL && match->tenant != NULL ? match->tenant : "", sizeof se->auth_tenant);
	se->authenticated = true;
	log_info("smtp authenticated", "peer=%s user=%s", se->peer, se->auth_user);
	reply(se, "235 2.7.0 Authentication successful");
}

static const struct auth_user *check_password(struct smtp_session *se, const char *user, const char *password)
{
	return se->s->o.users != NULL ? auth_check_password(se->s->o.users, user, password) : NULL;
}

static void auth_plain(struct smtp_session *se, const char *b64)
{
	char decoded[1024];
	int n = unbase64(b64, decoded, sizeof decoded);
	const char *user, *password;

	/* authzid NUL authcid NUL password */
	user = n > 0 ? memchr(decoded, '\0', (size_t)n) : NULL;
	password = user != NULL ? memchr(user + 1, '\0', (size_t)(decoded + n - user - 1)) : NULL;
	if (n < 0 || user == NULL || password == NULL) {
		se->auth_step = AUTH_NONE;
		reply(se, "501 5.5.2 Cannot decode the AUTH PLAIN response");
		return;
	}
	user++;
	password++;
	auth_finish(se, check_password(se, user, password), user[0] != '\0' ? user : decoded);
}

static void cmd_auth(struct smtp_session *se, const char *arg)
{
	char mech[32];
	const char *rest;
	size_t len = strcspn(arg, " ");

	if (se->s->o.auth == SMTP_AUTH_MODE_OFF) {
		reply(se, "502 5.5.1 AUTH is not enabled on this server");
		return;
	}
	if (se->authenticated) {
		reply(se, "503 5.5.1 Already authenticated");
		return;
	}
	if (len == 0 || len >= sizeof mech) {
		reply(se, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	if (chaos_refuses(se, CHAOS_AUTHENTICATION))
		return;
	memcpy(mech, arg, len);
	mech[len] = '\0';
	rest = arg + len;
	while (*rest == ' ')
		rest++;
	if (str_eq_nocase(mech, "PLAIN")) {
		if (rest[0] == '\0') {
			se->auth_step = AUTH_PLAIN_WAIT; /* the next line is the PLAIN response */
			reply(se, "334 ");
			return;
		}
		auth_plain(se, rest);
	} else if (str_eq_nocase(mech, "LOGIN")) {
		se->auth_step = AUTH_LOGIN_USER;
		reply(se, "334 VXNlcm5hbWU6"); /* "Username:" */
	} else if (str_eq_nocase(mech, "CRAM-MD5")) {
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char encoded[200];
		size_t n, o = 0;
		uint32_t acc = 0;
		int bits = 0;

		snprintf(se->challenge, sizeof se->challenge, "<%lld.%u@%s>", (long long)uv_now(se->s->loop),
			 (unsigned)rand(), se->s->o.hostname);
		n = strlen(se->challenge);
		for (size_t i = 0; i < n; i++) {
			acc = (acc << 8) | (unsigned char)se->challenge[i];
			bits += 8;
			while (bits >= 6) {
				bits -= 6;
				encoded[o++] = b64[(acc >> bits) & 63];
			}
		}
		if (bits > 0)
			encoded[o++] = b64[(acc << (6 - bits)) & 63];
		while (o % 4 != 0)
			encoded[o++] = '=';
		encoded[o] = '\0';
		se->auth_step = AUTH_CRAM_WAIT;
		reply(se, "334 %s", encoded);
	} else {
		reply(se, "504 5.5.4 Unrecognized authentication type: %s (expected PLAIN, LOGIN or CRAM-MD5)", mech);
	}
}

/* A line answering an AUTH challenge. */
static void auth_continue(struct smtp_session *se, const char *line)
{
	char decoded[512];

	if (strcmp(line, "*") == 0) {
		se->auth_step = AUTH_NONE;
		se->auth_user[0] = '\0';
		reply(se, "501 5.7.0 Authentication cancelled");
		return;
	}
	if (se->auth_step == AUTH_PLAIN_WAIT) {
		auth_plain(se, line);
		return;
	}
	if (unbase64(line, decoded, sizeof decoded) < 0) {
		se->auth_step = AUTH_NONE;
		se->auth_user[0] = '\0';
		reply(se, "501 5.5.2 Cannot decode the response");
		return;
	}
	if (se->auth_step == AUTH_LOGIN_USER) {
		str_copy(se->auth_user, decoded, sizeof se->auth_user);
		se->auth_step = AUTH_LOGIN_PASS;
		reply(se, "334 UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	if (se->auth_step == AUTH_CRAM_WAIT) {
		char *space = strrchr(decoded, ' ');
		const struct auth_user *match = NULL;

		if (space == NULL) {
			se->auth_step = AUTH_NONE;
			reply(se, "501 5.5.2 Expected \"user digest\"");
			return;
		}
		*space = '\0';
		if (se->s->o.users != NULL)
			match = auth_check_cram_md5(se->s->o.users, decoded, se->challenge, space + 1);
		auth_finish(se, match, decoded);
		return;
	}
	{
		char user[256];

		str_copy(user, se->auth_user, sizeof user);
		auth_finish(se, check_password(se, user, decoded), user);
	}
}

#define ANY_STATE 0x3f
#define ST(x) (1u << (x))

static const struct command {
	const char *name;
	unsigned states; /* where it is allowed */
	void (*run)(struct smtp_session *se, const char *arg);
	const char *wrong_state; /* the 503 text when it is not */
} commands[] = {
	{ "EHLO", ANY_STATE, cmd_ehlo, NULL },
	{ "HELO", ANY_STATE, cmd_helo_plain, NULL },
	{ "MAIL", ST(S_READY), cmd_mail, "503 5.5.1 Error: send HELO/EHLO first, and one MAIL per message" },
	{ "RCPT", ST(S_MAIL) | ST(S_RCPT), cmd_rcpt, "503 5.5.1 Error: need MAIL command" },
	{ "DATA", ST(S_RCPT), cmd_data, "503 5.5.1 Error: need RCPT command" },
	{ "RSET", ANY_STATE, cmd_rset, NULL },
	{ "NOOP", ANY_STATE, cmd_noop, NULL },
	{ "QUIT", ANY_STATE, cmd_quit, NULL },
	{ "VRFY", ANY_STATE, cmd_vrfy, NULL },
	{ "HELP", ANY_STATE, cmd_help, NULL },
	{ "AUTH", ST(S_READY), cmd_auth, "503 5.5.1 Error: AUTH after EHLO and before MAIL" },
	{ "STARTTLS", ANY_STATE, cmd_starttls, NULL },
};

static void command(struct smtp_session *se, char *line)
{
	char verb[16];
	size_t len = strcspn(line, " ");
	const char *arg;

	if (se->auth_step != AUTH_NONE) {
		auth_continue(se, line);
		return;
	}
	if (len == 0 || len >= sizeof verb) {
		reply(se, "500 5.5.2 Error: command not recognized");
		return;
	}
	memcpy(verb, line, len);
	verb[len] = '\0';
	arg = line + len;
	while (*arg == ' ')
		arg++;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!str_eq_nocase(verb, commands[i].name))
			continue;
		if ((commands[i].states & ST(se->state)) == 0) {
			reply(se, "%s", se->state == S_GREETED && commands[i].wrong_state != NULL
						? "503 5.5.1 Error: send HELO/EHLO first"
						: commands[i].wrong_state);
			return;
		}
		commands[i].run(se, arg);
		return;
	}
	reply(se, "500 5.5.2 Error: command not recognized");
}

/* ---- delivery ---- */

static void deliver(struct smtp_session *se)
{
	struct smtp_delivery *d = &se->delivery;

	memset(d, 0, sizeof *d);
	d->session = se;
	d->helo = se->helo;
	d->peer = se->peer;
	d->mail_from = buf_str(&se->mail_from);
	d->rcpt_to = buf_str(&se->rcpt_to);
	d->auth_user = se->authenticated ? se->auth_user : "";
	d->auth_tenant = se->auth_tenant;
	d->data = (const uint8_t *)buf_str(&se->data);
	d->len = se->data.len;
	se->state = S_WAITING;
	se->data_end_ns = time_mono_ns();
	se->s->waiting++;
	uv_timer_stop(&se->timer);
	se->s->o.deliver(se->s, d, se->s->o.deliver_data);
}

void smtp_delivery_done(struct smtp_server *s, struct smtp_delivery *d, int status, const char *id, const char *error)
{
	d->status = status;
	str_copy(d->id, id != NULL ? id : "", sizeof d->id);
	str_copy(d->error, error != NULL ? error : "", sizeof d->error);
	pthread_mutex_lock(&s->mu);
	d->next = s->done;
	s->done = d;
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->wakeup);
}

static void on_wakeup(uv_async_t *a)
{
	struct smtp_server *s = a->data;
	struct smtp_delivery *d;

	pthread_mutex_lock(&s->mu);
	d = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->mu);
	while (d != NULL) {
		struct smtp_delivery *next = d->next;
		struct smtp_session *se = d->session;

		if (d->status == PAT_OK) {
			s->stats.accepted++;
			reply(se, "250 2.0.0 Ok: queued as %s", d->id);
			metric_observe(gateway_metrics()->processing, (double)(time_mono_ns() - se->data_end_ns) / 1e9);
		} else {
			s->stats.failed++;
			log_warn("message not stored", "peer=%s error=%s", se->peer, d->error);
			reply(se, "451 4.3.0 Error: the message could not be stored, please try again");
		}
		s->waiting--;
		reset_transaction(se);
		if (se->closing) {
			session_close(se);
		} else {
			arm_timer(se);
			process(se);
			start_reading(se);
		}
		d = next;
	}
	if (s->closing && s->waiting == 0 && !uv_is_closing((uv_handle_t *)&s->wakeup))
		uv_close((uv_handle_t *)&s->wakeup, NULL);
}

/* ---- input ---- */

static void data_line(struct smtp_session *se, const char *line, size_t len)
{
	size_t max = se->s->o.max_message_size;

	if (len > 0 && line[0] == '.') { /* dot-unstuffing */
		line++;
		len--;
	}
	if (se->data_too_big || se->data.len + len + 2 > max) {
		se->data_too_big = true;
		return; /* keep reading to the end, but keep nothing */
	}
	buf_append(&se->data, line, len);
	buf_append(&se->data, "\r\n", 2);
}

static void process(struct smtp_session *se)
{
	while (!se->closing && se->state != S_WAITING) {
		char *start = se->in.data + se->in_off;
		size_t avail = se->in.len - se->in_off, len;
		char *nl = avail > 0 ? memchr(start, '\n', avail) : NULL;

		if (nl == NULL) {
			if (se->state != S_DATA && avail > LINE_MAX_COMMAND) {
				reply(se, "500 5.5.6 Error: command line too long");
				session_close(se);
			}
			break;
		}
		len = (size_t)(nl - start);
		se->in_off += len + 1;
		if (len > 0 && start[len - 1] == '\r')
			len--; /* CRLF, or a bare LF from a sloppy client */
		if (se->state == S_DATA) {
			if (len == 1 && start[0] == '.') {
				if (se->data_too_big) {
					reply(se, "552 5.3.4 Error: message exceeds fixed maximum message size (%zu bytes)",
					      se->s->o.max_message_size);
					reset_transaction(se);
				} else {
					deliver(se);
				}
			} else {
				data_line(se, start, len);
			}
			continue;
		}
		if (len > LINE_MAX_COMMAND) {
			reply(se, "500 5.5.6 Error: command line too long");
			continue;
		}
		if (memchr(start, '\0', len) != NULL) {
			reply(se, "500 5.5.2 Error: NUL byte in command");
			continue;
		}
		start[len] = '\0';
		command(se, start);
	}
	/* Drop what has been processed. */
	if (se->in_off > 0 && !se->closing) {
		memmove(se->in.data, se->in.data + se->in_off, se->in.len - se->in_off);
		se->in.len -= se->in_off;
		se->in_off = 0;
	}
	/* A pending delivery pauses a client that sends more before its answer: what it sent waits
	 * in the buffer, and reading stops until the answer is out (at most one more read's worth
	 * is held). A client that waits, as clients do, is not paused: stopping and starting to
	 * read costs two epoll_ctl() calls a message in libuv. */
	if (!se->closing && !uv_is_closing((uv_handle_t *)&se->tcp)) {
		if (se->state == S_WAITING && se->reading && se->in.len > 0) {
			uv_read_stop((uv_stream_t *)&se->tcp);
			se->reading = false;
		}
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct smtp_session *se = h->data;

	(void)suggested;
	if (se->ssl != NULL) {
		*b = uv_buf_init(se->raw, sizeof se->raw);
		return;
	}
	if (buf_reserve(&se->in, READ_CHUNK) != PAT_OK) {
		*b = uv_buf_init(NULL, 0);
		return;
	}
	*b = uv_buf_init(se->in.data + se->in.len, READ_CHUNK);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct smtp_session *se = stream->data;

	(void)b;
	if (n < 0) {
		session_close(se);
		return;
	}
	if (se->ssl != NULL) {
		/* Ciphertext in, plaintext out into the input buffer. */
		char plain[16384];
		int r;

		if (n > 0 && BIO_write(se->net_in, se->raw, (int)n) != (int)n) {
			session_close(se);
			return;
		}
		while ((r = SSL_read(se->ssl, plain, sizeof plain)) > 0)
			if (buf_append(&se->in, plain, (size_t)r) != PAT_OK)
				break;
		r = SSL_get_error(se->ssl, r);
		flush_tls(se);
		if (r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE) {
			log_info("smtp tls session ended", "peer=%s reason=%s", se->peer,
				 r == SSL_ERROR_ZERO_RETURN ? "closed" : "handshake or record error");
			session_close(se);
			return;
		}
	} else {
		se->in.len += (size_t)n;
	}
	arm_timer(se);
	process(se);
	if (se->state != S_WAITING)
		start_reading(se);
}

static void start_reading(struct smtp_session *se)
{
	if (!se->reading && !se->closing && uv_read_start((uv_stream_t *)&se->tcp, on_alloc, on_read) == 0)
		se->reading = true;
}

/* ---- accepting ---- */

static unsigned sessions_from(struct smtp_server *s, const char *ip)
{
	unsigned n = 0;

	for (struct smtp_session *se = s->sessions; se != NULL; se = se->next)
		n += strcmp(se->ip, ip) == 0;
	return n;
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct smtp_server *s = listener->data;
	struct smtp_session *se;
	struct sockaddr_storage ss;
	int len = sizeof ss;

	if (status < 0)
		return;
	se = mem_calloc(1, sizeof *se);
	if (se == NULL)
		return;
	se->s = s;
	uv_tcp_init(s->loop, &se->tcp);
	uv_timer_init(s->loop, &se->timer);
	se->tcp.data = se->timer.data = se;
	se->handles_open = 2;
	if (uv_accept(listener, (uv_stream_t *)&se->tcp) != 0) {
		uv_close((uv_handle_t *)&se->timer, on_handle_closed);
		uv_close((uv_handle_t *)&se->tcp, on_handle_closed);
		return;
	}
	/* Replies go out as they are made, one per command: without TCP_NODELAY the second reply
	 * to a pipelined group (MAIL, RCPT, DATA in one packet) waits for the client's delayed
	 * ACK of the first, 40 ms (docs/BENCHMARKS.md). */
	uv_tcp_nodelay(&se->tcp, 1);
	if (uv_tcp_getpeername(&se->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, se->ip, sizeof se->ip);
			snprintf(se->peer, sizeof se->peer, "[%s]:%u", se->ip, ntohs(a->sin6_port));
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, se->ip, sizeof se->ip);
			snprintf(se->peer, sizeof se->peer, "%s:%u", se->ip, ntohs(a->sin_port));
		}
	}
	se->next = s->sessions;
	if (s->sessions != NULL)
		s->sessions->prev = se;
	s->sessions = se;
	s->stats.open++;
	metric_inc(gateway_metrics()->connections);
	metric_add(gateway_metrics()->sessions, 1);
	if (s->stats.open > s->o.max_connections || sessions_from(s, se->ip) > s->o.max_connections_per_ip) {
		s->stats.refused++;
		log_warn("smtp connection refused", "peer=%s open=%u reason=%s", se->peer, s->stats.open,
			 s->stats.open > s->o.max_connections ? "max_connections" : "max_connections_per_ip");
		reply(se, "421 4.7.0 %s Error: too many connections, try again later", s->o.hostname);
		session_close(se);
		return;
	}
	s->stats.sessions++;
	reply(se, "220 %s ESMTP Pat", s->o.hostname);
	arm_timer(se);
	start_reading(se);
}

int smtp_server_start(struct smtp_server *s, uv_loop_t *loop, const struct smtp_options *o, struct pat_err *err)
{
	struct addr_hostport a;
	struct sockaddr_storage ss;
	const char *why = "";
	int len = sizeof ss, rv;

	memset(s, 0, sizeof *s);
	s->o = *o;
	s->loop = loop;
	if (addr_parse(o->listen, true, &a, &why) != PAT_OK)
		return err_set(err, PAT_EINVAL, "bad SMTP listen address %s: %s", o->listen, why);
	if (a.ipv6)
		rv = uv_ip6_addr(a.host, a.port, (struct sockaddr_in6 *)&ss);
	else
		rv = uv_ip4_addr(strcmp(a.host, "localhost") == 0 ? "127.0.0.1" : a.host, a.port, (struct sockaddr_in *)&ss);
	if (rv != 0)
		return err_set(err, PAT_EINVAL, "SMTP listen address %s must be an IP address", o->listen);
	pthread_mutex_init(&s->mu, NULL);
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	uv_async_init(loop, &s->wakeup, on_wakeup);
	s->wakeup.data = s;
	if ((rv = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) != 0) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_close((uv_handle_t *)&s->wakeup, NULL);
		return err_set(err, PAT_EIO, "cannot listen for SMTP on %s: %s", o->listen, uv_strerror(rv));
	}
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	log_info("smtp listening", "address=%s port=%d", o->listen, s->port);
	return PAT_OK;
}

void smtp_server_close(struct smtp_server *s)
{
	struct smtp_session *se, *next;

	s->closing = true;
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	for (se = s->sessions; se != NULL; se = next) {
		next = se->next;
		if (se->state == S_WAITING) {
			se->closing = true; /* its answer is on its way: it closes after that */
			continue;
		}
		reply(se, "421 4.3.2 %s Service shutting down", s->o.hostname);
		session_close(se);
	}
	/* The wakeup handle stays open while answers are owed. */
	if (s->waiting == 0 && !uv_is_closing((uv_handle_t *)&s->wakeup))
		uv_close((uv_handle_t *)&s->wakeup, NULL);
}

/* cmd_load: `pat load`, SMTP load against a gateway (or any SMTP server), reporting what a
 * user of the server would feel: messages per second and the accept latency of each message,
 * from the end of its DATA (the final dot) to the server's 2xx.
 *
 *   pat load [--smtp ADDR:PORT] [--connections N] [--messages N] [--size BYTES] [--rate N]
 *            [--retry DURATION] [--acked FILE] [--json]
 *
 * Every connection is a thread with one blocking socket that sends one message after another,
 * as an application's mail library does. Each message has a Message-ID of its own. With
 * --retry, a message answered 4xx or whose connection failed is sent again (over a new
 * connection when it failed), as a mail queue would, until DURATION after its first attempt;
 * --acked writes a line per accepted message, so that a test can look for every acknowledged
 * message afterwards. Exit status: 0 when every message was accepted, 1 when some were refused
 * or a connection failed, 2 for bad usage. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/smtp_link.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "lib/units.h"

/* Indexes in load_options (commands.c). */
#define OPT_CONNECTIONS 1
#define OPT_MESSAGES 2
#define OPT_SIZE 3
#define OPT_JSON 4
#define OPT_RATE 5
#define OPT_RETRY 6
#define OPT_ACKED 7

/* Message i's Message-ID: its number, the pid and the start time, unique across runs and
 * machines that do not share both; fixed width, so that every message has the same size. */
#define MSGID_FORMAT "%010ld.%010d.%013lld@load.pat.test"
#define MSGID_HEADER_LEN (sizeof "Message-ID: <0000000000.0000000000.0000000000000@load.pat.test>\r\n" - 1)

/* Pause before a connection that failed is opened again (with --retry). */
#define RECONNECT_PAUSE_MS 100

struct load {
	const char *target;
	long messages;
	long rate;                   /* messages per second in all, 0: as fast as the server takes them */
	int64_t retry_ns;            /* --retry: how long a message is sent again; 0: never */
	int64_t start_ns;
	int64_t start_wall_ms;       /* in every Message-ID, with the pid: unique across runs */
	atomic_long next;            /* the next message number to send */
	atomic_long accepted, refused;
	atomic_long resent;          /* attempts after a 4xx or a failed connection */
	atomic_int broken;           /* connections that failed */
	double *latency_ms;          /* per message; NAN when not accepted */
	const char *body;            /* the message after its Message-ID, ending in CRLF.CRLF */
	size_t body_len;
	FILE *acked;                 /* --acked: a line per accepted message, or NULL */
	char first_error[600];
	pthread_mutex_t mu;
};

static void note_error(struct load *ld, const char *what, const char *reply)
{
	pthread_mutex_lock(&ld->mu);
	if (ld->first_error[0] == '\0')
		snprintf(ld->first_error, sizeof ld->first_error, "%s: %s", what, reply);
	pthread_mutex_unlock(&ld->mu);
}

static bool expect(struct load *ld, struct smtp_link *l, const char *cmd, int want)
{
	char reply[512];
	int code;

	if (cmd != NULL && smtp_link_send(l, cmd, strlen(cmd)) != 0) {
		note_error(ld, "connection", "broke while sending");
		return false;
	}
	code = smtp_link_reply(l, reply, sizeof reply);
	if (code / 100 == want / 100)
		return true;
	note_error(ld, cmd != NULL ? "reply" : "greeting", reply);
	return false;
}

/* How one attempt at a message ended. */
enum attempt {
	ATTEMPT_ACCEPTED,  /* 2xx after the final dot */
	ATTEMPT_REFUSED,   /* 5xx after the final dot: sending it again would not help */
	ATTEMPT_DEFERRED,  /* 4xx after the final dot; the connection is still usable */
	ATTEMPT_BROKEN,    /* the connection failed, or a command before it was refused */
};

static bool session_open(struct load *ld, struct smtp_link *l)
{
	if (smtp_link_open(l, ld->target, 60) != 0) {
		note_error(ld, "connection", "cannot connect");
		return false;
	}
	if (!expect(ld, l, NULL, 220) || !expect(ld, l, "EHLO load.pat.test\r\n", 250)) {
		smtp_link_close(l);
		return false;
	}
	return true;
}

/* Send message i once over l. */
static enum attempt send_message(struct load *ld, struct smtp_link *l, long i, struct buf *msg)
{
	char reply[512], msgid[96];
	const char *queue_id;
	int64_t t0, sent_ms;
	int code;

	if (!expect(ld, l, "MAIL FROM:<load@pat.test>\r\n", 250) || !expect(ld, l, "RCPT TO:<inbox@pat.test>\r\n", 250) ||
	    !expect(ld, l, "DATA\r\n", 354))
		return ATTEMPT_BROKEN;
	/* One write per message: a second small one would wait for the server's delayed ACK. */
	snprintf(msgid, sizeof msgid, MSGID_FORMAT, i, (int)getpid(), (long long)ld->start_wall_ms);
	buf_reset(msg);
	if (buf_printf(msg, "Message-ID: <%s>\r\n", msgid) != PAT_OK || buf_append(msg, ld->body, ld->body_len) != PAT_OK) {
		note_error(ld, "message", "out of memory");
		return ATTEMPT_BROKEN;
	}
	t0 = time_mono_ns();
	sent_ms = time_wall_ms();
	if (smtp_link_send(l, msg->data, msg->len) != 0)
		return ATTEMPT_BROKEN;
	code = smtp_link_reply(l, reply, sizeof reply);
	if (code < 0) {
		note_error(ld, "connection", reply);
		return ATTEMPT_BROKEN;
	}
	if (code / 100 != 2) {
		note_error(ld, "message refused", reply);
		return code / 100 == 4 ? ATTEMPT_DEFERRED : ATTEMPT_REFUSED;
	}
	ld->latency_ms[i] = (double)(time_mono_ns() - t0) / 1e6;
	if (ld->acked != NULL) {
		/* The queue id is the reply's last word ("250 2.0.0 Ok: queued as ID"). */
		queue_id = strrchr(reply, ' ');
		queue_id = queue_id != NULL ? queue_id + 1 : reply;
		pthread_mutex_lock(&ld->mu);
		fprintf(ld->acked, "%s %s %lld %lld\n", queue_id, msgid, (long long)sent_ms, (long long)time_wall_ms());
		pthread_mutex_unlock(&ld->mu);
	}
	return ATTEMPT_ACCEPTED;
}

static void *run_connection(void *arg)
{
	struct load *ld = arg;
	struct smtp_link l = { .fd = -1 };
	struct buf msg = BUF_INIT;
	int64_t first_try = 0;
	long i = -1;

	for (;;) {
		enum attempt a = ATTEMPT_BROKEN;

		if (i < 0) {
			if ((i = atomic_fetch_add(&ld->next, 1)) >= ld->messages)
				break;
			if (ld->rate > 0) {
				/* Message i is due i/rate seconds after the start: a steady flow, not bursts. */
				int64_t due = ld->start_ns + (int64_t)((double)i * 1e9 / (double)ld->rate);
				int64_t wait = due - time_mono_ns();

				if (wait > 0)
					time_sleep_ms(wait / 1000000);
			}
			first_try = time_mono_ns();
		}
		if (l.fd >= 0 || session_open(ld, &l))
			a = send_message(ld, &l, i, &msg);
		if (a == ATTEMPT_ACCEPTED || a == ATTEMPT_REFUSED) {
			atomic_fetch_add(a == ATTEMPT_ACCEPTED ? &ld->accepted : &ld->refused, 1);
			i = -1;
			continue;
		}
		if (a == ATTEMPT_BROKEN)
			smtp_link_close(&l);
		if (ld->retry_ns > 0 && time_mono_ns() - first_try < ld->retry_ns) {
			atomic_fetch_add(&ld->resent, 1);
			if (a == ATTEMPT_BROKEN)
				time_sleep_ms(RECONNECT_PAUSE_MS);
			continue;
		}
		if (a == ATTEMPT_DEFERRED && ld->retry_ns == 0) {
			/* Without --retry a 4xx is a refusal, and the connection goes on. */
			atomic_fetch_add(&ld->refused, 1);
			i = -1;
			continue;
		}
		/* A failed connection, or a message that was not accepted in time: give up. */
		atomic_fetch_add(&ld->broken, 1);
		break;
	}
	if (l.fd >= 0) {
		smtp_link_send(&l, "QUIT\r\n", 6);
		smtp_link_close(&l);
	}
	buf_free(&msg);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A message of `size` bytes (give or take one) once its Message-ID header is put in front:
 * the other headers, then lines of text; then the end of DATA. */
static void make_message(struct buf *b, uint64_t size)
{
	static const char line[] = "The quick brown fox jumps over the lazy dog, and Pat stores it on a majority.\r\n";

	buf_append_str(b, "From: Load <load@pat.test>\r\nTo: Inbox <inbox@pat.test>\r\n"
			  "Subject: pat load\r\n\r\n");
	while (b->len + sizeof line - 1 <= size)
		buf_append_str(b, line);
	if (b->len + 2 < size) {
		while (b->len + 2 < size)
			buf_append_char(b, 'x');
		buf_append_str(b, "\r\n");
	}
	buf_append_str(b, ".\r\n");
}

static bool parse_count(const char *name, const char *v, long def, long max, long *out)
{
	int64_t n;

	if (v == NULL) {
		*out = def;
		return true;
	}
	if (units_parse_int(v, 1, max, &n) != 0) {
		fprintf(stderr, "pat load: %s must be a whole number from 1 to %ld, not '%s'\n", name, max, v);
		return false;
	}
	*out = (long)n;
	return true;
}

int cli_cmd_load(struct cli_args *args)
{
	struct pat_settings s;
	struct conf c;
	struct load ld = { 0 };
	struct buf msg = BUF_INIT;
	pthread_t *threads = NULL;
	long conns, started = 0;
	uint64_t size = 1024;
	int64_t t0, elapsed;
	double *acc = NULL, p50 = NAN, p99 = NAN, rate;
	size_t n_acc = 0;
	int rv;

	if (args->n_positional > 0) {
		fprintf(stderr, "pat load: unexpected argument '%s' (see 'pat load --help')\n", args->positional[0]);
		return CLI_EXIT_USAGE;
	}
	if ((rv = cli_load_config(args, 0, "", &c, &s)) != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	rv = CLI_EXIT_USAGE;
	if (!parse_count("--connections", args->values[OPT_CONNECTIONS], 16, 1000, &conns) ||
	    !parse_count("--messages", args->values[OPT_MESSAGES], 10000, 100000000, &ld.messages))
		goto out;
	if (args->values[OPT_RATE] != NULL && !parse_count("--rate", args->values[OPT_RATE], 0, 10000000, &ld.rate))
		goto out;
	if (args->values[OPT_SIZE] != NULL &&
	    (units_parse_size(args->values[OPT_SIZE], &size) != 0 || size < 256 || size > 64 * 1024 * 1024)) {
		fprintf(stderr, "pat load: --size must be a size from 256 bytes to 64MiB (such as 1KiB or 20KiB), not '%s'\n",
			args->values[OPT_SIZE]);
		goto out;
	}
	if (args->values[OPT_RETRY] != NULL) {
		int64_t ms;

		if (units_parse_duration(args->values[OPT_RETRY], &ms) != 0 || ms <= 0) {
			fprintf(stderr, "pat load: --retry must be a duration such as 30s or 2m, not '%s'\n",
				args->values[OPT_RETRY]);
			goto out;
		}
		ld.retry_ns = ms * 1000000;
	}
	rv = CLI_EXIT_FAILURE;
	if (args->values[OPT_ACKED] != NULL && (ld.acked = fopen(args->values[OPT_ACKED], "w")) == NULL) {
		fprintf(stderr, "pat load: cannot write %s: %s\n", args->values[OPT_ACKED], strerror(errno));
		goto out;
	}
	ld.target = s.smtp.listen;
	pthread_mutex_init(&ld.mu, NULL);
	make_message(&msg, size - MSGID_HEADER_LEN);
	ld.latency_ms = mem_calloc((size_t)ld.messages, sizeof *ld.latency_ms);
	acc = mem_calloc((size_t)ld.messages, sizeof *acc);
	threads = mem_calloc((size_t)conns, sizeof *threads);
	if (msg.data == NULL || ld.latency_ms == NULL || acc == NULL || threads == NULL) {
		fprintf(stderr, "pat load: out of memory for %ld messages\n", ld.messages);
		goto out;
	}
	for (long i = 0; i < ld.messages; i++)
		ld.latency_ms[i] = NAN;
	ld.body = msg.data;
	ld.body_len = msg.len;
	t0 = time_mono_ns();
	ld.start_ns = t0;
	ld.start_wall_ms = time_wall_ms();
	for (; started < conns; started++)
		if (pthread_create(&threads[started], NULL, run_connection, &ld) != 0)
			break;
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	elapsed = time_mono_ns() - t0;
	for (long i = 0; i < ld.messages; i++)
		if (!isnan(ld.latency_ms[i]))
			acc[n_acc++] = ld.latency_ms[i];
	qsort(acc, n_acc, sizeof *acc, cmp_double);
	if (n_acc > 0) {
		p50 = acc[(n_acc - 1) / 2];
		p99 = acc[(size_t)((double)(n_acc - 1) * 0.99)];
	}
	rate = (double)n_acc / ((double)elapsed / 1e9);
	if (args->values[OPT_JSON] != NULL)
		printf("{\"target\": \"%s\", \"connections\": %ld, \"size\": %llu, \"messages\": %ld, \"accepted\": %zu,"
		       " \"refused\": %ld, \"resent\": %ld, \"broken_connections\": %d, \"seconds\": %.3f,"
		       " \"messages_per_second\": %.1f, \"latency_p50_ms\": %.3f, \"latency_p99_ms\": %.3f}\n",
		       ld.target, started, (unsigned long long)(msg.len - 3 + MSGID_HEADER_LEN), ld.messages, n_acc, atomic_load(&ld.refused),
		       atomic_load(&ld.resent), atomic_load(&ld.broken), (double)elapsed / 1e9, rate, n_acc ? p50 : 0.0, n_acc ? p99 : 0.0);
	else
		printf("%zu of %ld messages of %llu bytes accepted by %s over %ld connections in %.2f s: %.0f messages/s;"
		       " accept latency p50 %.2f ms, p99 %.2f ms\n",
		       n_acc, ld.messages, (unsigned long long)(msg.len - 3 + MSGID_HEADER_LEN), ld.target, started, (double)elapsed / 1e9, rate,
		       n_acc ? p50 : 0.0, n_acc ? p99 : 0.0);
	if (ld.first_error[0] != '\0')
		fprintf(stderr, "pat load: %ld refused, %d connections failed; first problem: %s\n", atomic_load(&ld.refused),
			atomic_load(&ld.broken), ld.first_error);
	if (atomic_load(&ld.resent) > 0)
		fprintf(stderr, "pat load: %ld attempts sent again after a 4xx reply or a failed connection\n",
			atomic_load(&ld.resent));
	rv = (long)n_acc == ld.messages ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
	if (ld.acked != NULL && fflush(ld.acked) != 0) {
		fprintf(stderr, "pat load: cannot write %s: %s\n", args->values[OPT_ACKED], strerror(errno));
		rv = CLI_EXIT_FAILURE;
	}
	pthread_mutex_destroy(&ld.mu);
out:
	if (ld.acked != NULL)
		fclose(ld.acked);
	mem_free(threads);
	mem_free(acc);
	mem_free(ld.latency_ms);
	buf_free(&msg);
	conf_close(&c);
	return rv;
}

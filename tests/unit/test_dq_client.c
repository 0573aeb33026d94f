/* Unit tests of consensus/dq_client against a hostile or broken peer: a thread on loopback
 * plays the node and answers each request with crafted bytes. Every case must end in a clear
 * error (and a closed connection where the stream can no longer be trusted), never a crash, an
 * over-read or a hang. */
#include "tests/lib/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "consensus/dq_client.h"
#include "lib/err.h"
#include "lib/mem.h"

struct peer {
	int listener;
	char address[32];
	pthread_t thread;
	uint8_t reply[4096]; /* answer to the first request */
	size_t reply_len;
	uint8_t reply2[4096]; /* answer to a second request (e.g. an interrupt), if any */
	size_t reply2_len;
	bool close_after; /* close once the replies are sent */
};

static bool read_n(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
	}
	return true;
}

static bool read_request(int fd)
{
	uint8_t header[8], *body;
	size_t size;
	bool ok;

	if (!read_n(fd, header, 8))
		return false;
	size = (size_t)(header[0] | header[1] << 8 | header[2] << 16 | (uint32_t)header[3] << 24) * 8;
	body = malloc(size + 1);
	ok = read_n(fd, body, size);
	free(body);
	return ok;
}

static void *serve(void *arg)
{
	struct peer *p = arg;
	int fd = accept(p->listener, NULL, NULL);
	uint8_t hello[8];

	if (fd < 0)
		return NULL;
	if (read_n(fd, hello, 8) && read_request(fd)) {
		if (write(fd, p->reply, p->reply_len) < 0)
			goto out;
		if (p->reply2_len > 0 && read_request(fd) && write(fd, p->reply2, p->reply2_len) < 0)
			goto out;
	}
	if (!p->close_after) {
		char sink[64];

		while (read(fd, sink, sizeof sink) > 0) /* stay until the client hangs up */
			;
	}
out:
	close(fd);
	return NULL;
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A message: header (words computed from body_len unless words_override) and a body. */
static size_t message(uint8_t *out, uint8_t type, const uint8_t *body, size_t body_len, int64_t words_override)
{
	uint64_t words = words_override >= 0 ? (uint64_t)words_override : (body_len + 7) / 8;

	memset(out, 0, 8);
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(words >> (8 * i));
	out[4] = type;
	if (body_len > 0)
		memcpy(out + 8, body, body_len);
	return 8 + body_len;
}

static void start(struct peer *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;

	p->listener = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(p->listener, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(p->listener, 1), 0);
	getsockname(p->listener, (struct sockaddr *)&a, &len);
	snprintf(p->address, sizeof p->address, "127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&p->thread, NULL, serve, p), 0);
}

static void stop(struct peer *p, struct dq_client *c)
{
	dq_client_close(c);
	pthread_join(p->thread, NULL);
	close(p->listener);
}

static struct dq_client connect_to(struct peer *p)
{
	struct dq_client c;

	assert_int_equal(dq_client_connect(&c, p->address, 2000), PAT_OK);
	c.db_open = true; /* as if OPEN had succeeded: the peer answers whatever it was scripted to */
	return c;
}

static void oversized_response_is_refused(void **state)
{
	struct peer p = { .close_after = false };
	struct dq_client c;
	uint64_t id;
	char a[64];

	(void)state;
	p.reply_len = message(p.reply, DQ_RESP_SERVER, NULL, 0, 0xffffffff);
	start(&p);
	c = connect_to(&p);
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_EPROTO);
	assert_contains(c.err.msg, "refusing more than");
	assert_false(dq_client_connected(&c));
	stop(&p, &c);
}

static void wrong_response_type(void **state)
{
	struct peer p = { .close_after = false };
	uint8_t body[8] = { 0 };
	struct dq_client c;
	uint64_t id;
	char a[64];

	(void)state;
	p.reply_len = message(p.reply, DQ_RESP_EMPTY, body, 8, -1);
	start(&p);
	c = connect_to(&p);
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_EPROTO);
	assert_contains(c.err.msg, "message type 8 where 1 was expected");
	assert_false(dq_client_connected(&c));
	stop(&p, &c);
}

static void truncated_response(void **state)
{
	struct peer p = { .close_after = true };
	uint8_t body[8] = { 1 };
	struct dq_client c;
	uint64_t id;
	char a[64];

	(void)state;
	/* The header promises 16 bytes; 8 come, then the connection closes. */
	p.reply_len = message(p.reply, DQ_RESP_SERVER, body, 8, 2);
	start(&p);
	c = connect_to(&p);
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_ECLOSED);
	assert_contains(c.err.msg, "closed the connection");
	stop(&p, &c);
}

static void malformed_bodies(void **state)
{
	static const struct {
		uint8_t type;
		uint8_t body[32];
		size_t len;
	} cases[] = {
		/* SERVER: address without its NUL */
		{ DQ_RESP_SERVER, { 1, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' }, 16 },
		/* SERVER: id only */
		{ DQ_RESP_SERVER, { 1 }, 8 },
		/* FAILURE: code only */
		{ DQ_RESP_FAILURE, { 1 }, 8 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct peer p = { .close_after = false };
		struct dq_client c;
		uint64_t id;
		char a[64];

		p.reply_len = message(p.reply, cases[i].type, cases[i].body, cases[i].len, -1);
		start(&p);
		c = connect_to(&p);
		assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_EPROTO);
		assert_contains(c.err.msg, "malformed");
		assert_false(dq_client_connected(&c));
		stop(&p, &c);
	}
}

/* A FAILURE answer with code and text: the call returns want, the connection stays open. */
static void answer_failure(uint64_t code, const char *text, int want)
{
	struct peer p = { .close_after = false };
	uint8_t body[64] = { 0 };
	struct dq_client c;
	uint64_t id;
	char a[64], expect[96];
	size_t len = strlen(text), padded = 8 + (len + 1 + 7) / 8 * 8;

	le64(body, code);
	memcpy(body + 8, text, len);
	p.reply_len = message(p.reply, DQ_RESP_FAILURE, body, padded, -1);
	start(&p);
	c = connect_to(&p);
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), want);
	snprintf(expect, sizeof expect, "dqlite error %llu: %s", (unsigned long long)code, text);
	assert_contains(c.err.msg, expect);
	assert_int_equal(c.fail_code, code);
	assert_true(dq_client_connected(&c));
	stop(&p, &c);
}

static void failure_keeps_the_connection(void **state)
{
	(void)state;
	answer_failure(19, "disk is full", PAT_EREMOTE);
}

/* "database schema has changed" (SQLITE_SCHEMA) means the statement did not run: it is
 * answered as busy, which callers run again, not as a failure of the statement. */
static void schema_change_is_busy(void **state)
{
	(void)state;
	answer_failure(17, "no such table: messages", PAT_EBUSY);
	answer_failure(5, "database is locked", PAT_EBUSY);
}

/* ROWS bodies that lie. Each is answered to a QUERY_SQL; a second reply (EMPTY) answers the
 * interrupt the client may send while closing. */
static void hostile_rows(void **state)
{
	uint8_t bodies[6][64];
	size_t lens[6];
	int i = 0;

	(void)state;
	memset(bodies, 0, sizeof bodies);
	/* zero columns */
	lens[i++] = 8;
	/* a billion columns */
	le64(bodies[i], 1000000000);
	lens[i++] = 8;
	/* one column "n", then a row with type 14 */
	le64(bodies[i], 1);
	bodies[i][8] = 'n';
	bodies[i][16] = 14;
	lens[i++] = 32;
	/* one column, a valid row, then no end marker */
	le64(bodies[i], 1);
	bodies[i][8] = 'n';
	bodies[i][16] = DQ_INTEGER;
	le64(bodies[i] + 24, 7);
	lens[i++] = 32;
	/* one column, no row, DONE, then trailing garbage */
	le64(bodies[i], 1);
	bodies[i][8] = 'n';
	le64(bodies[i] + 16, DQ_ROWS_DONE);
	le64(bodies[i] + 24, 42);
	lens[i++] = 32;
	/* column name without NUL */
	le64(bodies[i], 1);
	memcpy(bodies[i] + 8, "abcdefgh", 8);
	lens[i++] = 16;
	for (int k = 0; k < i; k++) {
		struct peer p = { .close_after = false };
		struct dq_client c;
		struct dq_rows rows;
		bool row;
		int rv;

		p.reply_len = message(p.reply, DQ_RESP_ROWS, bodies[k], lens[k], -1);
		p.reply2_len = message(p.reply2, DQ_RESP_EMPTY, (const uint8_t *)"\0\0\0\0\0\0\0\0", 8, -1);
		start(&p);
		c = connect_to(&p);
		rv = dq_client_query_sql(&c, "SELECT n FROM t", NULL, 0, &rows);
		if (rv == PAT_OK) {
			do
				rv = dq_rows_next(&rows, &row);
			while (rv == PAT_OK && row);
			dq_rows_close(&rows);
		}
		if (rv != PAT_EPROTO)
			fail_msg("case %d: got %s, want EPROTO (%s)", k, err_name(rv), c.err.msg);
		assert_false(dq_client_connected(&c));
		stop(&p, &c);
	}
}

static void hostile_cluster_and_dump(void **state)
{
	uint8_t body[32] = { 0 };
	struct dq_member *m;
	struct dq_file files[2];
	size_t n;

	(void)state;
	{
		struct peer p = { .close_after = false };
		struct dq_client c;

		le64(body, 1ULL << 40); /* a trillion members in 8 bytes */
		p.reply_len = message(p.reply, DQ_RESP_SERVERS, body, 8, -1);
		start(&p);
		c = connect_to(&p);
		assert_int_equal(dq_client_cluster(&c, &m, &n), PAT_EPROTO);
		assert_null(m);
		stop(&p, &c);
	}
	{
		struct peer p = { .close_after = false };
		struct dq_client c;

		memset(body, 0, sizeof body);
		le64(body, 3); /* three files */
		p.reply_len = message(p.reply, DQ_RESP_FILES, body, 8, -1);
		start(&p);
		c = connect_to(&p);
		assert_int_equal(dq_client_dump(&c, "pat", files), PAT_EPROTO);
		stop(&p, &c);
	}
	{
		struct peer p = { .close_after = false };
		struct dq_client c;

		memset(body, 0, sizeof body);
		le64(body, 2);
		body[8] = 'p';             /* name "p" */
		le64(body + 16, 1 << 20);  /* a MiB of data that never comes */
		p.reply_len = message(p.reply, DQ_RESP_FILES, body, 24, -1);
		start(&p);
		c = connect_to(&p);
		assert_int_equal(dq_client_dump(&c, "pat", files), PAT_EPROTO);
		stop(&p, &c);
	}
}

static void peer_hangs_up_at_once(void **state)
{
	struct peer p = { .close_after = true };
	struct dq_client c;
	uint64_t id;
	char a[64];

	(void)state;
	p.reply_len = 0;
	start(&p);
	c = connect_to(&p);
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_ECLOSED);
	assert_false(dq_client_connected(&c));
	/* Later requests fail at once without touching the network. */
	assert_int_equal(dq_client_leader(&c, &id, a, sizeof a), PAT_ECLOSED);
	assert_contains(c.err.msg, "not connected");
	stop(&p, &c);
}

static void out_of_memory_while_reading(void **state)
{
	bool ok = false;

	(void)state;
	for (long n = 0; n < 20 && !ok; n++) {
		struct peer p = { .close_after = false };
		uint8_t body[16] = { 0 };
		struct dq_client c;
		uint64_t id;
		char a[64];
		int rv;

		le64(body, 3);
		memcpy(body + 8, "x:1", 3);
		p.reply_len = message(p.reply, DQ_RESP_SERVER, body, 16, -1);
		start(&p);
		c = connect_to(&p);
		mem_fail_after(n, true);
		rv = dq_client_leader(&c, &id, a, sizeof a);
		mem_fail_reset();
		assert_true(rv == PAT_OK || rv == PAT_ENOMEM);
		if (rv == PAT_OK) {
			assert_int_equal(id, 3);
			assert_string_equal(a, "x:1");
			ok = true;
		}
		stop(&p, &c);
	}
	assert_true(ok);
}

/* Which failures are SQLite's "disk I/O error" family (dqlite 1.11.1's stuck-WAL fault). */
static void io_failures_are_told_apart(void **state)
{
	struct dq_client c = { .fd = -1 };

	(void)state;
	c.fail_code = 522; /* SQLITE_IOERR_SHORT_READ */
	assert_true(dq_client_io_failed(&c));
	c.fail_code = 10; /* SQLITE_IOERR */
	assert_true(dq_client_io_failed(&c));
	c.fail_code = 11; /* SQLITE_CORRUPT: seen after the first 522 on every later write */
	assert_true(dq_client_io_failed(&c));
	c.fail_code = 5; /* SQLITE_BUSY */
	assert_false(dq_client_io_failed(&c));
	c.fail_code = 1; /* SQLITE_ERROR */
	assert_false(dq_client_io_failed(&c));
	c.fail_code = 0;
	assert_false(dq_client_io_failed(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(oversized_response_is_refused),
		cmocka_unit_test(wrong_response_type),
		cmocka_unit_test(truncated_response),
		cmocka_unit_test(malformed_bodies),
		cmocka_unit_test(failure_keeps_the_connection),
		cmocka_unit_test(schema_change_is_busy),
		cmocka_unit_test(hostile_rows),
		cmocka_unit_test(hostile_cluster_and_dump),
		cmocka_unit_test(peer_hangs_up_at_once),
		cmocka_unit_test(out_of_memory_while_reading),
		cmocka_unit_test(io_failures_are_told_apart),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("dq_client against a hostile peer", tests, NULL, NULL);
}

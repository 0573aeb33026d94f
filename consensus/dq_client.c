/* dq_client: see dq_client.h.
 *
 * Sockets are non-blocking and every read and write waits with poll() against the request's
 * deadline, so a node that stops answering (paused, partitioned) costs at most timeout_ms. */
#include "consensus/dq_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

#define MAX_COLUMNS 32767 /* SQLite's own limit */

const char *dq_role_name(enum dq_role role)
{
	switch (role) {
	case DQ_VOTER: return "voter";
	case DQ_STANDBY: return "standby";
	case DQ_SPARE: return "spare";
	}
	return "unknown";
}

bool dq_client_connected(const struct dq_client *c)
{
	return c->fd >= 0;
}

void dq_client_close(struct dq_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->db_open = false;
	c->in_query = false;
	buf_free(&c->out);
	buf_free(&c->in);
	mem_free(c->stmts);
	c->stmts = NULL;
	c->n_stmts = c->cap_stmts = 0;
	for (size_t i = 0; i < DQ_STMT_CACHE; i++) {
		mem_free(c->cache[i].sql);
		c->cache[i].sql = NULL;
	}
	c->generation++;
}

static bool stmt_live(const struct dq_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_stmts; i++)
		if (c->stmts[i] == id)
			return true;
	return false;
}

static int check_stmt(struct dq_client *c, uint32_t id)
{
	if (stmt_live(c, id))
		return PAT_OK;
	return err_set(&c->err, PAT_EINVAL, "statement %u is not prepared on this connection", id);
}

/* A failure that leaves the connection in an unknown state: close it. */
static int broken(struct dq_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int broken(struct dq_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
	va_end(ap);
	c->err.code = code;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->db_open = false;
	c->in_query = false;
	c->n_stmts = 0; /* statements die with the connection */
	c->generation++;
	return code;
}

static int wait_fd(struct dq_client *c, short events, int64_t deadline)
{
	for (;;) {
		int64_t now = time_mono_ms(), left = deadline - now, until = left;
		struct pollfd p = { .fd = c->fd, .events = events };
		int rv;

		if (left <= 0)
			return broken(c, PAT_ETIMEDOUT, "%s did not answer within %d ms", c->address, c->timeout_ms);
		if (c->check != NULL && c->check_at > 0) {
			if (now >= c->check_at) {
				if (!c->check(c->check_data))
					return broken(c, PAT_ECLOSED, "%s stopped answering, and another node leads now",
						      c->address);
				c->check_at = time_mono_ms() + c->check_ms;
				continue;
			}
			until = c->check_at - now < until ? c->check_at - now : until;
		}
		rv = poll(&p, 1, (int)(until > 1000000 ? 1000000 : until));
		if (rv > 0)
			return PAT_OK;
		if (rv < 0 && errno != EINTR)
			return broken(c, PAT_EIO, "poll on %s: %s", c->address, strerror(errno));
	}
}

static int write_all(struct dq_client *c, const void *data, size_t n, int64_t deadline)
{
	const uint8_t *p = data;

	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rv = wait_fd(c, POLLOUT, deadline);

			if (rv != PAT_OK)
				return rv;
			continue;
		}
		return broken(c, PAT_ECLOSED, "sending to %s: %s", c->address, strerror(errno));
	}
	return PAT_OK;
}

static int read_all(struct dq_client *c, void *data, size_t n, int64_t deadline)
{
	uint8_t *p = data;

	while (n > 0) {
		ssize_t r = recv(c->fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			{
				/* dqlite 1.11 writes a large response in pieces without TCP_NODELAY: the next
				 * piece waits for our ACK of this one, which Linux delays up to 40 ms. Ask
				 * for an immediate ACK (quick-ACK mode ends by itself, so ask each time).
				 * Measured: 50 rows of a mailbox list took 44 ms, and take about 1 ms. */
				int one = 1;

				setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
			}
			continue;
		}
		if (r == 0)
			return broken(c, PAT_ECLOSED, "%s closed the connection", c->address);
		if (errno == EAGAIN || errno == EINTR) {
			int rv = wait_fd(c, POLLIN, deadline);

			if (rv != PAT_OK)
				return rv;
			continue;
		}
		return broken(c, PAT_ECLOSED, "reading from %s: %s", c->address, strerror(errno));
	}
	return PAT_OK;
}

static int connect_fd(struct dq_client *c, int family, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	int err = 0;
	socklen_t elen = sizeof err;

	c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return broken(c, PAT_EIO, "socket: %s", strerror(errno));
	if (connect(c->fd, sa, len) != 0) {
		if (errno != EINPROGRESS)
			return broken(c, PAT_ECLOSED, "cannot connect to %s: %s", c->address, strerror(errno));
		if (wait_fd(c, POLLOUT, deadline) != PAT_OK)
			return broken(c, PAT_ETIMEDOUT, "cannot connect to %s within %d ms", c->address, c->timeout_ms);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
			return broken(c, PAT_ECLOSED, "cannot connect to %s: %s", c->address, strerror(err ? err : errno));
	}
	if (family != AF_UNIX) {
		int one = 1;

		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return PAT_OK;
}

int dq_client_connect(struct dq_client *c, const char *address, int timeout_ms)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	uint8_t hello[8];
	int rv;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	buf_init(&c->out);
	buf_init(&c->in);
	if (!str_copy(c->address, address, sizeof c->address))
		return err_set(&c->err, PAT_EINVAL, "address too long: %s", address);
	if (address[0] == '/' || address[0] == '@') {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		size_t n = strlen(address);

		if (n >= sizeof un.sun_path)
			return err_set(&c->err, PAT_EINVAL, "unix socket path too long: %s", address);
		memcpy(un.sun_path, address, n);
		if (address[0] == '@')
			un.sun_path[0] = '\0'; /* abstract namespace */
		rv = connect_fd(c, AF_UNIX, (struct sockaddr *)&un,
				(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (address[0] == '/')), deadline);
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
		struct addr_hostport hp;
		const char *why = "";
		char port[8];
		int gai;

		if (addr_parse(address, false, &hp, &why) != PAT_OK)
			return err_set(&c->err, PAT_EINVAL, "bad node address \"%s\": %s", address, why);
		snprintf(port, sizeof port, "%u", hp.port);
		gai = getaddrinfo(hp.host, port, &hints, &res);
		if (gai != 0)
			return err_set(&c->err, PAT_ECLOSED, "cannot resolve %s: %s", hp.host, gai_strerror(gai));
		rv = PAT_ECLOSED;
		for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
			rv = connect_fd(c, ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline);
			if (rv == PAT_OK)
				break;
		}
		freeaddrinfo(res);
	}
	if (rv != PAT_OK)
		return rv;
	for (int i = 0; i < 8; i++)
		hello[i] = (uint8_t)((uint64_t)DQ_PROTOCOL_VERSION >> (8 * i));
	return write_all(c, hello, sizeof hello, deadline);
}

/* Map a FAILURE response to Pat's codes; the connection stays open. */
static int failure(struct dq_client *c)
{
	struct dq_cursor cur = { (const uint8_t *)c->in.data, c->in.len };
	const char *msg;
	uint64_t code;

	if (dq_dec_u64(&cur, &code) != PAT_OK || dq_dec_text(&cur, &msg, NULL) != PAT_OK)
		return broken(c, PAT_EPROTO, "%s sent a malformed failure response", c->address);
	c->fail_code = code;
	if (code == DQ_CODE_NOT_LEADER || code == DQ_CODE_LEADERSHIP_LOST)
		return err_set(&c->err, PAT_ENOTLEADER, "%s: not leader (dqlite error %llu: %s)", c->address,
			       (unsigned long long)code, msg);
	/* SQLITE_SCHEMA too: the statement met a schema that another connection was changing, and
	 * did not run. dqlite 1.11 answers it, with "no such table", to a statement prepared on a
	 * new connection while another connection commits a schema change (the node's own
	 * registration while the store migrates, on a new cluster); the same statement runs a
	 * moment later. Like "database is locked", it is safe to run again. */
	if ((code & 0xff) == 5 /* SQLITE_BUSY */ || (code & 0xff) == 6 /* SQLITE_LOCKED */ ||
	    (code & 0xff) == 17 /* SQLITE_SCHEMA */)
		return err_set(&c->err, PAT_EBUSY, "%s: dqlite error %llu: %s", c->address, (unsigned long long)code, msg);
	return err_set(&c->err, PAT_EREMOTE, "%s: dqlite error %llu: %s", c->address, (unsigned long long)code, msg);
}

/* Read one response into c->in. */
static int receive(struct dq_client *c, int64_t deadline)
{
	uint8_t header[DQ_HEADER_SIZE];
	uint64_t size;
	int rv;

	if ((rv = read_all(c, header, sizeof header, deadline)) != PAT_OK)
		return rv;
	dq_dec_header(header, &size, &c->in_type);
	if (size > DQ_MAX_BODY)
		return broken(c, PAT_EPROTO, "%s announced a %llu-byte response; refusing more than %llu",
			      c->address, (unsigned long long)size, (unsigned long long)DQ_MAX_BODY);
	buf_reset(&c->in);
	if (buf_reserve(&c->in, (size_t)size) != PAT_OK)
		return broken(c, PAT_ENOMEM, "out of memory reading a %llu-byte response", (unsigned long long)size);
	if ((rv = read_all(c, c->in.data, (size_t)size, deadline)) != PAT_OK)
		return rv;
	c->in.len = (size_t)size;
	return PAT_OK;
}

/* Send c->out, read the answer, check its type. */
static int roundtrip(struct dq_client *c, uint8_t expected)
{
	int64_t deadline = time_mono_ms() + c->timeout_ms;
	int rv;

	c->fail_code = 0;
	c->sent = true;
	c->check_at = c->check != NULL && c->check_ms > 0 ? time_mono_ms() + c->check_ms : 0;
	rv = write_all(c, c->out.data, c->out.len, deadline);
	if (rv == PAT_OK)
		rv = receive(c, deadline);
	c->check_at = 0;
	if (rv != PAT_OK)
		return rv;
	if (c->in_type == DQ_RESP_FAILURE)
		return failure(c);
	if (c->in_type != expected)
		return broken(c, PAT_EPROTO, "%s answered with message type %u where %u was expected", c->address,
			      c->in_type, expected);
	return PAT_OK;
}

/* Start a request; PAT_ECLOSED or PAT_EBUSY when none can be sent now. */
static int begin(struct dq_client *c, struct dq_encoder *e, enum dq_request type, bool needs_db)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

	c->sent = false;
	c->fail_code = 0;
	/* Between requests a node sends nothing: anything readable now is the connection being
	 * closed (a node that died or restarted). Find out before sending, so that a write is
	 * never lost in a dead socket with its outcome unknown. */
	if (c->fd >= 0 && !c->in_query && poll(&p, 1, 0) > 0)
		return broken(c, PAT_ECLOSED, "%s closed the connection", c->address);
	if (c->fd < 0)
		return err_set(&c->err, PAT_ECLOSED, "not connected to %s", c->address[0] ? c->address : "a node");
	if (c->in_query)
		return err_set(&c->err, PAT_EBUSY, "a result set is still being read on this connection");
	if (needs_db && !c->db_open)
		return err_set(&c->err, PAT_EINVAL, "no database is open on this connection");
	buf_reset(&c->out);
	dq_enc_begin(e, &c->out, type, 0);
	return PAT_OK;
}

static int finish(struct dq_client *c, struct dq_encoder *e, uint8_t expected)
{
	int rv = dq_enc_end(e);

	if (rv == PAT_EINVAL)
		return err_set(&c->err, rv, "bad parameters: at most %d, text without NUL bytes", DQ_MAX_PARAMS);
	if (rv != PAT_OK)
		return err_set(&c->err, rv, "out of memory encoding a request");
	return roundtrip(c, expected);
}

static struct dq_cursor body(const struct dq_client *c)
{
	return (struct dq_cursor){ (const uint8_t *)c->in.data, c->in.len };
}

static int malformed(struct dq_client *c, const char *what)
{
	return broken(c, PAT_EPROTO, "%s sent a malformed %s response", c->address, what);
}

int dq_client_leader(struct dq_client *c, uint64_t *id, char *address, size_t n)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	const char *a;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_LEADER, false)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, 0);
	if ((rv = finish(c, &e, DQ_RESP_SERVER)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u64(&cur, id) != PAT_OK || dq_dec_text(&cur, &a, NULL) != PAT_OK)
		return malformed(c, "leader");
	str_copy(address, a, n);
	return PAT_OK;
}

int dq_client_hello(struct dq_client *c, uint64_t client_id, uint64_t *heartbeat_ms)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	uint64_t hb;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_CLIENT, false)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, client_id);
	if ((rv = finish(c, &e, DQ_RESP_WELCOME)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u64(&cur, &hb) != PAT_OK)
		return malformed(c, "welcome");
	if (heartbeat_ms != NULL)
		*heartbeat_ms = hb;
	return PAT_OK;
}

int dq_client_open(struct dq_client *c, const char *name)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	uint32_t id, pad;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_OPEN, false)) != PAT_OK)
		return rv;
	dq_enc_text(&e, name);
	dq_enc_u64(&e, 0);
	dq_enc_text(&e, "");
	if ((rv = finish(c, &e, DQ_RESP_DB)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u32(&cur, &id) != PAT_OK || dq_dec_u32(&cur, &pad) != PAT_OK)
		return malformed(c, "db");
	c->db_id = id;
	c->db_open = true;
	return PAT_OK;
}

int dq_client_prepare(struct dq_client *c, const char *sql, uint32_t *stmt_id, uint64_t *n_params)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	uint32_t db, id;
	uint64_t params;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_PREPARE, true)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, c->db_id);
	dq_enc_text(&e, sql);
	if ((rv = finish(c, &e, DQ_RESP_STMT)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u32(&cur, &db) != PAT_OK || dq_dec_u32(&cur, &id) != PAT_OK || dq_dec_u64(&cur, &params) != PAT_OK)
		return malformed(c, "statement");
	if (c->n_stmts == c->cap_stmts) {
		size_t cap = c->cap_stmts ? c->cap_stmts * 2 : 8;
		uint32_t *stmts = mem_realloc(c->stmts, cap * sizeof *stmts);

		if (stmts == NULL) {
			/* The node holds a statement we cannot track: drop the connection with it. */
			return broken(c, PAT_ENOMEM, "out of memory");
		}
		c->stmts = stmts;
		c->cap_stmts = cap;
	}
	c->stmts[c->n_stmts++] = id;
	*stmt_id = id;
	if (n_params != NULL)
		*n_params = params;
	return PAT_OK;
}

static int decode_result(struct dq_client *c, struct dq_result *result)
{
	struct dq_cursor cur = body(c);
	struct dq_result r;

	if (dq_dec_u64(&cur, &r.last_insert_id) != PAT_OK || dq_dec_u64(&cur, &r.rows_affected) != PAT_OK)
		return malformed(c, "result");
	if (result != NULL)
		*result = r;
	return PAT_OK;
}

static void enc_stmt(struct dq_client *c, struct dq_encoder *e, uint32_t stmt_id)
{
	dq_enc_u64(e, (uint64_t)c->db_id | (uint64_t)stmt_id << 32);
}

int dq_client_exec(struct dq_client *c, uint32_t stmt_id, const struct dq_value *params, unsigned n,
		   struct dq_result *result)
{
	struct dq_encoder e;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_EXEC, true)) != PAT_OK || (rv = check_stmt(c, stmt_id)) != PAT_OK)
		return rv;
	enc_stmt(c, &e, stmt_id);
	if (n > 0)
		dq_enc_params(&e, params, n);
	if ((rv = finish(c, &e, DQ_RESP_RESULT)) != PAT_OK)
		return rv;
	return decode_result(c, result);
}

bool dq_client_io_failed(const struct dq_client *c)
{
	/* SQLITE_IOERR, and SQLITE_CORRUPT ("database disk image is malformed"), which has been
	 * seen to follow the stuck WAL's first "disk I/O error" on every later write (a node
	 * restart, which rebuilds the database from the Raft log, cures both). */
	return (c->fail_code & 0xff) == 10 || (c->fail_code & 0xff) == 11;
}

int dq_client_exec_cached(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
			  struct dq_result *result)
{
	size_t slot = 0;
	uint32_t id;
	int rv;

	for (size_t i = 0; i < DQ_STMT_CACHE; i++) {
		if (c->cache[i].sql != NULL && c->cache[i].generation == c->generation && stmt_live(c, c->cache[i].id) &&
		    strcmp(c->cache[i].sql, sql) == 0)
			return dq_client_exec(c, c->cache[i].id, params, n, result);
		/* A free slot, or one of an older connection, else the oldest. */
		if (c->cache[slot].sql != NULL && (c->cache[i].sql == NULL || c->cache[i].generation != c->generation ||
						   c->cache[i].id < c->cache[slot].id))
			slot = i;
	}
	if ((rv = dq_client_prepare(c, sql, &id, NULL)) != PAT_OK)
		return rv;
	if (c->cache[slot].sql != NULL) {
		if (c->cache[slot].generation == c->generation && stmt_live(c, c->cache[slot].id) &&
		    (rv = dq_client_finalize(c, c->cache[slot].id)) != PAT_OK)
			return rv;
		mem_free(c->cache[slot].sql);
	}
	c->cache[slot].sql = mem_strdup(sql);
	c->cache[slot].id = id;
	c->cache[slot].generation = c->generation;
	if (c->cache[slot].sql == NULL) {
		dq_client_finalize(c, id);
		return err_set(&c->err, PAT_ENOMEM, "out of memory");
	}
	return dq_client_exec(c, id, params, n, result);
}

int dq_client_exec_sql(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
		       struct dq_result *result)
{
	struct dq_encoder e;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_EXEC_SQL, true)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, c->db_id);
	dq_enc_text(&e, sql);
	if (n > 0)
		dq_enc_params(&e, params, n);
	if ((rv = finish(c, &e, DQ_RESP_RESULT)) != PAT_OK)
		return rv;
	return decode_result(c, result);
}

int dq_client_finalize(struct dq_client *c, uint32_t stmt_id)
{
	struct dq_encoder e;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_FINALIZE, true)) != PAT_OK || (rv = check_stmt(c, stmt_id)) != PAT_OK)
		return rv;
	enc_stmt(c, &e, stmt_id);
	if ((rv = finish(c, &e, DQ_RESP_EMPTY)) != PAT_OK)
		return rv;
	for (size_t i = 0; i < c->n_stmts; i++)
		if (c->stmts[i] == stmt_id)
			c->stmts[i] = c->stmts[--c->n_stmts];
	return PAT_OK;
}

/* Read the column count and names that open every part; on the first part, keep them. */
static int rows_header(struct dq_rows *r, bool first)
{
	struct dq_client *c = r->c;
	uint64_t n;

	r->cur = body(c);
	if (dq_dec_u64(&r->cur, &n) != PAT_OK || n == 0 || n > MAX_COLUMNS || (!first && n != r->n_columns))
		return malformed(c, "rows");
	if (first) {
		r->n_columns = (unsigned)n;
		r->columns = mem_calloc(n, sizeof *r->columns);
		r->values = mem_calloc(n, sizeof *r->values);
		if (r->columns == NULL || r->values == NULL)
			return broken(c, PAT_ENOMEM, "out of memory reading %llu columns", (unsigned long long)n);
	}
	for (uint64_t i = 0; i < n; i++) {
		const char *name;

		if (dq_dec_text(&r->cur, &name, NULL) != PAT_OK)
			return malformed(c, "rows");
		if (first && (r->columns[i] = mem_strdup(name)) == NULL)
			return broken(c, PAT_ENOMEM, "out of memory reading column names");
	}
	return PAT_OK;
}

static int start_rows(struct dq_client *c, struct dq_encoder *e, struct dq_rows *r)
{
	int rv;

	memset(r, 0, sizeof *r);
	r->c = c;
	r->done = true;
	if ((rv = finish(c, e, DQ_RESP_ROWS)) != PAT_OK)
		return rv;
	c->in_query = true;
	r->done = false;
	if ((rv = rows_header(r, true)) != PAT_OK) {
		/* The caller owns nothing of a query that failed. */
		dq_rows_close(r);
		return rv;
	}
	return PAT_OK;
}

int dq_client_query(struct dq_client *c, uint32_t stmt_id, const struct dq_value *params, unsigned n,
		    struct dq_rows *rows)
{
	struct dq_encoder e;
	int rv;

	memset(rows, 0, sizeof *rows);
	rows->done = true;
	if ((rv = begin(c, &e, DQ_REQ_QUERY, true)) != PAT_OK || (rv = check_stmt(c, stmt_id)) != PAT_OK)
		return rv;
	enc_stmt(c, &e, stmt_id);
	if (n > 0)
		dq_enc_params(&e, params, n);
	return start_rows(c, &e, rows);
}

int dq_client_query_sql(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
			struct dq_rows *rows)
{
	struct dq_encoder e;
	int rv;

	memset(rows, 0, sizeof *rows);
	rows->done = true;
	if ((rv = begin(c, &e, DQ_REQ_QUERY_SQL, true)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, c->db_id);
	dq_enc_text(&e, sql);
	if (n > 0)
		dq_enc_params(&e, params, n);
	return start_rows(c, &e, rows);
}

int dq_rows_next(struct dq_rows *r, bool *has_row)
{
	struct dq_client *c = r->c;

	*has_row = false;
	if (r->done)
		return PAT_OK;
	for (;;) {
		uint64_t marker;
		int rv;

		if (c->fd < 0) {
			r->done = true;
			return c->err.code != PAT_OK ? c->err.code : PAT_ECLOSED;
		}
		if (dq_peek_u64(&r->cur, &marker) != PAT_OK) {
			r->done = true;
			return malformed(c, "rows");
		}
		if (marker != DQ_ROWS_DONE && marker != DQ_ROWS_PART) {
			if (dq_dec_row(&r->cur, r->n_columns, r->values) != PAT_OK) {
				r->done = true;
				return malformed(c, "rows");
			}
			*has_row = true;
			return PAT_OK;
		}
		dq_dec_u64(&r->cur, &marker);
		if (r->cur.left != 0) {
			r->done = true;
			return malformed(c, "rows");
		}
		if (marker == DQ_ROWS_DONE) {
			r->done = true;
			c->in_query = false;
			return PAT_OK;
		}
		/* Another part follows: dqlite sends it without being asked. */
		rv = receive(c, time_mono_ms() + c->timeout_ms);
		if (rv == PAT_OK && c->in_type == DQ_RESP_FAILURE) {
			c->in_query = false;
			r->done = true;
			return failure(c);
		}
		if (rv == PAT_OK && c->in_type != DQ_RESP_ROWS)
			rv = malformed(c, "rows");
		if (rv == PAT_OK)
			rv = rows_header(r, false);
		if (rv != PAT_OK) {
			r->done = true;
			return rv;
		}
	}
}

int dq_client_interrupt(struct dq_client *c)
{
	int64_t deadline = time_mono_ms() + c->timeout_ms;
	struct dq_encoder e;
	int rv;

	if (c->fd < 0)
		return err_set(&c->err, PAT_ECLOSED, "not connected");
	if (!c->db_open)
		return err_set(&c->err, PAT_EINVAL, "no database is open on this connection");
	buf_reset(&c->out);
	dq_enc_begin(&e, &c->out, DQ_REQ_INTERRUPT, 0);
	dq_enc_u64(&e, c->db_id);
	if ((rv = dq_enc_end(&e)) != PAT_OK)
		return err_set(&c->err, rv, "out of memory encoding a request");
	if ((rv = write_all(c, c->out.data, c->out.len, deadline)) != PAT_OK)
		return rv;
	/* Parts already on their way arrive first; the interrupt is answered last. */
	for (;;) {
		if ((rv = receive(c, deadline)) != PAT_OK)
			return rv;
		if (c->in_type == DQ_RESP_EMPTY)
			break;
		if (c->in_type == DQ_RESP_FAILURE) {
			c->in_query = false;
			return failure(c);
		}
		if (c->in_type != DQ_RESP_ROWS)
			return malformed(c, "interrupt");
	}
	c->in_query = false;
	return PAT_OK;
}

void dq_rows_close(struct dq_rows *r)
{
	if (!r->done && r->c != NULL && r->c->fd >= 0)
		dq_client_interrupt(r->c);
	for (unsigned i = 0; r->columns != NULL && i < r->n_columns; i++)
		mem_free(r->columns[i]);
	mem_free(r->columns);
	mem_free(r->values);
	r->columns = NULL;
	r->values = NULL;
	r->done = true;
}

static int simple(struct dq_client *c, enum dq_request type, uint64_t a, const char *text, bool has_b, uint64_t b)
{
	struct dq_encoder e;
	int rv;

	if ((rv = begin(c, &e, type, false)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, a);
	if (text != NULL)
		dq_enc_text(&e, text);
	if (has_b)
		dq_enc_u64(&e, b);
	return finish(c, &e, DQ_RESP_EMPTY);
}

int dq_client_add(struct dq_client *c, uint64_t id, const char *address)
{
	return simple(c, DQ_REQ_ADD, id, address, false, 0);
}

int dq_client_assign(struct dq_client *c, uint64_t id, enum dq_role role)
{
	return simple(c, DQ_REQ_ASSIGN, id, NULL, true, (uint64_t)role);
}

int dq_client_remove(struct dq_client *c, uint64_t id)
{
	return simple(c, DQ_REQ_REMOVE, id, NULL, false, 0);
}

int dq_client_transfer(struct dq_client *c, uint64_t id)
{
	return simple(c, DQ_REQ_TRANSFER, id, NULL, false, 0);
}

int dq_client_weight(struct dq_client *c, uint64_t weight)
{
	return simple(c, DQ_REQ_WEIGHT, weight, NULL, false, 0);
}

int dq_client_cluster(struct dq_client *c, struct dq_member **members, size_t *n_members)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	struct dq_member *m;
	uint64_t n;
	int rv;

	*members = NULL;
	*n_members = 0;
	if ((rv = begin(c, &e, DQ_REQ_CLUSTER, false)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, 1); /* format 1: with roles */
	if ((rv = finish(c, &e, DQ_RESP_SERVERS)) != PAT_OK)
		return rv;
	cur = body(c);
	/* Each member takes at least 24 bytes: a count beyond that is a lie. */
	if (dq_dec_u64(&cur, &n) != PAT_OK || n > cur.left / 24)
		return malformed(c, "cluster");
	m = mem_calloc(n, sizeof *m);
	if (m == NULL)
		return broken(c, PAT_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		const char *address;
		uint64_t role;

		if (dq_dec_u64(&cur, &m[i].id) != PAT_OK || dq_dec_text(&cur, &address, NULL) != PAT_OK ||
		    dq_dec_u64(&cur, &role) != PAT_OK || role > DQ_SPARE) {
			mem_free(m);
			return malformed(c, "cluster");
		}
		str_copy(m[i].address, address, sizeof m[i].address);
		m[i].role = (enum dq_role)role;
	}
	*members = m;
	*n_members = (size_t)n;
	return PAT_OK;
}

int dq_client_describe(struct dq_client *c, uint64_t *failure_domain, uint64_t *weight)
{
	struct dq_encoder e;
	struct dq_cursor cur;
	int rv;

	if ((rv = begin(c, &e, DQ_REQ_DESCRIBE, false)) != PAT_OK)
		return rv;
	dq_enc_u64(&e, 0);
	if ((rv = finish(c, &e, DQ_RESP_METADATA)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u64(&cur, failure_domain) != PAT_OK || dq_dec_u64(&cur, weight) != PAT_OK)
		return malformed(c, "metadata");
	return PAT_OK;
}

void dq_files_free(struct dq_file files[2])
{
	for (int i = 0; i < 2; i++) {
		mem_free(files[i].name);
		mem_free(files[i].data);
		memset(&files[i], 0, sizeof files[i]);
	}
}

int dq_client_dump(struct dq_client *c, const char *name, struct dq_file files[2])
{
	struct dq_encoder e;
	struct dq_cursor cur;
	uint64_t n;
	int rv;

	memset(files, 0, 2 * sizeof *files);
	if ((rv = begin(c, &e, DQ_REQ_DUMP, false)) != PAT_OK)
		return rv;
	dq_enc_text(&e, name);
	if ((rv = finish(c, &e, DQ_RESP_FILES)) != PAT_OK)
		return rv;
	cur = body(c);
	if (dq_dec_u64(&cur, &n) != PAT_OK || n != 2)
		return malformed(c, "dump");
	for (int i = 0; i < 2; i++) {
		const char *fname;
		uint64_t len;

		if (dq_dec_text(&cur, &fname, NULL) != PAT_OK || dq_dec_u64(&cur, &len) != PAT_OK ||
		    len > cur.left || len % 8 != 0) {
			dq_files_free(files);
			return malformed(c, "dump");
		}
		files[i].name = mem_strdup(fname);
		files[i].data = mem_alloc(len);
		if (files[i].name == NULL || files[i].data == NULL) {
			dq_files_free(files);
			return broken(c, PAT_ENOMEM, "out of memory");
		}
		memcpy(files[i].data, cur.p, len);
		files[i].len = (size_t)len;
		cur.p += len;
		cur.left -= len;
	}
	return PAT_OK;
}

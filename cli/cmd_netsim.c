/* cmd_netsim: `pat netsim`, a TCP proxy that makes a network worse on purpose.
 *
 * Put it between SMTP clients and a gateway, or between nodes, to see what a slow, jittery or
 * lossy link does to Pat (and to pick [cluster] network_latency). Each listener forwards every
 * connection to its `to` address (or, with --transparent, to the destination iptables REDIRECT
 * took it from), and both directions of each connection pass through lib/netsim_sched: data read
 * from one side waits until its delivery time (latency, jitter, bandwidth, loss as stalls; never
 * reordered), then is written to the other side. A close (EOF) travels the same way, after the
 * data before it. A connection drawn for a reset is reset on both sides at a random moment of
 * its first RESET_WITHIN_MS.
 *
 * One libuv loop does everything. Memory stays bounded: when a direction holds more than
 * HIGH_WATER bytes not yet written, reading from its source stops until it drains to LOW_WATER,
 * so a fast sender on a slow simulated link is slowed by TCP itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/netsim_sched.h"
#include "lib/timeutil.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif

#define OPT_PROFILE 2 /* index in netsim_options (commands.c) */
#define OPT_TRANSPARENT 3
#define MAX_LINKS 32
#define READ_SIZE 65536
#define HIGH_WATER (1u << 20)
#define LOW_WATER (HIGH_WATER / 4)
#define RESET_WITHIN_MS 5000
#define CONN_HANDLES 5 /* client, upstream, two direction timers, the reset timer */

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct proxy;
struct conn;

/* Bytes read from one side, waiting for their delivery time. */
struct chunk {
	struct chunk *next;
	struct half *half; /* the direction it travels */
	int64_t at_us;     /* delivery time */
	size_t len;        /* 0: the source closed (EOF) */
	uv_write_t write;
	char data[];
};

/* One direction of a connection: from src to dst. */
struct half {
	struct conn *conn;
	uv_tcp_t *src, *dst;
	struct netsim_dir sched;
	struct chunk *head, *tail; /* waiting for their time */
	uv_timer_t timer;          /* fires at head's time */
	size_t pending;            /* bytes read and not yet written */
	uint64_t bytes;            /* bytes delivered */
	bool paused;               /* reading from src stopped (HIGH_WATER) */
	bool eof;                  /* src closed; the EOF is queued */
	bool done;                 /* the EOF reached dst (shutdown) */
	uv_shutdown_t shutdown;
};

struct conn {
	struct proxy *proxy;
	uint64_t id;
	uv_tcp_t client, upstream;
	uv_connect_t connect;
	struct half up, down; /* client -> upstream, upstream -> client */
	uv_timer_t reset_timer;
	bool connected;       /* the upstream connection is up */
	bool closing;
	int open_handles;
	struct conn *prev, *next; /* in proxy->conns */
};

/* One listener and where its connections go. */
struct link {
	struct proxy *proxy;
	uv_tcp_t server;
	char listen[ADDR_HOST_MAX + 8];
	char to[ADDR_HOST_MAX + 8];
	struct sockaddr_storage to_addr; /* resolved at start (unused when transparent) */
	struct sockaddr_storage own;     /* the bound address, to refuse loops */
};

struct proxy {
	uv_loop_t *loop;
	struct netsim_profile profile;
	bool transparent;
	uint64_t seed;
	uint64_t next_id;
	struct link links[MAX_LINKS];
	size_t n_links;
	struct conn *conns;
	uv_signal_t sigterm, sigint;
	char read_buf[READ_SIZE];
};

static int64_t now_us(void)
{
	return (int64_t)(uv_hrtime() / 1000);
}

static void conn_close(struct conn *c, bool reset);

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	for (int i = 0; i < 2; i++) {
		struct half *hf = i == 0 ? &c->up : &c->down;

		while (hf->head != NULL) {
			struct chunk *k = hf->head;

			hf->head = k->next;
			mem_free(k);
		}
	}
	log_debug("netsim connection closed", "id=%llu bytes_up=%llu bytes_down=%llu stalls=%llu",
		  (unsigned long long)c->id, (unsigned long long)c->up.bytes, (unsigned long long)c->down.bytes,
		  (unsigned long long)(c->up.sched.stalls + c->down.sched.stalls));
	mem_free(c);
}

static void close_tcp(uv_tcp_t *t, bool reset)
{
	if (reset && uv_tcp_close_reset(t, on_conn_handle_closed) == 0)
		return;
	uv_close((uv_handle_t *)t, on_conn_handle_closed);
}

/* Close both sides (with a TCP reset when asked: the peer sees ECONNRESET) and everything of
 * the connection; it is freed when the last handle's close completes. */
static void conn_close(struct conn *c, bool reset)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->proxy->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	close_tcp(&c->client, reset);
	close_tcp(&c->upstream, reset && c->connected);
	/* Every handle's close callback finds the connection in data. */
	c->up.timer.data = c->down.timer.data = c;
	uv_close((uv_handle_t *)&c->up.timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->down.timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->reset_timer, on_conn_handle_closed);
}

/* A connection whose both directions delivered their EOF and wrote everything is over. */
static void check_finished(struct conn *c)
{
	if (!c->closing && c->up.done && c->down.done && c->up.pending == 0 && c->down.pending == 0)
		conn_close(c, false);
}

static void arm(struct half *h);
static void deliver_due(struct half *h);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
	struct chunk *k = container_of(req, struct chunk, write);
	struct half *h = k->half;
	struct conn *c = h->conn;

	h->pending -= k->len;
	h->bytes += k->len;
	mem_free(k);
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("netsim write failed", "id=%llu error=%s", (unsigned long long)c->id, uv_strerror(status));
		conn_close(c, true);
		return;
	}
	if (h->paused && h->pending <= LOW_WATER && !h->eof) {
		h->paused = false;
		uv_read_start((uv_stream_t *)h->src, on_alloc, on_read);
	}
	check_finished(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct half *h = container_of(req, struct half, shutdown);

	(void)status;
	h->done = true;
	if (!h->conn->closing)
		check_finished(h->conn);
}

/* Deliver every chunk whose time has come (within a millisecond: libuv's timers count
 * milliseconds), then wait for the next. */
static void deliver_due(struct half *h)
{
	struct conn *c = h->conn;
	int64_t now = now_us();

	while (!c->closing && h->head != NULL && h->head->at_us <= now + 1000) {
		struct chunk *k = h->head;
		int rv;

		h->head = k->next;
		if (h->head == NULL)
			h->tail = NULL;
		if (k->len == 0) {
			mem_free(k);
			rv = uv_shutdown(&h->shutdown, (uv_stream_t *)h->dst, on_shutdown);
		} else {
			uv_buf_t b = uv_buf_init(k->data, (unsigned)k->len);

			rv = uv_write(&k->write, (uv_stream_t *)h->dst, &b, 1, on_written);
			if (rv != 0) {
				h->pending -= k->len;
				mem_free(k);
			}
		}
		if (rv != 0) {
			conn_close(c, true);
			return;
		}
	}
	arm(h);
}

static void on_due(uv_timer_t *t)
{
	deliver_due(t->data);
}

static void arm(struct half *h)
{
	int64_t wait;

	if (h->conn->closing || h->head == NULL)
		return;
	wait = h->head->at_us - now_us();
	uv_timer_start(&h->timer, on_due, wait > 0 ? (uint64_t)((wait + 999) / 1000) : 0, 0);
}

static void enqueue(struct half *h, const char *data, size_t len)
{
	struct chunk *k = mem_alloc(sizeof *k + len);

	if (k == NULL) {
		log_error("netsim out of memory", "id=%llu", (unsigned long long)h->conn->id);
		conn_close(h->conn, true);
		return;
	}
	k->next = NULL;
	k->half = h;
	k->len = len;
	k->at_us = netsim_dir_schedule(&h->sched, now_us(), len);
	if (len > 0)
		memcpy(k->data, data, len);
	if (h->tail != NULL)
		h->tail->next = k;
	else
		h->head = k;
	h->tail = k;
	h->pending += len;
	/* Due now (the LAN profile): no detour through a timer. */
	if (h->head == k && k->at_us <= now_us())
		deliver_due(h);
	else if (h->head == k)
		arm(h);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = handle->data;

	(void)suggested;
	*buf = uv_buf_init(c->proxy->read_buf, sizeof c->proxy->read_buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = stream->data;
	struct half *h = stream == (uv_stream_t *)&c->client ? &c->up : &c->down;

	if (c->closing || nread == 0)
		return;
	if (nread == UV_EOF) {
		uv_read_stop(stream);
		h->eof = true;
		enqueue(h, NULL, 0);
		return;
	}
	if (nread < 0) {
		log_debug("netsim read failed", "id=%llu error=%s", (unsigned long long)c->id, uv_strerror((int)nread));
		conn_close(c, true);
		return;
	}
	enqueue(h, buf->base, (size_t)nread);
	if (!c->closing && h->pending >= HIGH_WATER) {
		uv_read_stop(stream);
		h->paused = true;
	}
}

static void on_reset_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	log_info("netsim reset a connection", "id=%llu", (unsigned long long)c->id);
	conn_close(c, true);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = container_of(req, struct conn, connect);

	if (c->closing)
		return;
	if (status < 0) {
		log_warn("netsim cannot connect upstream", "id=%llu error=%s", (unsigned long long)c->id, uv_strerror(status));
		conn_close(c, true);
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->client, 1);
	uv_tcp_nodelay(&c->upstream, 1);
	uv_read_start((uv_stream_t *)&c->client, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&c->upstream, on_alloc, on_read);
}

static void format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		snprintf(out, n, "%s:%u", host, ntohs(a->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		snprintf(out, n, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

/* Where a redirected connection was going (iptables REDIRECT keeps it in conntrack). */
static int original_destination(struct conn *c, struct link *l, struct sockaddr_storage *dst)
{
	socklen_t len = sizeof(struct sockaddr_in);
	struct sockaddr_in *in = (struct sockaddr_in *)dst;
	uv_os_fd_t fd;

	memset(dst, 0, sizeof *dst);
	if (uv_fileno((uv_handle_t *)&c->client, &fd) != 0 ||
	    getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, in, &len) != 0 || in->sin_family != AF_INET)
		return PAT_ENOTFOUND;
	/* A connection that was not redirected names the proxy itself: forwarding it would loop. */
	if (l->own.ss_family == AF_INET) {
		const struct sockaddr_in *own = (const struct sockaddr_in *)&l->own;

		if (own->sin_port == in->sin_port &&
		    (own->sin_addr.s_addr == in->sin_addr.s_addr || own->sin_addr.s_addr == htonl(INADDR_ANY)))
			return PAT_EINVAL;
	}
	return PAT_OK;
}

static void on_accept(uv_stream_t *server, int status)
{
	struct link *l = server->data;
	struct proxy *p = l->proxy;
	struct sockaddr_storage dst;
	char where[96];
	struct conn *c;
	uint32_t reset_after;
	struct netsim_rng rng;

	if (status < 0) {
		log_warn("netsim accept failed", "listen=%s error=%s", l->listen, uv_strerror(status));
		return;
	}
	c = mem_calloc(1, sizeof *c);
	if (c == NULL) {
		uv_tcp_t drop;

		log_error("netsim out of memory", "listen=%s", l->listen);
		/* Take the connection off the backlog and close it. */
		if (uv_tcp_init(p->loop, &drop) == 0 && uv_accept(server, (uv_stream_t *)&drop) == 0)
			uv_close((uv_handle_t *)&drop, NULL);
		return;
	}
	c->proxy = p;
	c->id = ++p->next_id;
	c->open_handles = CONN_HANDLES;
	c->up.conn = c->down.conn = c;
	c->up.src = c->down.dst = &c->client;
	c->up.dst = c->down.src = &c->upstream;
	uv_tcp_init(p->loop, &c->client);
	uv_tcp_init(p->loop, &c->upstream);
	uv_timer_init(p->loop, &c->up.timer);
	uv_timer_init(p->loop, &c->down.timer);
	uv_timer_init(p->loop, &c->reset_timer);
	c->client.data = c->upstream.data = c->reset_timer.data = c;
	c->up.timer.data = &c->up;
	c->down.timer.data = &c->down;
	/* Seeds per connection and direction: a run with the same seed is the same run. */
	netsim_rng_seed(&rng, p->seed ^ (c->id * 0x9e3779b97f4a7c15ULL));
	netsim_dir_init(&c->up.sched, &p->profile, netsim_rng_next(&rng));
	netsim_dir_init(&c->down.sched, &p->profile, netsim_rng_next(&rng));
	c->next = p->conns;
	if (p->conns != NULL)
		p->conns->prev = c;
	p->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->client) != 0) {
		conn_close(c, false);
		return;
	}
	if (p->transparent) {
		int rv = original_destination(c, l, &dst);

		if (rv != PAT_OK) {
			log_warn("netsim refused a connection", "listen=%s reason=%s", l->listen,
				 rv == PAT_EINVAL ? "not redirected (its destination is the proxy itself)"
						  : "no original destination (not redirected by iptables, or not IPv4)");
			conn_close(c, true);
			return;
		}
	} else {
		dst = l->to_addr;
	}
	format_addr((const struct sockaddr *)&dst, where, sizeof where);
	log_debug("netsim connection", "id=%llu listen=%s to=%s", (unsigned long long)c->id, l->listen, where);
	if (netsim_reset_draw(&p->profile, &rng, RESET_WITHIN_MS, &reset_after))
		uv_timer_start(&c->reset_timer, on_reset_timer, reset_after, 0);
	if (uv_tcp_connect(&c->connect, &c->upstream, (const struct sockaddr *)&dst, on_connect) != 0) {
		log_warn("netsim cannot connect upstream", "id=%llu to=%s", (unsigned long long)c->id, where);
		conn_close(c, true);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct proxy *p = h->data;

	log_info("stopping on signal", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
	uv_close((uv_handle_t *)&p->sigterm, NULL);
	uv_close((uv_handle_t *)&p->sigint, NULL);
	for (size_t i = 0; i < p->n_links; i++)
		uv_close((uv_handle_t *)&p->links[i].server, NULL);
	while (p->conns != NULL)
		conn_close(p->conns, false);
}

/* ---- start-up ---------------------------------------------------------------------- */

struct addr_list {
	char items[MAX_LINKS][ADDR_HOST_MAX + 8];
	size_t n;
};

static int collect(const struct addr_hostport *a, void *data)
{
	struct addr_list *l = data;

	if (l->n == MAX_LINKS)
		return PAT_ELIMIT;
	snprintf(l->items[l->n++], sizeof l->items[0], a->ipv6 ? "[%s]:%u" : "%s:%u", a->host, a->port);
	return PAT_OK;
}

/* Resolve HOST:PORT (a literal or a name) to its first address. */
static int resolve(const char *text, struct sockaddr_storage *out, struct pat_err *err)
{
	struct addr_hostport a;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[8];
	const char *why = NULL;
	int rv;

	if (addr_parse(text, false, &a, &why) != PAT_OK)
		return err_set(err, PAT_EINVAL, "\"%s\" is not an address (%s)", text, why ? why : "expected HOST:PORT");
	snprintf(port, sizeof port, "%u", a.port);
	rv = getaddrinfo(a.host, port, &hints, &res);
	if (rv != 0 || res == NULL)
		return err_set(err, PAT_EINVAL, "cannot resolve %s: %s", text, gai_strerror(rv));
	memset(out, 0, sizeof *out);
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return PAT_OK;
}

/* The profile: the named one, then each [netsim] key that is set. Exit status or OK. */
static int build_profile(struct cli_args *args, struct conf *c, const struct pat_settings *s, struct netsim_profile *out)
{
	const char *name = args->values[OPT_PROFILE] != NULL ? args->values[OPT_PROFILE] : s->netsim.profile;
	const struct netsim_profile *p = netsim_profile_find(name);

	if (p == NULL) {
		fprintf(stderr, "pat netsim: unknown profile '%s': expected LAN, 3G, Satellite, Congested or custom (see 'pat netsim --help')\n",
			name);
		return CLI_EXIT_USAGE;
	}
	*out = *p;
	if (conf_is_set(c, "netsim", "latency"))
		out->latency_ms = (uint32_t)s->netsim.latency;
	if (conf_is_set(c, "netsim", "jitter"))
		out->jitter_ms = (uint32_t)s->netsim.jitter;
	if (s->netsim.loss != NULL)
		settings_parse_share(s->netsim.loss, &out->loss);
	if (s->netsim.reset != NULL)
		settings_parse_share(s->netsim.reset, &out->reset);
	if (conf_is_set(c, "netsim", "bandwidth"))
		out->bandwidth = s->netsim.bandwidth;
	out->stall_ms = (uint32_t)s->netsim.stall;
	return CLI_EXIT_OK;
}

static int start_links(struct proxy *p, const struct pat_settings *s)
{
	struct addr_list *listen = mem_calloc(1, sizeof *listen), *to = mem_calloc(1, sizeof *to);
	struct pat_err err;
	int rv = CLI_EXIT_FAILURE;

	if (listen == NULL || to == NULL) {
		fprintf(stderr, "pat netsim: out of memory\n");
		goto out;
	}
	if (addr_parse_list(s->netsim.listen, false, collect, listen, NULL) != PAT_OK ||
	    (s->netsim.to != NULL && addr_parse_list(s->netsim.to, false, collect, to, NULL) != PAT_OK)) {
		fprintf(stderr, "pat netsim: at most %d listen and to addresses\n", MAX_LINKS);
		goto out;
	}
	if (!p->transparent && to->n == 0) {
		fprintf(stderr, "pat netsim: where to? set --to ADDR:PORT ([netsim] to), or --transparent\n");
		goto out;
	}
	if (!p->transparent && to->n != listen->n) {
		fprintf(stderr, "pat netsim: [netsim] listen has %zu addresses and [netsim] to %zu; expected one to for each listen, in the same order\n",
			listen->n, to->n);
		goto out;
	}
	for (size_t i = 0; i < listen->n; i++) {
		struct link *l = &p->links[i];
		struct sockaddr_storage bind_addr;
		int namelen = sizeof l->own, e;

		l->proxy = p;
		snprintf(l->listen, sizeof l->listen, "%s", listen->items[i]);
		snprintf(l->to, sizeof l->to, "%s", p->transparent ? "(original destination)" : to->items[i]);
		if (resolve(l->listen, &bind_addr, &err) != PAT_OK ||
		    (!p->transparent && resolve(l->to, &l->to_addr, &err) != PAT_OK)) {
			fprintf(stderr, "pat netsim: %s\n", err.msg);
			goto out;
		}
		uv_tcp_init(p->loop, &l->server);
		l->server.data = l;
		p->n_links++;
		if ((e = uv_tcp_bind(&l->server, (const struct sockaddr *)&bind_addr, 0)) != 0 ||
		    (e = uv_listen((uv_stream_t *)&l->server, 511, on_accept)) != 0) {
			fprintf(stderr, "pat netsim: cannot listen on %s: %s\n", l->listen, uv_strerror(e));
			goto out;
		}
		uv_tcp_getsockname(&l->server, (struct sockaddr *)&l->own, &namelen);
		log_info("netsim listening", "listen=%s to=%s", l->listen, l->to);
	}
	rv = CLI_EXIT_OK;
out:
	mem_free(listen);
	mem_free(to);
	return rv;
}

int cli_cmd_netsim(struct cli_args *args)
{
	static struct proxy p;
	struct pat_settings s;
	struct conf c;
	int rv;

	if (args->n_positional > 0) {
		fprintf(stderr, "pat netsim: unexpected argument '%s' (see 'pat netsim --help')\n", args->positional[0]);
		return CLI_EXIT_USAGE;
	}
	memset(&p, 0, sizeof p);
	rv = cli_load_config(args, SETTINGS_ROLE_NETSIM, "pat netsim", &c, &s);
	if (rv == CLI_EXIT_OK)
		rv = build_profile(args, &c, &s, &p.profile);
	if (rv != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	signal(SIGPIPE, SIG_IGN);
	p.loop = uv_default_loop();
	p.transparent = s.netsim.transparent || args->values[OPT_TRANSPARENT] != NULL;
	p.seed = s.netsim.seed != 0 ? (uint64_t)s.netsim.seed : (uint64_t)time_wall_ms() ^ ((uint64_t)getpid() << 32);
	rv = start_links(&p, &s);
	if (rv == CLI_EXIT_OK) {
		uv_signal_init(p.loop, &p.sigterm);
		uv_signal_init(p.loop, &p.sigint);
		p.sigterm.data = p.sigint.data = &p;
		uv_signal_start(&p.sigterm, on_signal, SIGTERM);
		uv_signal_start(&p.sigint, on_signal, SIGINT);
		log_info("netsim ready", "profile=%s latency_ms=%u jitter_ms=%u loss=%g bandwidth=%llu reset=%g stall_ms=%u seed=%llu transparent=%s",
			 p.profile.name, p.profile.latency_ms, p.profile.jitter_ms, p.profile.loss,
			 (unsigned long long)p.profile.bandwidth, p.profile.reset, p.profile.stall_ms,
			 (unsigned long long)p.seed, p.transparent ? "true" : "false");
	} else {
		for (size_t i = 0; i < p.n_links; i++)
			uv_close((uv_handle_t *)&p.links[i].server, NULL);
	}
	uv_run(p.loop, UV_RUN_DEFAULT);
	uv_loop_close(p.loop);
	conf_close(&c);
	return rv;
}

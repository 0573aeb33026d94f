/* Integration tests of `pat serve` over SMTP: conversations with pipelining, malformed and
 * out-of-order commands, limits, AUTH, UTF-8 addresses, real clients (Python's smtplib,
 * pat sendmail, pat load), and every acknowledged message surviving a kill -9. The corpus
 * round trip is in test_corpus.c. */
#include "tests/lib/testutil.h"
#include "tests/lib/serve.h"
#include "tests/lib/smtp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "consensus/leader.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/mem.h"
#include "node/store.h"

static struct ts_serve serve;
/* Where the tests' SMTP connections go: pat serve, or for a while another server. */
static int smtp_port;

/* The limits the tests run into. */
static const char *const serve_settings[] = { "--set", "smtp.max_message_size=64KiB", "--set", "smtp.max_recipients=3",
					      "--set", "smtp.command_timeout=2s", "--set", "smtp.max_connections_per_ip=8",
					      "--set", "smtp.hostname=pat.test", NULL };

static int setup(void **state)
{
	(void)state;
	ts_serve_init(&serve, false);
	ts_serve_start(&serve, serve_settings);
	smtp_port = serve.smtp_port;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_serve_close(&serve);
	return 0;
}

/* ---- tests ---- */

static void ehlo_lists_extensions(void **state)
{
	struct smtp_conn c;
	char *r;

	(void)state;
	smtp_open(&c, smtp_port);
	smtp_expect(&c, "220 pat.test ESMTP Pat");
	smtp_send(&c, "EHLO client.test\r\n");
	r = smtp_reply(&c);
	assert_contains(r, "250-PIPELINING");
	assert_contains(r, "250-SIZE 65536");
	assert_contains(r, "250-8BITMIME");
	assert_contains(r, "250-SMTPUTF8");
	assert_contains(r, "250-ENHANCEDSTATUSCODES");
	assert_contains(r, "AUTH PLAIN LOGIN");
	assert_contains(r, "250-STARTTLS"); /* pat serve brings a certificate of its own */
	free(r);
	smtp_send(&c, "HELO client.test\r\n");
	smtp_expect(&c, "250 pat.test");
	smtp_send(&c, "VRFY someone\r\n");
	smtp_expect(&c, "252 2.5.0");
	smtp_send(&c, "HELP\r\n");
	smtp_expect(&c, "214 2.0.0");
	smtp_send(&c, "STARTTLS now\r\n");
	smtp_expect(&c, "501 5.5.4");
	smtp_send(&c, "QUIT\r\n");
	smtp_expect(&c, "221 2.0.0");
	smtp_close(&c);
}

static void pipelined_message_is_stored(void **state)
{
	struct smtp_conn c;
	struct dq_leader l;
	struct store_row row;
	struct pat_err err;
	char *r, id[64] = "";
	uint8_t *raw;
	size_t len;
	static const char body[] = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: pipelined\r\n\r\n"
				   "first line\r\n.leading dot\r\n";

	(void)state;
	smtp_hello(&c, smtp_port);
	/* Everything in one write, as a PIPELINING client does. */
	smtp_send(&c, "MAIL FROM:<alice@example.com> SIZE=200 BODY=8BITMIME\r\nRCPT TO:<bob@example.com>\r\n"
		 "RCPT TO:<carol@example.com>\r\nDATA\r\n");
	smtp_expect(&c, "250 2.1.0");
	smtp_expect(&c, "250 2.1.5");
	smtp_expect(&c, "250 2.1.5");
	smtp_expect(&c, "354");
	smtp_send(&c, "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: pipelined\r\n\r\nfirst line\r\n"
		 "..leading dot\r\n.\r\nNOOP\r\n");
	r = smtp_reply(&c);
	assert_contains(r, "250 2.0.0 Ok: queued as ");
	sscanf(r, "250 2.0.0 Ok: queued as %63s", id);
	free(r);
	smtp_expect(&c, "250 2.0.0"); /* the NOOP sent behind the message */
	smtp_send(&c, "QUIT\r\n");
	smtp_expect(&c, "221");
	smtp_close(&c);
	/* It is in the store: summary and raw bytes, dot-unstuffed, behind one trace header. */
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	assert_int_equal(store_get(&l, "default", id, &row, &err), PAT_OK);
	assert_string_equal(row.m.subject, "pipelined");
	assert_string_equal(row.m.from, "Alice <alice@example.com>");
	assert_string_equal(row.m.mail_from, "alice@example.com");
	assert_string_equal(row.m.rcpt_to, "bob@example.com,carol@example.com");
	assert_string_equal(row.m.helo, "client.test");
	assert_int_equal(store_unpack_raw(row.m.raw, row.m.raw_len, 1 << 20, &raw, &len, &err), PAT_OK);
	assert_true(strncmp((char *)raw, "Received: from client.test (127.0.0.1:", 38) == 0);
	assert_true(len > sizeof body - 1);
	assert_memory_equal(raw + len - (sizeof body - 1), body, sizeof body - 1);
	mem_free(raw);
	store_row_free(&row);
	{
		/* Its text is searchable. */
		struct store_row *found;
		size_t n;

		assert_int_equal(store_search(&l, "default", "\"first line\" pipelined", 5, &found, &n, &err), PAT_OK);
		assert_int_equal(n, 1);
		assert_string_equal(found[0].m.id, id);
		store_rows_free(found, n);
	}
	dq_leader_close(&l);
}

/* MAIL FROM:<from>, RCPT TO:<bob@example.com> and DATA, each answered before the next. */
static void start_message(struct smtp_conn *c, const char *from)
{
	char mail[300];

	snprintf(mail, sizeof mail, "MAIL FROM:<%s>\r\n", from);
	smtp_send(c, mail);
	smtp_expect(c, "250 2.1.0");
	smtp_send(c, "RCPT TO:<bob@example.com>\r\n");
	smtp_expect(c, "250 2.1.5");
	smtp_send(c, "DATA\r\n");
	smtp_expect(c, "354");
}

/* A client that sends its next commands in packets of their own while its message is being
 * stored gets its answers in order, the message's first; one that hangs up right after the
 * final dot still has its message stored. */
static void commands_sent_while_a_message_is_stored(void **state)
{
	struct smtp_conn c;
	struct dq_leader l;
	struct store_row *found;
	struct pat_err err;
	size_t n;
	char *r;

	(void)state;
	smtp_hello(&c, smtp_port);
	for (int i = 0; i < 20; i++) {
		start_message(&c, "early@example.com");
		smtp_send(&c, "Subject: eager sender\r\n\r\nhello\r\n.\r\n");
		smtp_send(&c, "NOOP\r\n"); /* before the answer to the message, most of the time */
		smtp_send(&c, "RSET\r\n");
		r = smtp_reply(&c);
		assert_contains(r, "250 2.0.0 Ok: queued as ");
		free(r);
		smtp_expect(&c, "250 2.0.0"); /* NOOP */
		smtp_expect(&c, "250 2.0.0"); /* RSET */
	}
	smtp_send(&c, "QUIT\r\n");
	smtp_expect(&c, "221");
	smtp_close(&c);

	smtp_hello(&c, smtp_port);
	start_message(&c, "gone@example.com");
	smtp_send(&c, "Subject: hangupwithoutwaiting\r\n\r\nbye\r\n.\r\n");
	smtp_close(&c);
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	for (int t = 0; t < 100; t++) {
		assert_int_equal(store_search(&l, "default", "hangupwithoutwaiting", 5, &found, &n, &err), PAT_OK);
		store_rows_free(found, n);
		if (n == 1)
			break;
		usleep(50000);
	}
	assert_int_equal(n, 1);
	dq_leader_close(&l);
	/* The server goes on serving. */
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "QUIT\r\n");
	smtp_expect(&c, "221");
	smtp_close(&c);
}

static void commands_out_of_order_and_malformed(void **state)
{
	struct smtp_conn c;
	char nul[] = "NO\0OP\r\n";
	char *long_line = malloc(5000);

	(void)state;
	smtp_open(&c, smtp_port);
	smtp_expect(&c, "220");
	smtp_send(&c, "MAIL FROM:<a@example.com>\r\n");
	smtp_expect(&c, "503 5.5.1 Error: send HELO/EHLO first");
	smtp_send(&c, "EHLO\r\n");
	smtp_expect(&c, "501 5.5.4");
	smtp_send(&c, "EHLO client.test\r\n");
	smtp_expect(&c, "250-");
	smtp_send(&c, "RCPT TO:<b@example.com>\r\n");
	smtp_expect(&c, "503 5.5.1 Error: need MAIL");
	smtp_send(&c, "DATA\r\n");
	smtp_expect(&c, "503 5.5.1 Error: need RCPT");
	smtp_send(&c, "MAIL FROM:a@example.com\r\n");
	smtp_expect(&c, "501 5.5.4 Syntax: MAIL FROM:<address>");
	smtp_send(&c, "MAIL FROM:<a@example.com> FROBNICATE=1\r\n");
	smtp_expect(&c, "555 5.5.4");
	smtp_send(&c, "MAIL FROM:<a@example.com> BODY=9BIT\r\n");
	smtp_expect(&c, "501 5.5.4");
	smtp_send(&c, "MAIL FROM:<>\r\n"); /* the null sender of bounces is fine */
	smtp_expect(&c, "250 2.1.0");
	smtp_send(&c, "MAIL FROM:<x@example.com>\r\n");
	smtp_expect(&c, "503 5.5.1");
	smtp_send(&c, "RCPT TO:<>\r\n");
	smtp_expect(&c, "501 5.1.3");
	smtp_send(&c, "XYZZY\r\n");
	smtp_expect(&c, "500 5.5.2");
	smtp_write(&c, nul, sizeof nul - 1);
	smtp_expect(&c, "500 5.5.2 Error: NUL byte");
	smtp_send(&c, "NOOP\n"); /* bare LF */
	smtp_expect(&c, "250 2.0.0");
	smtp_send(&c, "RSET\r\n");
	smtp_expect(&c, "250 2.0.0");
	memset(long_line, 'A', 4999);
	long_line[4999] = '\0';
	smtp_send(&c, long_line);
	smtp_expect(&c, "500 5.5.6 Error: command line too long");
	smtp_expect(&c, ""); /* and the connection is closed */
	smtp_close(&c);
	free(long_line);
}

static void limits(void **state)
{
	struct smtp_conn c;
	char *big = malloc(70 * 1024 + 1);

	(void)state;
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "MAIL FROM:<a@example.com> SIZE=1000000\r\n");
	smtp_expect(&c, "552 5.3.4");
	smtp_send(&c, "MAIL FROM:<a@example.com>\r\n");
	smtp_expect(&c, "250");
	smtp_send(&c, "RCPT TO:<1@example.com>\r\nRCPT TO:<2@example.com>\r\nRCPT TO:<3@example.com>\r\nRCPT TO:<4@example.com>\r\n");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "452 4.5.3 Too many recipients");
	smtp_send(&c, "DATA\r\n");
	smtp_expect(&c, "354");
	for (size_t i = 0; i < 70 * 1024; i++)
		big[i] = (i % 70 == 69) ? '\n' : 'x';
	big[70 * 1024] = '\0';
	smtp_send(&c, big);
	smtp_send(&c, "\r\n.\r\n");
	smtp_expect(&c, "552 5.3.4 Error: message exceeds fixed maximum message size");
	/* The session goes on. */
	smtp_send(&c, "NOOP\r\n");
	smtp_expect(&c, "250");
	smtp_close(&c);
	free(big);
	/* A silent client is let go after command_timeout (2 s here). */
	smtp_open(&c, smtp_port);
	smtp_expect(&c, "220");
	smtp_expect(&c, "421 4.4.2");
	smtp_close(&c);
}

static void connections_per_address_are_limited(void **state)
{
	struct smtp_conn c[9];

	(void)state;
	/* max_connections_per_ip is 8 here. */
	for (int i = 0; i < 8; i++) {
		smtp_open(&c[i], smtp_port);
		smtp_expect(&c[i], "220");
	}
	smtp_open(&c[8], smtp_port);
	smtp_expect(&c[8], "421 4.7.0 pat.test Error: too many connections");
	smtp_expect(&c[8], ""); /* closed */
	smtp_close(&c[8]);
	smtp_close(&c[0]);
	usleep(200000);
	/* A slot is free again. */
	smtp_open(&c[0], smtp_port);
	smtp_expect(&c[0], "220");
	for (int i = 0; i < 8; i++)
		smtp_close(&c[i]);
	usleep(200000);
}

static void auth_and_utf8(void **state)
{
	struct smtp_conn c;

	(void)state;
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"); /* \0user\0pass */
	smtp_expect(&c, "235 2.7.0");
	smtp_send(&c, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	smtp_expect(&c, "503 5.5.1 Already authenticated");
	smtp_close(&c);
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "AUTH LOGIN\r\n");
	smtp_expect(&c, "334 VXNlcm5hbWU6");
	smtp_send(&c, "dXNlcg==\r\n");
	smtp_expect(&c, "334 UGFzc3dvcmQ6");
	smtp_send(&c, "cGFzcw==\r\n");
	smtp_expect(&c, "235 2.7.0");
	smtp_close(&c);
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "AUTH DIGEST-MD5\r\n");
	smtp_expect(&c, "504 5.5.4");
	smtp_send(&c, "AUTH CRAM-MD5\r\n");
	smtp_expect(&c, "334 ");
	smtp_send(&c, "dXNlciAwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==\r\n"); /* "user 0123...": any is fine here */
	smtp_expect(&c, "235 2.7.0");
	smtp_close(&c);
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "AUTH PLAIN !!!\r\n");
	smtp_expect(&c, "501 5.5.2");
	smtp_send(&c, "AUTH LOGIN\r\n");
	smtp_expect(&c, "334");
	smtp_send(&c, "*\r\n");
	smtp_expect(&c, "501 5.7.0 Authentication cancelled");
	smtp_send(&c, "MAIL FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.com> SMTPUTF8\r\nRCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@example.com>\r\nDATA\r\n");
	smtp_expect(&c, "250 2.1.0");
	smtp_expect(&c, "250 2.1.5");
	smtp_expect(&c, "354");
	smtp_send(&c, "Subject: =?UTF-8?B?w6nDqQ==?=\r\n\r\nbody\r\n.\r\n");
	smtp_expect(&c, "250 2.0.0 Ok: queued as");
	smtp_close(&c);
}

/* A second server with auth = users and a domain map. */
static void checked_users_and_tenants(void **state)
{
	char *users = tu_write_file(serve.dir, "users", "# name:password[:tenant]\nalice:wonderland:acme\nbob:builder\n");
	char *domains = tu_write_file(serve.dir, "domains", "globex.example globex\n");
	char data[4200], node_set[64], listen[32], users_set[4300], domains_set[4300], log2[4300];
	int port = tu_free_port(), saved_port = smtp_port;
	const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", listen, "--http", "127.0.0.1:0",
			       "--set", node_set, "--set", "smtp.auth=users", "--set", users_set, "--set", domains_set,
			       "--set", "smtp.tenant=lobby", "--set", "smtp.hostname=pat.test", NULL };
	struct dq_leader l;
	struct store_row *rows;
	struct pat_err err;
	struct smtp_conn c;
	size_t n;
	pid_t second;

	(void)state;
	snprintf(data, sizeof data, "%s/data2", serve.dir);
	snprintf(node_set, sizeof node_set, "node.address=127.0.0.1:%d", tu_free_port());
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(users_set, sizeof users_set, "smtp.users_file=%s", users);
	snprintf(domains_set, sizeof domains_set, "smtp.tenant_domains_file=%s", domains);
	snprintf(log2, sizeof log2, "%s/serve2.log", serve.dir);
	second = tu_spawn(argv, NULL, log2);
	assert_true(tu_wait_port(port, 30000));
	smtp_port = port;
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "MAIL FROM:<x@example.com>\r\n");
	smtp_expect(&c, "530 5.7.0 Authentication required");
	smtp_send(&c, "AUTH PLAIN AGFsaWNlAHdyb25n\r\n"); /* alice / wrong */
	smtp_expect(&c, "535 5.7.8");
	smtp_send(&c, "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\n"); /* alice / wonderland */
	smtp_expect(&c, "235 2.7.0");
	smtp_send(&c, "MAIL FROM:<alice@acme.example>\r\nRCPT TO:<qa@globex.example>\r\nDATA\r\n");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "354");
	smtp_send(&c, "Subject: from alice\r\n\r\nx\r\n.\r\n");
	smtp_expect(&c, "250 2.0.0");
	smtp_close(&c);
	/* bob has no tenant of his own: the recipient's domain decides, else the listener's. */
	smtp_hello(&c, smtp_port);
	smtp_send(&c, "AUTH LOGIN\r\n");
	smtp_expect(&c, "334");
	smtp_send(&c, "Ym9i\r\n");
	smtp_expect(&c, "334");
	smtp_send(&c, "YnVpbGRlcg==\r\n");
	smtp_expect(&c, "235 2.7.0");
	smtp_send(&c, "MAIL FROM:<bob@example.com>\r\nRCPT TO:<qa@GLOBEX.example>\r\nDATA\r\n");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "354");
	smtp_send(&c, "Subject: to globex\r\n\r\nx\r\n.\r\n");
	smtp_expect(&c, "250 2.0.0");
	smtp_send(&c, "MAIL FROM:<bob@example.com>\r\nRCPT TO:<qa@elsewhere.example>\r\nDATA\r\n");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "354");
	smtp_send(&c, "Subject: to the lobby\r\n\r\nx\r\n.\r\n");
	smtp_expect(&c, "250 2.0.0");
	smtp_close(&c);
	smtp_port = saved_port;
	assert_int_equal(dq_leader_init(&l, node_set + strlen("node.address="), "pat", 5000, 10000), PAT_OK);
	assert_int_equal(store_list(&l, "acme", NULL, 5, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "from alice");
	store_rows_free(rows, n);
	assert_int_equal(store_list(&l, "globex", NULL, 5, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "to globex");
	store_rows_free(rows, n);
	assert_int_equal(store_list(&l, "lobby", NULL, 5, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "to the lobby");
	store_rows_free(rows, n);
	dq_leader_close(&l);
	assert_int_equal(tu_stop(second, SIGTERM), 0);
	free(users);
	free(domains);
}

/* A gateway in front of the cluster that `pat serve` runs: what it accepts lands there too. */
static void a_gateway_stores_in_the_cluster(void **state)
{
	char listen[32], log2[4300];
	int port = tu_free_port(), saved_port = smtp_port;
	const char *argv[] = { tu_pat_bin(), "gateway", "--cluster", serve.node_address, "--smtp", listen, "--http", "127.0.0.1:0",
			       "--region", "eu-west", "--set", "smtp.hostname=gw.test", NULL };
	const char *no_cluster[] = { tu_pat_bin(), "gateway", NULL };
	struct dq_leader l;
	struct store_row row;
	struct pat_err err;
	struct smtp_conn c;
	struct tu_proc p;
	char *r, id[64] = "";
	pid_t gw;

	(void)state;
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(log2, sizeof log2, "%s/gateway.log", serve.dir);
	gw = tu_spawn(argv, NULL, log2);
	assert_true(tu_wait_port(port, 30000));
	smtp_port = port;
	smtp_open(&c, smtp_port);
	smtp_expect(&c, "220 gw.test ESMTP");
	smtp_send(&c, "HELO app\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<qa@example.com>\r\nDATA\r\n");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "250");
	smtp_expect(&c, "354");
	smtp_send(&c, "Subject: through the gateway\r\n\r\nx\r\n.\r\n");
	r = smtp_reply(&c);
	sscanf(r, "250 2.0.0 Ok: queued as %63s", id);
	free(r);
	smtp_send(&c, "STARTTLS\r\n"); /* no certificate configured: not offered */
	smtp_expect(&c, "502 5.5.1");
	smtp_close(&c);
	smtp_port = saved_port;
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	assert_int_equal(store_get(&l, "default", id, &row, &err), PAT_OK);
	assert_string_equal(row.m.subject, "through the gateway");
	assert_string_equal(row.m.region, "eu-west");
	assert_string_equal(row.m.gateway, "gw.test");
	store_row_free(&row);
	dq_leader_close(&l);
	assert_int_equal(tu_stop(gw, SIGTERM), 0);
	tu_run(&p, no_cluster, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[gateway] cluster is required by pat gateway");
	tu_proc_free(&p);
}

static void a_real_client_sends(void **state)
{
	char script[1024];
	const char *argv[] = { "/usr/bin/python3", "-c", script, NULL };
	struct tu_proc p;

	(void)state;
	snprintf(script, sizeof script,
		 "import smtplib\n"
		 "s = smtplib.SMTP('127.0.0.1', %d, timeout=10)\n"
		 "s.login('app', 'secret')\n"
		 "for i in range(20):\n"
		 "    s.sendmail('app@example.com', ['qa@example.com'], 'Subject: smtplib %%d\\r\\n\\r\\nhello\\r\\n' %% i)\n"
		 "s.quit()\n"
		 "print('sent')\n",
		 smtp_port);
	tu_run(&p, argv, NULL, NULL);
	if (p.status != 0)
		fail_msg("smtplib failed (%d): %s", p.status, p.err);
	assert_contains(p.out, "sent");
	tu_proc_free(&p);
}

static void starttls_with_a_real_client(void **state)
{
	char script[1200];
	const char *argv[] = { "/usr/bin/python3", "-c", script, NULL };
	struct tu_proc p;

	(void)state;
	snprintf(script, sizeof script,
		 "import smtplib, ssl\n"
		 "ctx = ssl.create_default_context()\n"
		 "ctx.check_hostname = False\n"
		 "ctx.verify_mode = ssl.CERT_NONE\n"
		 "s = smtplib.SMTP('127.0.0.1', %d, timeout=10)\n"
		 "s.starttls(context=ctx)\n"
		 "print('cipher', s.sock.cipher()[0])\n"
		 "s.ehlo()\n"
		 "assert not s.has_extn('starttls')\n"
		 "s.login('app', 'secret')\n"
		 "s.sendmail('app@example.com', ['qa@example.com'], b'Subject: over TLS\\r\\n\\r\\nsecret\\r\\n')\n"
		 "print(s.docmd('STARTTLS'))\n"
		 "s.quit()\n"
		 "print('sent over tls')\n",
		 smtp_port);
	tu_run(&p, argv, NULL, NULL);
	if (p.status != 0)
		fail_msg("smtplib over STARTTLS failed (%d): %s", p.status, p.err);
	assert_contains(p.out, "sent over tls");
	assert_contains(p.out, "503");
	tu_proc_free(&p);
}

static void sendmail_delivers(void **state)
{
	char smtp_flag[64];
	const char *argv[] = { tu_pat_bin(), "sendmail", "--smtp", smtp_flag, "-t", "-i", "-f", "app@example.com",
			       "extra@example.com", NULL };
	const char *none[] = { tu_pat_bin(), "sendmail", "--smtp", smtp_flag, NULL };
	const char *closed[] = { tu_pat_bin(), "sendmail", "--smtp", "127.0.0.1:1", "qa@example.com", NULL };
	const char *too_big[] = { tu_pat_bin(), "sendmail", "--smtp", smtp_flag, "qa@example.com", NULL };
	struct tu_proc p;
	struct dq_leader l;
	struct store_row *rows;
	struct pat_err err;
	size_t n;
	char *big;

	(void)state;
	snprintf(smtp_flag, sizeof smtp_flag, "%s", serve.smtp_address);
	tu_run(&p, argv, NULL, "To: Bob <bob@example.com>\nBcc: secret@example.com\n"
			       "Subject: via sendmail\n\nline one\n.\nlast line\n");
	if (p.status != 0)
		fail_msg("pat sendmail failed (%d): %s", p.status, p.err);
	tu_proc_free(&p);
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	assert_int_equal(store_list(&l, "default", NULL, 1, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "via sendmail");
	assert_string_equal(rows[0].m.mail_from, "app@example.com");
	assert_string_equal(rows[0].m.rcpt_to, "extra@example.com,bob@example.com,secret@example.com");
	assert_string_equal(rows[0].m.bcc, ""); /* the Bcc header was not sent */
	assert_contains(rows[0].m.snippet, "line one . last line");
	store_rows_free(rows, n);
	dq_leader_close(&l);
	tu_run(&p, none, NULL, "Subject: nobody\n\nx\n");
	assert_int_equal(p.status, 64);
	assert_contains(p.err, "no recipients");
	tu_proc_free(&p);
	tu_run(&p, closed, NULL, "Subject: x\n\nx\n");
	assert_int_equal(p.status, 75);
	assert_contains(p.err, "cannot reach the gateway at 127.0.0.1:1");
	tu_proc_free(&p);
	big = malloc(100 * 1024);
	memset(big, 'x', 100 * 1024 - 1);
	big[100 * 1024 - 1] = '\0';
	tu_run(&p, too_big, NULL, big);
	assert_int_equal(p.status, 69);
	assert_contains(p.err, "the server answered: 552 5.3.4");
	tu_proc_free(&p);
	free(big);
}

/* pat load sends real SMTP to the gateway; every message it counts as accepted is stored. */
static void load_sends_and_reports(void **state)
{
	const char *ok[] = { tu_pat_bin(), "load", "--smtp", serve.smtp_address, "--connections", "4", "--messages", "200",
			     "--size", "2KiB", NULL };
	const char *json[] = { tu_pat_bin(), "load", "--smtp", serve.smtp_address, "--connections", "2", "--messages", "10",
			       "--json", NULL };
	const char *small[] = { tu_pat_bin(), "load", "--size", "10", NULL };
	const char *zero[] = { tu_pat_bin(), "load", "--connections", "0", NULL };
	const char *extra[] = { tu_pat_bin(), "load", "now", NULL };
	const char *closed[] = { tu_pat_bin(), "load", "--smtp", "127.0.0.1:1", "--messages", "3", NULL };
	const char *no_retry[] = { tu_pat_bin(), "load", "--retry", "0s", NULL };
	const char *bad_retry[] = { tu_pat_bin(), "load", "--retry", "later", NULL };
	const char *bad_acked[] = { tu_pat_bin(), "load", "--smtp", serve.smtp_address, "--messages", "1",
				    "--acked", "/nonexistent-dir/acked", NULL };
	struct dq_leader l;
	struct pat_err err;
	struct tu_proc p;
	int64_t before, after, unread;

	(void)state;
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	assert_int_equal(store_count(&l, "default", &before, &unread, &err), PAT_OK);
	tu_run(&p, ok, NULL, NULL);
	if (p.status != 0)
		fail_msg("pat load failed (%d): %s", p.status, p.err);
	assert_contains(p.out, "200 of 200 messages of 2048 bytes accepted");
	assert_contains(p.out, "accept latency p50");
	tu_proc_free(&p);
	assert_int_equal(store_count(&l, "default", &after, &unread, &err), PAT_OK);
	assert_int_equal(after - before, 200);
	tu_run(&p, json, NULL, NULL);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "\"accepted\": 10,");
	assert_contains(p.out, "\"messages_per_second\": ");
	tu_proc_free(&p);
	tu_run(&p, small, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "--size must be a size from 256 bytes");
	tu_proc_free(&p);
	tu_run(&p, zero, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "--connections must be a whole number from 1 to 1000, not '0'");
	tu_proc_free(&p);
	tu_run(&p, extra, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unexpected argument 'now'");
	tu_proc_free(&p);
	tu_run(&p, closed, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.out, "0 of 3 messages");
	assert_contains(p.err, "cannot connect");
	tu_proc_free(&p);
	tu_run(&p, no_retry, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "--retry must be a duration such as 30s or 2m, not '0s'");
	tu_proc_free(&p);
	tu_run(&p, bad_retry, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "--retry must be a duration such as 30s or 2m, not 'later'");
	tu_proc_free(&p);
	/* A file that cannot be written is said before anything is sent. */
	tu_run(&p, bad_acked, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "pat load: cannot write /nonexistent-dir/acked: No such file or directory");
	assert_not_contains(p.out, "accepted by");
	tu_proc_free(&p);
	dq_leader_close(&l);
}

/* ---- crash ---- */

static atomic_int n_acked;
static char acked_ids[2000][32];
static atomic_bool stop_sending, burst_over;

static void *burst(void *arg)
{
	struct smtp_conn c;

	(void)arg;
	smtp_hello(&c, smtp_port);
	while (!atomic_load(&stop_sending) && atomic_load(&n_acked) < 2000) {
		char *r;

		smtp_send(&c, "MAIL FROM:<burst@example.com>\r\nRCPT TO:<qa@example.com>\r\nDATA\r\n");
		free(smtp_reply(&c));
		free(smtp_reply(&c));
		r = smtp_reply(&c);
		if (strncmp(r, "354", 3) != 0) {
			free(r);
			break;
		}
		free(r);
		smtp_send(&c, "Subject: burst\r\n\r\nburst\r\n.\r\n");
		r = smtp_reply(&c);
		if (strncmp(r, "250 2.0.0 Ok: queued as ", 24) != 0) {
			free(r);
			break; /* the server died: this one was not acknowledged */
		}
		sscanf(r + 24, "%31s", acked_ids[atomic_load(&n_acked)]);
		atomic_fetch_add(&n_acked, 1);
		free(r);
	}
	smtp_close(&c);
	atomic_store(&burst_over, true);
	return NULL;
}

static void acknowledged_messages_survive_kill_9(void **state)
{
	pthread_t t;
	struct dq_leader l;
	int n;

	(void)state;
	atomic_store(&n_acked, 0);
	atomic_store(&stop_sending, false);
	atomic_store(&burst_over, false);
	pthread_create(&t, NULL, burst, NULL);
	while (atomic_load(&n_acked) < 100 && !atomic_load(&burst_over))
		usleep(1000);
	if (atomic_load(&n_acked) < 100) {
		/* The burst stopped by itself (a refusal or a failed store): say so rather than wait. */
		pthread_join(t, NULL);
		fail_msg("the burst stopped after %d acknowledged messages, before the kill", atomic_load(&n_acked));
	}
	assert_int_equal(tu_stop(serve.pid, SIGKILL), 128 + SIGKILL);
	serve.pid = 0;
	atomic_store(&stop_sending, true);
	pthread_join(t, NULL);
	n = atomic_load(&n_acked);
	ts_serve_start(&serve, serve_settings);
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 30000), PAT_OK);
	for (int i = 0; i < n; i++) {
		struct store_row row;
		struct pat_err err;

		if (store_get(&l, "default", acked_ids[i], &row, &err) != PAT_OK)
			fail_msg("acknowledged message %s (%d of %d) is missing after kill -9: %s", acked_ids[i], i + 1, n, err.msg);
		store_row_free(&row);
	}
	print_message("%d acknowledged messages, all found after kill -9 and restart\n", n);
	dq_leader_close(&l);
}

/* pat load --retry carries on through a crash and restart of the server, as a mail queue
 * would, and --acked names every message it counted: each line's queue id is stored, with
 * the line's Message-ID. */
static void load_retries_through_a_restart_and_lists_what_was_acknowledged(void **state)
{
	char acked_path[4200];
	const char *argv[] = { tu_pat_bin(), "load", "--smtp", serve.smtp_address, "--connections", "4", "--messages", "3000",
			       "--retry", "60s", "--acked", acked_path, NULL };
	char *load_log, *acked, *line, *save = NULL;
	struct dq_leader l;
	pid_t load;
	int status, lines = 0;
	bool killed_mid_run;
	size_t len = 0;

	(void)state;
	snprintf(acked_path, sizeof acked_path, "%s/acked", serve.dir);
	if (asprintf(&load_log, "%s/load.log", serve.dir) < 0)
		fail_msg("asprintf");
	load = tu_spawn(argv, NULL, load_log);
	/* Kill the server once some messages were acknowledged (or the load is over). */
	while (tu_wait_exit(load, 10) < 0) {
		char *sofar = tu_read_file(acked_path, &len);

		free(sofar);
		if (len > 100 * 60)
			break;
	}
	killed_mid_run = len > 100 * 60;
	assert_int_equal(tu_stop(serve.pid, SIGKILL), 128 + SIGKILL);
	serve.pid = 0;
	ts_serve_start(&serve, serve_settings);
	status = tu_wait_exit(load, 120000);
	{
		char *log = tu_read_file(load_log, NULL);

		if (status != 0)
			fail_msg("pat load --retry did not get every message accepted (%d):\n%s", status, log);
		assert_contains(log, "3000 of 3000 messages");
		if (killed_mid_run)
			assert_contains(log, "sent again after a 4xx reply or a failed connection");
		free(log);
	}
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 30000), PAT_OK);
	acked = tu_read_file(acked_path, NULL);
	assert_non_null(acked);
	for (line = strtok_r(acked, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char id[64], msgid[128];
		long long sent, accepted;
		struct store_row row;
		struct pat_err err;

		if (sscanf(line, "%63s %127s %lld %lld", id, msgid, &sent, &accepted) != 4)
			fail_msg("malformed --acked line: %s", line);
		assert_true(accepted >= sent);
		if (store_get(&l, "default", id, &row, &err) != PAT_OK)
			fail_msg("acknowledged message %s (%s) is not stored: %s", id, msgid, err.msg);
		assert_string_equal(row.m.message_id, msgid);
		store_row_free(&row);
		lines++;
	}
	assert_int_equal(lines, 3000);
	free(acked);
	free(load_log);
	dq_leader_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ehlo_lists_extensions),
		cmocka_unit_test(pipelined_message_is_stored),
		cmocka_unit_test(commands_sent_while_a_message_is_stored),
		cmocka_unit_test(commands_out_of_order_and_malformed),
		cmocka_unit_test(limits),
		cmocka_unit_test(connections_per_address_are_limited),
		cmocka_unit_test(auth_and_utf8),
		cmocka_unit_test(checked_users_and_tenants),
		cmocka_unit_test(a_gateway_stores_in_the_cluster),
		cmocka_unit_test(a_real_client_sends),
		cmocka_unit_test(starttls_with_a_real_client),
		cmocka_unit_test(sendmail_delivers),
		cmocka_unit_test(load_sends_and_reports),
		cmocka_unit_test(acknowledged_messages_survive_kill_9),
		cmocka_unit_test(load_retries_through_a_restart_and_lists_what_was_acknowledged),
	};
	return cmocka_run_group_tests_name("pat serve over SMTP", tests, setup, teardown);
}

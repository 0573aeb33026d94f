/* cmd_sendmail: `pat sendmail`, for applications configured with a sendmail path: read a
 * message on stdin and deliver it over SMTP to a Pat gateway ([smtp] listen, or --smtp).
 *
 *   pat sendmail [-t] [-i] [-f SENDER] [RECIPIENT...] < message
 *
 * -t adds the To, Cc and Bcc addresses of the headers to the recipients (and the Bcc header is
 * not sent); -i (or -oi) lets a line holding one dot be part of the message, as it always is
 * here, since the message ends at end of input. Exit status as sendmail's: 0 delivered,
 * 64 bad usage, 69 refused by the server (5xx), 75 temporary failure (4xx, no connection). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/smtp_link.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/str.h"

#define EX_USAGE 64
#define EX_UNAVAILABLE 69
#define EX_TEMPFAIL 75

/* Indexes in sendmail_options (commands.c). */
#define OPT_T 0
#define OPT_F 1

/* Send a command and check the reply class; on failure print it and return the exit status. */
static int step(struct smtp_link *l, const char *command, int want)
{
	char reply[512];
	int code;

	if (command != NULL && smtp_link_send(l, command, strlen(command)) != 0) {
		fprintf(stderr, "pat sendmail: the connection broke\n");
		return EX_TEMPFAIL;
	}
	code = smtp_link_reply(l, reply, sizeof reply);
	if (code / 100 == want / 100)
		return 0;
	fprintf(stderr, "pat sendmail: the server answered: %s\n", reply);
	return code >= 500 ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* Add the addresses of header lines To/Cc/Bcc (with -t): the text between '<' and '>', or
 * the bare comma-separated items. */
static void header_recipients(const char *msg, size_t header_len, struct buf *rcpts)
{
	const char *p = msg, *end = msg + header_len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		char line[4096];

		if (n < sizeof line && (str_has_prefix_nocase(p, "To:") || str_has_prefix_nocase(p, "Cc:") ||
					str_has_prefix_nocase(p, "Bcc:"))) {
			char *item, *save = NULL;

			memcpy(line, p, n);
			line[n] = '\0';
			for (item = strtok_r(strchr(line, ':') + 1, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
				char *lt = strchr(item, '<'), *gt = lt ? strchr(lt, '>') : NULL;

				if (lt != NULL && gt != NULL) {
					*gt = '\0';
					item = lt + 1;
				}
				str_trim(item);
				if (item[0] != '\0' && strchr(item, '@') != NULL)
					buf_printf(rcpts, "%s%s", rcpts->len ? "," : "", item);
			}
		}
		p += n + 1;
	}
}

int cli_cmd_sendmail(struct cli_args *args)
{
	struct pat_settings s;
	struct conf c;
	struct buf msg = BUF_INIT, rcpts = BUF_INIT, out = BUF_INIT;
	struct smtp_link l = { .fd = -1 };
	struct addr_hostport a;
	const char *sender = args->values[OPT_F] != NULL ? args->values[OPT_F] : "";
	char cmd[1200];
	size_t header_len;
	int rv;

	if ((rv = cli_load_config(args, 0, "", &c, &s)) != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	if (buf_read_stream(&msg, stdin) != PAT_OK) {
		/* Never deliver part of a message as if it were the whole. */
		fprintf(stderr, "pat sendmail: cannot read the whole message from standard input\n");
		rv = EX_TEMPFAIL;
		goto out;
	}
	{
		const char *blank = strstr(buf_str(&msg), "\n\n"), *crlf = strstr(buf_str(&msg), "\r\n\r\n");

		header_len = crlf && (!blank || crlf < blank) ? (size_t)(crlf - msg.data) : blank ? (size_t)(blank - msg.data) : msg.len;
	}
	for (int i = 0; i < args->n_positional; i++)
		buf_printf(&rcpts, "%s%s", rcpts.len ? "," : "", args->positional[i]);
	if (args->values[OPT_T] != NULL)
		header_recipients(buf_str(&msg), header_len, &rcpts);
	if (rcpts.len == 0) {
		fprintf(stderr, "pat sendmail: no recipients: name them as arguments or use -t to read them from the headers\n");
		rv = EX_USAGE;
		goto out;
	}
	if (addr_parse(s.smtp.listen, true, &a, NULL) != PAT_OK || a.port == 0) {
		fprintf(stderr, "pat sendmail: no gateway to send to: set [smtp] listen or --smtp\n");
		rv = EX_USAGE;
		goto out;
	}
	if (smtp_link_open(&l, s.smtp.listen, 120) != 0) {
		fprintf(stderr, "pat sendmail: cannot reach the gateway at %s\n", s.smtp.listen);
		rv = EX_TEMPFAIL;
		goto out;
	}
	if ((rv = step(&l, NULL, 220)) || (rv = step(&l, "EHLO localhost\r\n", 250)))
		goto out;
	snprintf(cmd, sizeof cmd, "MAIL FROM:<%.1000s>\r\n", sender);
	if ((rv = step(&l, cmd, 250)))
		goto out;
	{
		char *save = NULL, *list = mem_strdup(buf_str(&rcpts));

		for (char *r = strtok_r(list, ",", &save); r != NULL && rv == 0; r = strtok_r(NULL, ",", &save)) {
			snprintf(cmd, sizeof cmd, "RCPT TO:<%.1000s>\r\n", r);
			rv = step(&l, cmd, 250);
		}
		mem_free(list);
		if (rv)
			goto out;
	}
	if ((rv = step(&l, "DATA\r\n", 354)))
		goto out;
	/* CRLF line ends, dot-stuffing, and (with -t) no Bcc header. */
	{
		const char *p = buf_str(&msg), *end = p + msg.len;
		bool in_header = true, skipping = false;

		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);

			if (len > 0 && p[len - 1] == '\r')
				len--;
			if (in_header && len == 0)
				in_header = false;
			if (in_header && args->values[OPT_T] != NULL) {
				if (str_has_prefix_nocase(p, "Bcc:"))
					skipping = true;
				else if (p[0] != ' ' && p[0] != '\t')
					skipping = false;
			}
			if (!skipping || !in_header) {
				if (len > 0 && p[0] == '.')
					buf_append_char(&out, '.');
				buf_append(&out, p, len);
				buf_append_str(&out, "\r\n");
			}
			p += (eol ? (size_t)(eol - p) + 1 : len);
			if (eol == NULL)
				break;
		}
		buf_append_str(&out, ".\r\n");
	}
	if (smtp_link_send(&l, out.data, out.len) != 0) {
		fprintf(stderr, "pat sendmail: the connection broke while sending\n");
		rv = EX_TEMPFAIL;
		goto out;
	}
	if ((rv = step(&l, NULL, 250)))
		goto out;
	smtp_link_send(&l, "QUIT\r\n", 6);
	rv = 0;
out:
	smtp_link_close(&l);
	buf_free(&msg);
	buf_free(&rcpts);
	buf_free(&out);
	conf_close(&c);
	return rv;
}

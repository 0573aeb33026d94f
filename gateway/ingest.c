/* ingest: see ingest.h. A message whose MIME is broken is still stored, with whatever summary
 * could be read: a test tool must show what the application really sent. */
#include "gateway/ingest.h"

#include <gmime/gmime.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_metrics.h"
#include "gateway/mime.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "lib/ulid.h"

#define SNIPPET_MAX 200
/* Messages up to this size are prepared on the loop thread. */
#define INGEST_INLINE_MAX (32 * 1024)

/* Everything a message needs until its outcome is known. */
struct job {
	uv_work_t work;               /* parsing and compression, on libuv's thread pool (large messages) */
	struct ingest *in;
	int rv;                       /* outcome of the preparation */
	char error[128];
	struct writer_item item;      /* what the writer writes */
	struct smtp_server *server;
	struct smtp_delivery *delivery;
	char *fields[11];             /* owned summary strings */
	uint8_t *packed;              /* zstd raw */
	uint8_t *packed_body;         /* zstd searchable text (NULL: stored as text) */
	const char *via;              /* the protocol in the Received header */
	/* ingest_submit(): the caller waits for the outcome instead of an SMTP session. */
	bool waited;
	pthread_mutex_t mu;
	pthread_cond_t done_cond;
	bool done;
	int status;
};

static atomic_uint_fast64_t stored_messages, stored_bytes;

void ingest_totals(uint64_t *messages, uint64_t *bytes)
{
	*messages = atomic_load(&stored_messages);
	*bytes = atomic_load(&stored_bytes);
}

void ingest_global_init(void)
{
	static bool done;

	if (!done) {
		g_mime_init();
		done = true;
	}
}

static void job_free(struct job *j)
{
	for (int i = 0; i < 11; i++)
		mem_free(j->fields[i]);
	mem_free(j->packed);
	mem_free(j->packed_body);
	mem_free(j);
}

static void written(struct writer_item *item, int status)
{
	struct job *j = item->data;
	char id[ULID_SIZE];

	memcpy(id, item->m.id, sizeof id);
	if (status == PAT_OK && j->in->stored != NULL)
		j->in->stored(j->in->stored_data, item->m.tenant, id);
	if (status == PAT_OK) {
		gateway_metrics_received(item->m.tenant, item->m.region);
		atomic_fetch_add(&stored_messages, 1);
		atomic_fetch_add(&stored_bytes, (uint_fast64_t)item->m.size);
	}
	if (j->waited) {
		pthread_mutex_lock(&j->mu);
		j->status = status;
		j->done = true;
		pthread_cond_signal(&j->done_cond);
		pthread_mutex_unlock(&j->mu);
		return; /* the waiting caller frees the job */
	}
	smtp_delivery_done(j->server, j->delivery, status, id, status == PAT_OK ? "" : err_name(status));
	job_free(j);
}

/* A GLib string as ours (mem_free-able), NULL-safe. */
static char *own(const char *s)
{
	return mem_strdup(s != NULL ? s : "");
}

static char *addresses(InternetAddressList *list)
{
	char *text, *copy;

	if (list == NULL || internet_address_list_length(list) == 0)
		return own("");
	text = internet_address_list_to_string(list, NULL, FALSE);
	copy = own(text);
	g_free(text);
	return copy;
}

struct walk {
	int attachments; /* parts marked Content-Disposition: attachment */
	char *text; /* first text/plain part (g_free) */
	char *html; /* first text/html part (g_free) */
};

static void visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct walk *w = data;

	(void)parent;
	if (!GMIME_IS_PART(part))
		return;
	if (g_mime_part_is_attachment(GMIME_PART(part))) {
		w->attachments++;
		return;
	}
	if (!GMIME_IS_TEXT_PART(part))
		return;
	if (w->text == NULL && g_mime_content_type_is_type(g_mime_object_get_content_type(part), "text", "plain"))
		w->text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	else if (w->html == NULL && g_mime_content_type_is_type(g_mime_object_get_content_type(part), "text", "html"))
		w->html = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
}

/* The first words of the text, whitespace collapsed, cut at a character boundary. */
static char *snippet(const char *text)
{
	char *out = mem_alloc(SNIPPET_MAX + 4);
	size_t n = 0;
	bool space = false;

	if (out == NULL)
		return NULL;
	for (const char *p = text != NULL ? text : ""; *p != '\0' && n < SNIPPET_MAX; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = n > 0;
			continue;
		}
		if (space) {
			out[n++] = ' ';
			space = false;
		}
		out[n++] = *p;
	}
	while (n > 0 && (out[n - 1] & 0xc0) == 0x80)
		n--; /* a UTF-8 continuation byte: back to the character's start */
	if (n > 0 && (unsigned char)out[n - 1] >= 0xc0)
		n--;
	out[n] = '\0';
	return out;
}

void ingest_clean_tag(char *out, const char *in)
{
	size_t o = 0;
	bool space = false;

	for (const char *p = in; *p != '\0' && o < INGEST_TAG_MAX; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-_.@", ch) != NULL)) {
			space = o > 0;
			continue;
		}
		if (space) {
			if (o + 1 >= INGEST_TAG_MAX)
				break;
			out[o++] = ' ';
		}
		space = false;
		out[o++] = ch;
	}
	out[o] = '\0';
}

/* Mailpit's X-Tags header as the tags column: comma-separated tags, each cleaned as Mailpit
 * cleans them (ingest_clean_tag). */
static char *tags_of(const char *header)
{
	struct buf b = BUF_INIT;
	const char *p = header;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char *one = mem_strndup(p, len), tag[INGEST_TAG_MAX + 1];

		if (one != NULL) {
			ingest_clean_tag(tag, one);
			mem_free(one);
			if (tag[0] != '\0')
				buf_printf(&b, "%s%s", b.len ? "," : "", tag);
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return b.data != NULL ? buf_detach(&b) : mem_strdup("");
}

/* On a pool thread: everything between DATA and the writer that takes CPU. */
static void prepare(uv_work_t *work)
{
	struct job *j = work->data;
	struct ingest *in = j->in;
	struct smtp_delivery *d = j->delivery;
	struct store_message *m;
	struct buf raw = BUF_INIT;
	char date[TIME_RFC5322_SIZE];
	struct pat_err err;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	struct walk w = { 0, NULL, NULL };
	size_t packed_len = 0;
	int rv;

	m = &j->item.m;
	ulid_new(m->id);
	m->received_at = time_wall_ms();
	/* The trace header, then the message exactly as the client sent it. */
	time_format_rfc5322(date, sizeof date, m->received_at / 1000);
	buf_printf(&raw, "Received: from %s (%s)\r\n\tby %s (Pat) with %s id %s;\r\n\t%s\r\n", d->helo, d->peer,
		   in->hostname, j->via != NULL ? j->via : "ESMTP", m->id, date);
	buf_append(&raw, d->data, d->len);
	if (raw.data == NULL) {
		j->rv = err_set(&err, PAT_ENOMEM, "out of memory");
		str_copy(j->error, err.msg, sizeof j->error);
		return;
	}
	/* Summary. */
	stream = g_mime_stream_mem_new_with_buffer((const char *)d->data, d->len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg != NULL) {
		GMimeObject *o = GMIME_OBJECT(msg);

		j->fields[0] = addresses(g_mime_message_get_from(msg));
		j->fields[1] = addresses(g_mime_message_get_to(msg));
		j->fields[2] = addresses(g_mime_message_get_cc(msg));
		j->fields[3] = addresses(g_mime_message_get_bcc(msg));
		j->fields[4] = addresses(g_mime_message_get_reply_to(msg));
		j->fields[5] = own(g_mime_message_get_subject(msg));
		j->fields[6] = own(g_mime_message_get_message_id(msg));
		j->fields[7] = own(g_mime_object_get_header(o, "Date"));
		j->fields[10] = tags_of(g_mime_object_get_header(o, "X-Tags"));
		g_mime_message_foreach(msg, visit, &w);
		if (w.text == NULL && w.html != NULL) {
			/* An HTML-only message: its words, for the snippet and the search index. */
			j->fields[9] = mime_html_to_text(w.html);
			j->fields[8] = snippet(j->fields[9]);
		} else {
			j->fields[8] = snippet(w.text);
			j->fields[9] = own(w.text);
		}
		g_free(w.text);
		g_free(w.html);
		/* Inline parts as Mailpit's view lists them (gateway/mime); the attachment count stays
		 * the parts marked as attachments, as mail readers and Python's email package count. */
		{
			int64_t listed;

			mime_count_message(msg, &listed, &m->inline_parts);
		}
		g_object_unref(msg);
	} else {
		log_info("message has no readable headers; stored as received", "peer=%s size=%zu", d->peer, d->len);
	}
	g_object_unref(parser);
	g_object_unref(stream);
	m->tenant = tenant_resolve(in->domains, d->auth_tenant, d->rcpt_to, in->tenant);
	m->helo = d->helo;
	m->mail_from = d->mail_from;
	m->rcpt_to = d->rcpt_to;
	m->from = j->fields[0], m->to = j->fields[1], m->cc = j->fields[2], m->bcc = j->fields[3];
	m->reply_to = j->fields[4], m->subject = j->fields[5], m->message_id = j->fields[6], m->date = j->fields[7];
	m->snippet = j->fields[8];
	m->tags = j->fields[10];
	m->body_text = j->fields[9];
	m->attachments = w.attachments;
	m->size = (int64_t)raw.len;
	m->region = in->region;
	m->gateway = in->gateway;
	rv = store_pack_raw(raw.data, raw.len, &j->packed, &packed_len, &err);
	buf_free(&raw);
	j->rv = rv;
	if (rv != PAT_OK) {
		str_copy(j->error, err.msg, sizeof j->error);
		return;
	}
	m->raw = j->packed;
	m->raw_len = packed_len;
	/* The searchable text is stored compressed too, packed here rather than by the writer,
	 * whose thread every batch waits for. */
	rv = store_pack_body(m->body_text, &j->packed_body, &m->body_len, &err);
	if (rv != PAT_OK) {
		j->rv = rv;
		str_copy(j->error, err.msg, sizeof j->error);
		return;
	}
	m->body = j->packed_body;
	m->body_packed = true;
}

/* Back on the loop: hand the message to the writer, or answer the failure. */
static void prepared(uv_work_t *work, int status)
{
	struct job *j = work->data;
	int rv = status == 0 ? j->rv : PAT_ECLOSED;

	if (rv == PAT_OK) {
		j->item.cb = written;
		j->item.data = j;
		rv = writer_submit(j->in->writer, &j->item);
		if (rv == PAT_OK)
			return;
		/* The writer's queue is full (or it is stopping): the client is told to come back. */
		str_copy(j->error, rv == PAT_ELIMIT ? "the write queue is full" : "the writer is stopping", sizeof j->error);
	}
	smtp_delivery_done(j->server, j->delivery, rv, NULL, j->error[0] ? j->error : err_name(rv));
	job_free(j);
}

void ingest_deliver(struct smtp_server *s, struct smtp_delivery *d, void *data)
{
	struct job *j = mem_calloc(1, sizeof *j);

	if (j == NULL) {
		smtp_delivery_done(s, d, PAT_ENOMEM, NULL, "out of memory");
		return;
	}
	j->server = s;
	j->delivery = d;
	j->in = data;
	j->work.data = j;
	/* A small message is summarised and compressed right here: the round trip through the
	 * thread pool costs more than the work (two thread wake-ups per message on the path to
	 * its 250). Larger ones go to the pool, so that the loop never stalls on one. */
	if (d->len <= INGEST_INLINE_MAX) {
		prepare(&j->work);
		prepared(&j->work, 0);
		return;
	}
	if (uv_queue_work(s->loop, &j->work, prepare, prepared) != 0) {
		mem_free(j);
		smtp_delivery_done(s, d, PAT_EIO, NULL, "cannot queue the message's preparation");
	}
}

int ingest_submit(struct ingest *in, const char *tenant, const char *peer, const char *mail_from, const char *rcpt_to,
		  const void *data, size_t len, char id[ULID_SIZE], struct pat_err *err)
{
	struct smtp_delivery d = { .helo = "api", .peer = peer, .mail_from = mail_from, .rcpt_to = rcpt_to,
				   .auth_user = "", .auth_tenant = tenant, .data = data, .len = len };
	struct job *j = mem_calloc(1, sizeof *j);
	int rv;

	if (j == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	j->in = in;
	j->delivery = &d;
	j->via = "HTTP";
	j->waited = true;
	j->work.data = j;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->done_cond, NULL);
	prepare(&j->work);
	if ((rv = j->rv) != PAT_OK) {
		err_set(err, rv, "%s", j->error);
		goto out;
	}
	j->item.cb = written;
	j->item.data = j;
	/* A full queue: wait for room a few times, as an SMTP session stops reading meanwhile. */
	for (int tries = 0; (rv = writer_submit(in->writer, &j->item)) == PAT_ELIMIT && tries < 10; tries++)
		writer_wait_space(in->writer, 1000);
	if (rv != PAT_OK) {
		err_set(err, rv, rv == PAT_ELIMIT ? "the write queue is full" : "the writer is stopping");
		goto out;
	}
	memcpy(id, j->item.m.id, ULID_SIZE);
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		pthread_cond_wait(&j->done_cond, &j->mu);
	pthread_mutex_unlock(&j->mu);
	if ((rv = j->status) != PAT_OK)
		err_set(err, rv, "the message was not stored: %s", err_name(rv));
out:
	pthread_cond_destroy(&j->done_cond);
	pthread_mutex_destroy(&j->mu);
	job_free(j);
	return rv;
}

/* mailhog: see mailhog.h. Everything here works on slices of the raw message; only joined
 * header values and JSON strings are copied. */
#include "gateway/mailhog.h"

#include <string.h>

#include "gateway/http.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

#define MAX_DEPTH 8 /* nested multiparts rendered; deeper ones are left as bodies */

/* A piece of the message: headers and body. */
struct content {
	const char *head;  /* the header block, or NULL when there is no blank line */
	size_t head_len;
	const char *body;
	size_t body_len;
	size_t size;       /* the whole piece */
};

static void split_content(const char *s, size_t n, struct content *c)
{
	const char *sep = memmem(s, n, "\r\n\r\n", 4);

	c->size = n;
	if (sep != NULL) {
		c->head = s;
		c->head_len = (size_t)(sep - s);
		c->body = sep + 4;
		c->body_len = n - c->head_len - 4;
	} else {
		c->head = NULL;
		c->head_len = 0;
		c->body = s;
		c->body_len = n;
	}
}

/* Walks the header fields of a header block. */
struct header_iter {
	const char *p, *end;
};

static const char *line_end(const char *p, const char *end)
{
	const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);

	return e != NULL ? e : end;
}

/* The next field: its name and its value (folded lines joined as MailHog joins them: the
 * line break dropped, the leading white space kept). 1 for a field, 0 at the end, -1 when
 * memory ran out. A line that is neither a field nor a continuation is skipped. */
static int next_header(struct header_iter *it, const char **name, size_t *name_len, struct buf *value)
{
	while (it->p < it->end) {
		const char *line = it->p, *e = line_end(line, it->end), *colon;

		it->p = e < it->end ? e + 2 : it->end;
		if (line == e || *line == ' ' || *line == '\t')
			continue; /* blank, or a continuation without a field */
		colon = memchr(line, ':', (size_t)(e - line));
		if (colon == NULL || colon == line)
			continue;
		*name = line;
		*name_len = (size_t)(colon - line);
		colon++;
		while (colon < e && (*colon == ' ' || *colon == '\t'))
			colon++;
		buf_reset(value);
		if (buf_append(value, colon, (size_t)(e - colon)) != PAT_OK)
			return -1;
		while (it->p < it->end && (*it->p == ' ' || *it->p == '\t')) {
			const char *ce = line_end(it->p, it->end);

			if (buf_append(value, it->p, (size_t)(ce - it->p)) != PAT_OK)
				return -1;
			it->p = ce < it->end ? ce + 2 : it->end;
		}
		if (value->data == NULL && buf_reserve(value, 1) != PAT_OK)
			return -1;
		return 1;
	}
	return 0;
}

/* The first value of a header (case-insensitive name) in *out (mem_free it; NULL when
 * absent). false when memory ran out. */
static bool header_value(const struct content *c, const char *wanted, char **out)
{
	struct header_iter it = { c->head, c->head != NULL ? c->head + c->head_len : NULL };
	struct buf value = BUF_INIT;
	const char *name;
	size_t len, wanted_len = strlen(wanted);
	int rv;

	*out = NULL;
	if (c->head == NULL)
		return true;
	while ((rv = next_header(&it, &name, &len, &value)) > 0) {
		if (len == wanted_len && strncasecmp(name, wanted, len) == 0) {
			*out = buf_detach(&value);
			return *out != NULL;
		}
	}
	buf_free(&value);
	return rv == 0;
}

/* The boundary of a multipart Content-Type value in *out (mem_alloc'ed), or NULL when it is
 * not a multipart type or has no boundary. false when memory ran out. */
static bool multipart_boundary(const char *ct, char **out)
{
	const char *p, *start;
	size_t n;

	*out = NULL;
	if (ct == NULL)
		return true;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (!str_has_prefix_nocase(ct, "multipart/"))
		return true;
	for (p = ct; (p = strcasestr(p, "boundary=")) != NULL; p++)
		if (p == ct || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t')
			break;
	if (p == NULL)
		return true;
	p += strlen("boundary=");
	if (*p == '"') {
		start = ++p;
		while (*p != '\0' && *p != '"')
			p++;
	} else {
		start = p;
		while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
	}
	n = (size_t)(p - start);
	if (n == 0 || n > 200)
		return true;
	*out = mem_strndup(start, n);
	return *out != NULL;
}

/* Calls visit for each top-level part of a multipart content that has headers, in order, with
 * its text (CR and LF trimmed at both ends). Returns the parts visited, -1 when visit returns
 * false (stop), -2 when memory ran out. */
typedef bool (*part_visit)(const char *s, size_t n, void *data);

static int each_part(const struct content *c, part_visit visit, void *data)
{
	char *ct, *boundary, delim[204];
	size_t dlen;
	const char *p = c->body, *end = c->body + c->body_len;
	int count = 0;

	if (!header_value(c, "Content-Type", &ct))
		return -2;
	if (!multipart_boundary(ct, &boundary)) {
		mem_free(ct);
		return -2;
	}
	mem_free(ct);
	if (boundary == NULL)
		return 0;
	dlen = (size_t)snprintf(delim, sizeof delim, "--%s", boundary);
	mem_free(boundary);
	for (;;) {
		const char *next = memmem(p, (size_t)(end - p), delim, dlen);
		const char *s = p, *e = next != NULL ? next : end;
		struct content part;

		while (s < e && (*s == '\r' || *s == '\n'))
			s++;
		while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (e > s) {
			split_content(s, (size_t)(e - s), &part);
			if (part.head != NULL) {
				struct header_iter it = { part.head, part.head + part.head_len };
				struct buf v = BUF_INIT;
				const char *name;
				size_t nl;
				int has = next_header(&it, &name, &nl, &v);

				buf_free(&v);
				if (has < 0)
					return -2;
				if (has > 0) {
					if (!visit(s, (size_t)(e - s), data))
						return -1;
					count++;
				}
			}
		}
		if (next == NULL)
			break;
		p = next + dlen;
	}
	return count;
}

/* ---- JSON ---- */

static json_t *headers_json(const struct content *c)
{
	struct header_iter it = { c->head, c->head != NULL ? c->head + c->head_len : NULL };
	struct buf value = BUF_INIT;
	json_t *obj = json_object();
	const char *name;
	size_t len;
	int rv;

	if (obj == NULL || c->head == NULL) {
		buf_free(&value);
		return obj;
	}
	while ((rv = next_header(&it, &name, &len, &value)) > 0) {
		json_t *key = http_json_text(name, len), *list;
		const char *k = key != NULL ? json_string_value(key) : NULL;

		if (k == NULL) {
			json_decref(key);
			goto nomem;
		}
		list = json_object_get(obj, k);
		if (list == NULL) {
			list = json_array();
			if (list == NULL || json_object_set_new(obj, k, list) != 0) {
				json_decref(key);
				goto nomem;
			}
		}
		json_decref(key);
		if (json_array_append_new(list, http_json_text(value.data, value.len)) != 0)
			goto nomem;
	}
	if (rv < 0)
		goto nomem;
	buf_free(&value);
	return obj;
nomem:
	buf_free(&value);
	json_decref(obj);
	return NULL;
}

static json_t *content_json(const char *s, size_t n, int depth);

struct parts_builder {
	json_t *parts;
	int depth;
};

static bool add_part(const char *s, size_t n, void *data)
{
	struct parts_builder *b = data;

	return json_array_append_new(b->parts, content_json(s, n, b->depth)) == 0;
}

/* {"Parts": [...]} of a multipart content, or JSON null when it is not multipart. */
static json_t *mime_json(const struct content *c, int depth)
{
	struct parts_builder b = { NULL, depth + 1 };
	char *ct, *boundary;

	if (!header_value(c, "Content-Type", &ct))
		return NULL;
	if (!multipart_boundary(ct, &boundary)) {
		mem_free(ct);
		return NULL;
	}
	mem_free(ct);
	if (boundary == NULL || depth >= MAX_DEPTH) {
		mem_free(boundary);
		return json_null();
	}
	mem_free(boundary);
	if ((b.parts = json_array()) == NULL)
		return NULL;
	if (each_part(c, add_part, &b) < 0) {
		json_decref(b.parts);
		return NULL;
	}
	return json_pack("{s:o}", "Parts", b.parts);
}

/* MailHog's Content of a part: {Headers, Body, Size, MIME}. */
static json_t *content_json(const char *s, size_t n, int depth)
{
	struct content c;

	split_content(s, n, &c);
	return json_pack("{s:o,s:o,s:I,s:o}", "Headers", headers_json(&c), "Body", http_json_text(c.body, c.body_len),
			 "Size", (json_int_t)c.size, "MIME", mime_json(&c, depth));
}

/* MailHog's Path of an envelope address: "relay,relay:mailbox@domain". */
static json_t *path_json(const char *addr, size_t n)
{
	const char *colon = memchr(addr, ':', n), *at, *email = addr;
	size_t email_len = n;
	json_t *relays = json_null();

	if (colon != NULL) {
		relays = json_array();
		for (const char *p = addr; relays != NULL && p < colon;) {
			const char *comma = memchr(p, ',', (size_t)(colon - p));
			const char *e = comma != NULL ? comma : colon;

			json_array_append_new(relays, http_json_text(p, (size_t)(e - p)));
			p = e + 1;
		}
		email = colon + 1;
		email_len = n - (size_t)(email - addr);
	}
	at = memchr(email, '@', email_len);
	return json_pack("{s:o,s:o,s:o,s:s}", "Relays", relays, "Mailbox",
			 http_json_text(email, at != NULL ? (size_t)(at - email) : email_len), "Domain",
			 at != NULL ? http_json_text(at + 1, email_len - (size_t)(at + 1 - email)) : json_string(""),
			 "Params", "");
}

json_t *mailhog_message(const struct store_message *m, const char *raw, size_t len)
{
	char created[TIME_RFC3339_SIZE];
	const char *from = m->mail_from != NULL ? m->mail_from : "";
	const char *rcpt = m->rcpt_to != NULL ? m->rcpt_to : "";
	json_t *to = json_array(), *raw_to = json_array(), *content, *headers, *msg;
	struct content c;
	bool has_message_id = false;
	char *return_path;

	split_content(raw, len, &c);
	for (const char *p = rcpt; to != NULL && raw_to != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (n > 0) {
			json_array_append_new(to, path_json(p, n));
			json_array_append_new(raw_to, http_json_text(p, n));
		}
		p += n + (comma != NULL ? 1 : 0);
	}
	headers = headers_json(&c);
	/* What MailHog adds to every message's headers: a Message-ID when there is none, and the
	 * envelope sender as Return-Path. */
	if (headers != NULL) {
		const char *key;
		json_t *v;

		json_object_foreach(headers, key, v)
			if (strcasecmp(key, "Message-ID") == 0)
				has_message_id = true;
		if (!has_message_id)
			json_object_set_new(headers, "Message-ID", json_pack("[s]", m->id));
		return_path = str_printf("<%s>", from);
		json_object_set_new(headers, "Return-Path", json_pack("[o]", http_json_text(return_path, return_path ? strlen(return_path) : 0)));
		mem_free(return_path);
	}
	content = json_pack("{s:o,s:o,s:I,s:n}", "Headers", headers, "Body", http_json_text(c.body, c.body_len), "Size",
			    (json_int_t)len, "MIME");
	time_format_rfc3339(created, sizeof created, m->received_at);
	msg = json_pack("{s:s,s:o,s:o,s:o,s:s,s:o,s:{s:o,s:o,s:o,s:o}}", "ID", m->id, "From",
			path_json(from, strlen(from)), "To", to, "Content", content, "Created", created, "MIME",
			mime_json(&c, 0), "Raw", "From", http_json_text(from, strlen(from)), "To", raw_to, "Data",
			http_json_text(raw, len), "Helo", http_json_text(m->helo, m->helo != NULL ? strlen(m->helo) : 0));
	return msg;
}

/* ---- parts ---- */

struct part_finder {
	unsigned wanted, seen;
	const char *s;
	size_t n;
};

static bool find_part(const char *s, size_t n, void *data)
{
	struct part_finder *f = data;

	if (f->seen++ == f->wanted) {
		f->s = s;
		f->n = n;
		return false;
	}
	return true;
}

static int b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode base64, skipping line breaks and anything else outside the alphabet; stops at '='. */
static size_t base64_decode(const char *in, size_t n, uint8_t *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n && in[i] != '='; i++) {
		int v = b64((unsigned char)in[i]);

		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

int mailhog_part(const char *raw, size_t len, unsigned n, struct mailhog_part *out, struct pat_err *err)
{
	struct part_finder f = { n, 0, NULL, 0 };
	struct content c, part;
	char *cte;
	int rv;

	memset(out, 0, sizeof *out);
	split_content(raw, len, &c);
	rv = each_part(&c, find_part, &f);
	if (rv == -2)
		return err_set(err, PAT_ENOMEM, "out of memory");
	if (rv >= 0 || f.s == NULL)
		return err_set(err, PAT_ENOTFOUND, "the message has no MIME part %u", n);
	split_content(f.s, f.n, &part);
	cte = NULL;
	if (!header_value(&part, "Content-Type", &out->content_type) ||
	    !header_value(&part, "Content-Transfer-Encoding", &cte) || (out->data = mem_alloc(part.body_len + 1)) == NULL) {
		mem_free(cte);
		mailhog_part_free(out);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	if (cte != NULL && strcasecmp(str_trim(cte), "base64") == 0) {
		out->len = base64_decode(part.body, part.body_len, out->data);
	} else {
		memcpy(out->data, part.body, part.body_len);
		out->len = part.body_len;
	}
	mem_free(cte);
	return PAT_OK;
}

void mailhog_part_free(struct mailhog_part *p)
{
	mem_free(p->content_type);
	mem_free(p->data);
	memset(p, 0, sizeof *p);
}

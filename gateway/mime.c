/* mime: see mime.h.
 *
 * One walk over GMime's tree serves the view, the part lookup and the counts. It numbers the
 * leaves as Mailpit does and sorts each one into the body (the first text/plain and text/html
 * that are not attachments), the attachments or the inline parts, with Mailpit's rules:
 *
 *   attachment: Content-Disposition "attachment", or application/octet-stream, or (Pat's own
 *               rule) a message/rfc822 part not marked inline;
 *   inline:     Content-Disposition "inline", or no disposition and a type other than
 *               text/plain and text/html (an image of a multipart/related, say);
 *   listed only when it has a file name or a Content-ID (message/rfc822 always is).
 *
 * Mailpit lists attachments breadth-first (enmime walks the tree level by level); the walk is
 * depth-first, so the lists are sorted by depth afterwards, keeping document order within a
 * level. GMime allocates with GLib; everything the view owns comes from lib/mem. */
#include "gateway/mime.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

#define MAX_DEPTH 32          /* nesting deeper than this is not walked */
#define PART_NUMBER_MAX 999999

static void global_init_once(void)
{
	g_mime_init();
}

void mime_global_init(void)
{
	/* Reader threads may reach here first together: GMime's init is not thread-safe. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, global_init_once);
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	uint32_t cp;

	if (c < 0x80)
		return c != 0;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq((const unsigned char *)s + i, len - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

char *mime_utf8_clean(const char *s, size_t len)
{
	char *out;
	size_t n = 0;

	if (len > (SIZE_MAX - 1) / 3 || (out = mem_alloc(3 * len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq((const unsigned char *)s + i, len - i);

		if (k == 0) {
			memcpy(out + n, "\xef\xbf\xbd", 3); /* U+FFFD */
			n += 3;
			i++;
		} else {
			memcpy(out + n, s + i, k);
			n += k;
			i += k;
		}
	}
	out[n] = '\0';
	return out;
}

/* A GLib or C string as a clean string of ours; NULL only on ENOMEM. */
static char *own(const char *s)
{
	return mime_utf8_clean(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* Unfold a header value (line breaks and the blanks around them become one space) and trim. */
static char *unfold(const char *s)
{
	struct buf b = BUF_INIT;
	char *out;

	if (s == NULL)
		s = "";
	/* Unfolding never lengthens: the appends below cannot fail after this. */
	if (buf_reserve(&b, strlen(s) + 1) != PAT_OK)
		return NULL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			while (b.len > 0 && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
				b.len--;
			while (p[1] == '\r' || p[1] == '\n' || p[1] == ' ' || p[1] == '\t')
				p++;
			buf_append_char(&b, ' ');
			continue;
		}
		buf_append_char(&b, *p);
	}
	b.data[b.len] = '\0';
	str_trim(b.data);
	out = mime_utf8_clean(b.data, strlen(b.data));
	buf_free(&b);
	return out;
}

/* ---- HTML to text ---- */

static int put_codepoint(struct buf *b, uint32_t cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80)
		return buf_append_char(b, (char)cp);
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f));
		return buf_append(b, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f));
		return buf_append(b, u, 3);
	}
	u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
	return buf_append(b, u, 4);
}

/* Decode the entity at p ('&'); *used gets its length, 0 when it is not one we know. */
static uint32_t html_entity(const char *p, size_t *used)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
		{ "nbsp;", ' ' }, { "copy;", 0xa9 }, { "reg;", 0xae }, { "hellip;", 0x2026 }, { "mdash;", 0x2014 },
		{ "ndash;", 0x2013 }, { "rsquo;", 0x2019 }, { "lsquo;", 0x2018 }, { "rdquo;", 0x201d }, { "ldquo;", 0x201c },
		{ "euro;", 0x20ac },
	};
	*used = 0;
	if (p[1] == '#') {
		const char *q = p + 2;
		int base = 10;
		uint32_t cp = 0;
		int digits = 0;

		if (*q == 'x' || *q == 'X')
			base = 16, q++;
		for (; digits < 8; q++, digits++) {
			int d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (base == 16 && *q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (base == 16 && *q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				break;
			cp = cp * (uint32_t)base + (uint32_t)d;
		}
		if (digits == 0 || *q != ';')
			return 0;
		*used = (size_t)(q + 1 - p);
		return cp;
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		size_t n = strlen(named[i].name);

		if (strncmp(p + 1, named[i].name, n) == 0) {
			*used = n + 1;
			return named[i].cp;
		}
	}
	return 0;
}

static bool tag_is(const char *name, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(name, *set) == 0)
			return true;
	return false;
}

char *mime_html_to_text(const char *html)
{
	static const char *const skipped[] = { "script", "style", "head", "title", NULL };
	static const char *const blocks[] = { "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
					      "ul", "ol", "blockquote", "hr", "pre", "section", "article", "header",
					      "footer", "dt", "dd", NULL };
	struct buf b = BUF_INIT;
	int rv = PAT_OK;
	int pending = 0; /* 0 nothing, 1 a space, 2 a line break, before the next character */
	const char *p = html != NULL ? html : "";
	char *out;

	while (*p != '\0' && rv == PAT_OK) {
		if (*p == '<') {
			char name[16];
			size_t n = 0;
			bool closing = p[1] == '/';
			const char *q = p + 1 + closing, *end;

			if (strncmp(p, "<!--", 4) == 0) {
				end = strstr(p + 4, "-->");
				p = end != NULL ? end + 3 : p + strlen(p);
				continue;
			}
			while (n < sizeof name - 1 && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')))
				name[n++] = (char)(*q++ | 0x20);
			name[n] = '\0';
			if ((end = strchr(q, '>')) == NULL)
				break;
			p = end + 1;
			if (!closing && tag_is(name, skipped)) {
				/* Skip to the matching end tag. */
				const char *s = p;

				while ((s = strstr(s, "</")) != NULL && strncasecmp(s + 2, name, n) != 0)
					s += 2;
				if (s == NULL || (end = strchr(s, '>')) == NULL) {
					p += strlen(p);
					break;
				}
				p = end + 1;
				continue;
			}
			if (tag_is(name, blocks))
				pending = 2;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f') {
			if (pending < 1)
				pending = 1;
			p++;
			continue;
		}
		if (b.len > 0 && pending > 0)
			rv = buf_append_char(&b, pending == 2 ? '\n' : ' ');
		pending = 0;
		if (*p == '&') {
			size_t used;
			uint32_t cp = html_entity(p, &used);

			if (used > 0) {
				rv = rv == PAT_OK ? put_codepoint(&b, cp) : rv;
				p += used;
				continue;
			}
		}
		if (rv == PAT_OK)
			rv = buf_append_char(&b, *p);
		p++;
	}
	if (rv != PAT_OK) {
		buf_free(&b);
		return NULL;
	}
	if (b.data == NULL)
		return mem_strdup("");
	out = mime_utf8_clean(b.data, b.len);
	buf_free(&b);
	return out;
}

/* ---- walking the tree ---- */

enum part_kind { KIND_NONE, KIND_ATTACHMENT, KIND_INLINE };

/* A listed part found by the walk. */
struct found {
	struct mime_part part;
	int depth;       /* nesting level, for the breadth-first order */
	size_t seq;      /* order of discovery (document order) */
	bool attachment; /* else inline */
};

struct walker {
	struct mime_view *v;     /* the view being built, or NULL */
	const char *want;        /* the part id looked for, or NULL */
	GMimeObject *match;      /* the part with that id */
	struct found *found;     /* listed parts (view only) */
	size_t n_found, cap_found;
	int64_t attachments, inline_parts; /* counts */
	bool has_text, has_html;
	int rv;                  /* PAT_ENOMEM once an allocation failed */
};

/* "type/subtype" in lower case (g_free). */
static char *media_type(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *t = ct != NULL ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");

	for (char *p = t; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return t;
}

/* The decoded bytes of a leaf, as a GByteArray of a memory stream (unref the stream). */
static GMimeStream *leaf_bytes(GMimeObject *o)
{
	GMimeStream *mem = g_mime_stream_mem_new();

	if (GMIME_IS_PART(o)) {
		GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(o));

		if (content != NULL)
			g_mime_data_wrapper_write_to_stream(content, mem);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (m != NULL)
			g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, mem);
	}
	return mem;
}

/* The text of a text part in UTF-8: transfer-decoded, then converted from its charset. Without a
 * charset GMime knows, valid UTF-8 is kept and anything else is read as Windows-1252. */
static char *leaf_text(GMimeObject *o)
{
	const char *charset = g_mime_object_get_content_type_parameter(o, "charset");
	GMimeStream *raw = leaf_bytes(o), *conv, *filtered;
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(raw));
	GMimeFilter *f = NULL;
	char *out;

	if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 && g_ascii_strcasecmp(charset, "us-ascii") != 0)
		f = g_mime_filter_charset_new(charset, "UTF-8");
	if (f == NULL && !utf8_valid((const char *)bytes->data, bytes->len))
		f = g_mime_filter_charset_new("windows-1252", "UTF-8");
	if (f == NULL) {
		out = mime_utf8_clean((const char *)bytes->data, bytes->len);
		g_object_unref(raw);
		return out;
	}
	conv = g_mime_stream_mem_new();
	filtered = g_mime_stream_filter_new(conv);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
	g_object_unref(f);
	if (bytes->len > 0)
		g_mime_stream_write(filtered, (const char *)bytes->data, bytes->len);
	g_mime_stream_flush(filtered);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(conv));
	out = mime_utf8_clean((const char *)bytes->data, bytes->len);
	g_object_unref(filtered);
	g_object_unref(conv);
	g_object_unref(raw);
	return out;
}

static void hex(char *out, const unsigned char *d, unsigned n)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void checksums(struct mime_part *p, const uint8_t *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL))
		hex(p->md5, md, n);
	if (EVP_Digest(data, len, md, &n, EVP_sha1(), NULL))
		hex(p->sha1, md, n);
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
		hex(p->sha256, md, n);
}

static void part_free(struct mime_part *p)
{
	mem_free(p->file_name);
	mem_free(p->content_type);
	mem_free(p->content_id);
	memset(p, 0, sizeof *p);
}

/* Fill a listed part's summary. */
static int describe(GMimeObject *o, const char *id, const char *type, struct mime_part *p)
{
	const char *cid = g_mime_object_get_content_id(o);
	const char *name = GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o)) : NULL;
	GMimeStream *bytes;
	GByteArray *a;

	memset(p, 0, sizeof *p);
	str_copy(p->part_id, id, sizeof p->part_id);
	if (name == NULL && GMIME_IS_MESSAGE_PART(o)) {
		name = g_mime_object_get_content_disposition_parameter(o, "filename");
		if (name == NULL)
			name = g_mime_object_get_content_type_parameter(o, "name");
	}
	p->content_id = own(cid);
	p->file_name = own(name != NULL && name[0] != '\0' ? name : (cid != NULL && cid[0] != '\0') ? cid
							: GMIME_IS_MESSAGE_PART(o)	       ? "message.eml"
											       : "");
	p->content_type = own(type);
	if (p->content_id == NULL || p->file_name == NULL || p->content_type == NULL) {
		part_free(p);
		return PAT_ENOMEM;
	}
	bytes = leaf_bytes(o);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(bytes));
	p->size = a->len;
	checksums(p, a->data, a->len);
	g_object_unref(bytes);
	return PAT_OK;
}

/* One leaf (not a multipart): body, attachment, inline part or nothing. top: the message is
 * not multipart and this is its only part. */
static void visit(GMimeObject *o, const char *id, int depth, bool top, struct walker *w)
{
	char *type = media_type(o);
	const char *d = g_mime_object_get_disposition(o);
	bool attach_disp = d != NULL && g_ascii_strcasecmp(d, "attachment") == 0;
	bool inline_disp = d != NULL && g_ascii_strcasecmp(d, "inline") == 0;
	bool rfc822 = GMIME_IS_MESSAGE_PART(o);
	bool is_text = strcmp(type, "text/plain") == 0, is_html = strcmp(type, "text/html") == 0;
	enum part_kind kind = KIND_NONE;

	if (w->want != NULL && w->match == NULL && strcmp(w->want, id) == 0)
		w->match = o;
	if (top) {
		/* A message of one part: its text, unless it is a file. */
		if (!attach_disp && (GMIME_IS_TEXT_PART(o) || g_str_has_prefix(type, "text/"))) {
			is_text = !is_html;
		} else {
			is_text = is_html = false;
			kind = inline_disp ? KIND_INLINE : KIND_ATTACHMENT;
		}
	} else if (attach_disp || strcmp(type, "application/octet-stream") == 0 || (rfc822 && !inline_disp)) {
		kind = KIND_ATTACHMENT;
	} else if (inline_disp || (d == NULL && !is_text && !is_html)) {
		kind = KIND_INLINE;
	}
	if (w->v != NULL && !attach_disp && GMIME_IS_PART(o)) {
		if (is_text && !w->has_text) {
			mem_free(w->v->text);
			if ((w->v->text = leaf_text(o)) == NULL)
				w->rv = PAT_ENOMEM;
			w->has_text = true;
		} else if (is_html && !w->has_html) {
			mem_free(w->v->html);
			if ((w->v->html = leaf_text(o)) == NULL)
				w->rv = PAT_ENOMEM;
			w->has_html = true;
		}
	}
	if (kind != KIND_NONE) {
		const char *cid = g_mime_object_get_content_id(o);
		const char *name = GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o)) : NULL;
		bool listed = rfc822 || (cid != NULL && cid[0] != '\0') || (name != NULL && name[0] != '\0');

		if (!listed)
			kind = KIND_NONE;
	}
	if (kind == KIND_ATTACHMENT)
		w->attachments++;
	else if (kind == KIND_INLINE)
		w->inline_parts++;
	if (kind != KIND_NONE && w->v != NULL && w->rv == PAT_OK) {
		if (w->n_found == w->cap_found) {
			size_t cap = w->cap_found ? 2 * w->cap_found : 8;
			struct found *f = mem_realloc(w->found, cap * sizeof *f);

			if (f == NULL) {
				w->rv = PAT_ENOMEM;
				g_free(type);
				return;
			}
			w->found = f;
			w->cap_found = cap;
		}
		if (describe(o, id, type, &w->found[w->n_found].part) != PAT_OK) {
			w->rv = PAT_ENOMEM;
		} else {
			w->found[w->n_found].depth = depth;
			w->found[w->n_found].seq = w->n_found;
			w->found[w->n_found].attachment = kind == KIND_ATTACHMENT;
			w->n_found++;
		}
	}
	g_free(type);
}

/* The children of a multipart: prefix "" at the top ("1", "2"), else "<prefix>.<n>". */
static void walk_multipart(GMimeMultipart *mp, const char *prefix, int depth, struct walker *w)
{
	int n = g_mime_multipart_get_count(mp);

	if (depth > MAX_DEPTH)
		return;
	for (int i = 0; i < n && i < PART_NUMBER_MAX; i++) {
		GMimeObject *child = g_mime_multipart_get_part(mp, i);
		char id[MIME_PART_ID_MAX];
		int len = snprintf(id, sizeof id, "%s%s%d", prefix, prefix[0] ? "." : "", i + 1);

		if (len < 0 || (size_t)len >= sizeof id - 2)
			return; /* too deep to name: not listed */
		if (GMIME_IS_MULTIPART(child))
			walk_multipart(GMIME_MULTIPART(child), id, depth + 1, w);
		else
			visit(child, id, depth, false, w);
	}
}

/* Is the root a multipart GMime found no parts in (a boundary that never appears), or a
 * multipart/ type GMime could not split (no boundary parameter)? */
static bool broken_root(GMimeObject *root)
{
	if (root == NULL)
		return false;
	if (GMIME_IS_MULTIPART(root))
		return g_mime_multipart_get_count(GMIME_MULTIPART(root)) == 0;
	return GMIME_IS_PART(root) && g_ascii_strcasecmp(g_mime_content_type_get_media_type(g_mime_object_get_content_type(root)), "multipart") == 0;
}

static void walk(GMimeMessage *msg, struct walker *w)
{
	GMimeObject *root = g_mime_message_get_mime_part(msg);

	if (root == NULL || broken_root(root))
		return;
	if (GMIME_IS_MULTIPART(root))
		walk_multipart(GMIME_MULTIPART(root), "", 1, w);
	else
		visit(root, "0", 0, true, w);
}

static GMimeMessage *parse(const void *raw, size_t len)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;

	mime_global_init();
	stream = g_mime_stream_mem_new_with_buffer(raw, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* ---- the view ---- */

static void addresses_free(struct mime_addresses *l)
{
	for (size_t i = 0; i < l->n; i++) {
		mem_free(l->list[i].name);
		mem_free(l->list[i].address);
	}
	mem_free(l->list);
	l->list = NULL;
	l->n = 0;
}

void mime_view_free(struct mime_view *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n_headers; i++) {
		mem_free(v->headers[i].name);
		mem_free(v->headers[i].raw);
		mem_free(v->headers[i].value);
	}
	mem_free(v->headers);
	mem_free(v->subject);
	mem_free(v->message_id);
	mem_free(v->return_path);
	mem_free(v->date);
	mem_free(v->from.name);
	mem_free(v->from.address);
	addresses_free(&v->to);
	addresses_free(&v->cc);
	addresses_free(&v->bcc);
	addresses_free(&v->reply_to);
	mem_free(v->list_unsubscribe);
	mem_free(v->list_unsubscribe_post);
	mem_free(v->text);
	mem_free(v->html);
	for (size_t i = 0; i < v->n_inline; i++)
		part_free(&v->inline_parts[i]);
	mem_free(v->inline_parts);
	for (size_t i = 0; i < v->n_attachments; i++)
		part_free(&v->attachments[i]);
	mem_free(v->attachments);
	mem_free(v);
}

/* Every mailbox of a list, group members included. */
static int add_addresses(InternetAddressList *list, struct mime_addresses *out, int depth)
{
	int n = list != NULL ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);
		struct mime_address *grown;

		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			if (depth < 4 && add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out, depth + 1) != PAT_OK)
				return PAT_ENOMEM;
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(a))
			continue;
		if ((grown = mem_realloc(out->list, (out->n + 1) * sizeof *grown)) == NULL)
			return PAT_ENOMEM;
		out->list = grown;
		grown[out->n].name = own(internet_address_get_name(a));
		grown[out->n].address = own(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
		out->n++;
		if (grown[out->n - 1].name == NULL || grown[out->n - 1].address == NULL)
			return PAT_ENOMEM;
	}
	return PAT_OK;
}

static int headers_read(GMimeMessage *msg, struct mime_view *v)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;

	if (n == 0)
		return PAT_OK;
	if ((v->headers = mem_calloc((size_t)n, sizeof *v->headers)) == NULL)
		return PAT_ENOMEM;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		struct mime_header *out = &v->headers[v->n_headers++];

		out->name = own(g_mime_header_get_name(h));
		out->raw = unfold(g_mime_header_get_raw_value(h));
		out->value = unfold(g_mime_header_get_value(h));
		if (out->name == NULL || out->raw == NULL || out->value == NULL)
			return PAT_ENOMEM;
	}
	return PAT_OK;
}

/* The decoded value of the first header called name, or NULL. */
static const char *header_value(const struct mime_view *v, const char *name)
{
	for (size_t i = 0; i < v->n_headers; i++)
		if (g_ascii_strcasecmp(v->headers[i].name, name) == 0)
			return v->headers[i].value;
	return NULL;
}

static char *date_rfc3339(GDateTime *d)
{
	char out[48];
	int64_t off;
	size_t n;

	if (d == NULL)
		return mem_strdup("");
	{
		char *s = g_date_time_format(d, "%Y-%m-%dT%H:%M:%S");

		if (s == NULL)
			return mem_strdup("");
		n = (size_t)snprintf(out, sizeof out, "%s", s);
		g_free(s);
	}
	off = g_date_time_get_utc_offset(d) / G_TIME_SPAN_SECOND;
	if (off == 0)
		snprintf(out + n, sizeof out - n, "Z");
	else
		snprintf(out + n, sizeof out - n, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(llabs(off) / 3600),
			 (int)(llabs(off) % 3600 / 60));
	return mem_strdup(out);
}

/* The bytes after the header block (all of raw when there is no blank line). */
static size_t body_offset(const char *raw, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (raw[i] != '\n')
			continue;
		if (raw[i + 1] == '\n')
			return i + 2;
		if (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int by_depth(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Move the walk's parts into the view's two lists, breadth-first. */
static int take_parts(struct walker *w, struct mime_view *v)
{
	size_t na = 0, ni = 0;

	if (w->n_found > 1)
		qsort(w->found, w->n_found, sizeof *w->found, by_depth);
	for (size_t i = 0; i < w->n_found; i++)
		w->found[i].attachment ? na++ : ni++;
	if ((na > 0 && (v->attachments = mem_calloc(na, sizeof *v->attachments)) == NULL) ||
	    (ni > 0 && (v->inline_parts = mem_calloc(ni, sizeof *v->inline_parts)) == NULL))
		return PAT_ENOMEM;
	for (size_t i = 0; i < w->n_found; i++) {
		if (w->found[i].attachment)
			v->attachments[v->n_attachments++] = w->found[i].part;
		else
			v->inline_parts[v->n_inline++] = w->found[i].part;
	}
	w->n_found = 0;
	return PAT_OK;
}

static int view_fill(GMimeMessage *msg, const char *raw, size_t len, struct mime_view *v)
{
	struct walker w = { 0 };
	InternetAddressList *from;
	const char *rp;
	int rv;

	w.v = v;
	if ((rv = headers_read(msg, v)) != PAT_OK)
		return rv;
	v->subject = own(g_mime_message_get_subject(msg));
	v->message_id = own(g_mime_message_get_message_id(msg));
	v->date = date_rfc3339(g_mime_message_get_date(msg));
	v->list_unsubscribe = own(header_value(v, "List-Unsubscribe"));
	v->list_unsubscribe_post = own(header_value(v, "List-Unsubscribe-Post"));
	if (v->subject == NULL || v->message_id == NULL || v->date == NULL || v->list_unsubscribe == NULL ||
	    v->list_unsubscribe_post == NULL)
		return PAT_ENOMEM;
	from = g_mime_message_get_from(msg);
	{
		struct mime_addresses all = { 0 };

		rv = add_addresses(from, &all, 0);
		if (rv == PAT_OK && all.n > 0) {
			v->from = all.list[0];
			all.list[0] = (struct mime_address){ NULL, NULL };
		} else if (rv == PAT_OK) {
			/* Mailpit's rule: an unparsable From shows as a name. */
			v->from.name = own(header_value(v, "From"));
			v->from.address = own("");
		}
		addresses_free(&all);
		if (rv != PAT_OK || v->from.name == NULL || v->from.address == NULL)
			return PAT_ENOMEM;
	}
	if (add_addresses(g_mime_message_get_to(msg), &v->to, 0) != PAT_OK ||
	    add_addresses(g_mime_message_get_cc(msg), &v->cc, 0) != PAT_OK ||
	    add_addresses(g_mime_message_get_bcc(msg), &v->bcc, 0) != PAT_OK ||
	    add_addresses(g_mime_message_get_reply_to(msg), &v->reply_to, 0) != PAT_OK)
		return PAT_ENOMEM;
	rp = header_value(v, "Return-Path");
	if (rp != NULL && rp[0] != '\0') {
		size_t n = strlen(rp);

		if (rp[0] == '<')
			rp++, n--;
		if (n > 0 && rp[n - 1] == '>')
			n--;
		v->return_path = mem_strndup(rp, n);
	} else {
		v->return_path = mem_strdup(v->from.address);
	}
	if (v->return_path == NULL)
		return PAT_ENOMEM;

	walk(msg, &w);
	if (w.rv == PAT_OK)
		w.rv = take_parts(&w, v);
	for (size_t i = 0; i < w.n_found; i++)
		part_free(&w.found[i].part);
	mem_free(w.found);
	if (w.rv != PAT_OK)
		return w.rv;
	if (v->n_headers == 0 || broken_root(g_mime_message_get_mime_part(msg))) {
		/* Unreadable structure: show what was sent. */
		size_t off = v->n_headers == 0 ? 0 : body_offset(raw, len);

		v->degraded = true;
		mem_free(v->text);
		if ((v->text = mime_utf8_clean(raw + off, len - off)) == NULL)
			return PAT_ENOMEM;
	}
	if (v->html == NULL && (v->html = mem_strdup("")) == NULL)
		return PAT_ENOMEM;
	if (v->text == NULL && (v->text = mime_html_to_text(v->html)) == NULL)
		return PAT_ENOMEM;
	return PAT_OK;
}

/* Every string of a view that could not be read at all. */
static int view_degraded(const char *raw, size_t len, struct mime_view *v)
{
	char **fields[] = { &v->subject, &v->message_id, &v->return_path, &v->date, &v->from.name, &v->from.address,
			    &v->list_unsubscribe, &v->list_unsubscribe_post, &v->html };

	v->degraded = true;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if ((*fields[i] = mem_strdup("")) == NULL)
			return PAT_ENOMEM;
	return (v->text = mime_utf8_clean(raw, len)) != NULL ? PAT_OK : PAT_ENOMEM;
}

int mime_view_parse(const void *raw, size_t len, struct mime_view **out, struct pat_err *err)
{
	struct mime_view *v = mem_calloc(1, sizeof *v);
	GMimeMessage *msg;
	int rv;

	*out = NULL;
	if (v == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	v->size = len;
	msg = parse(raw, len);
	if (msg != NULL) {
		rv = view_fill(msg, raw, len, v);
		g_object_unref(msg);
	} else {
		rv = view_degraded(raw, len, v);
	}
	if (rv != PAT_OK) {
		mime_view_free(v);
		return err_set(err, rv, "out of memory reading the message");
	}
	*out = v;
	return PAT_OK;
}

/* ---- parts ---- */

bool mime_part_id_valid(const char *id)
{
	size_t digits = 0, len = 0;

	if (id == NULL || id[0] == '\0')
		return false;
	for (const char *p = id; *p != '\0'; p++, len++) {
		if (len >= MIME_PART_ID_MAX - 1)
			return false;
		if (*p == '.') {
			if (digits == 0 || p[1] == '\0')
				return false;
			digits = 0;
			continue;
		}
		if (*p < '0' || *p > '9')
			return false;
		if (digits == 1 && p[-1] == '0')
			return false; /* a leading zero: "01" would name part 1 twice */
		if (++digits > 6)
			return false;
	}
	return true;
}

int mime_part_content(const void *raw, size_t len, const char *part_id, uint8_t **data, size_t *data_len,
		      char **content_type, struct pat_err *err)
{
	struct walker w = { 0 };
	GMimeMessage *msg;
	GMimeStream *bytes;
	GByteArray *a;
	char *type;

	*data = NULL;
	*data_len = 0;
	*content_type = NULL;
	if (!mime_part_id_valid(part_id))
		return err_set(err, PAT_EINVAL, "bad part id \"%.*s\": expected numbers separated by dots, like 1.2",
			       (int)(part_id != NULL ? strnlen(part_id, 64) : 0), part_id != NULL ? part_id : "");
	if ((msg = parse(raw, len)) == NULL)
		return err_set(err, PAT_ENOTFOUND, "the message has no part %s", part_id);
	w.want = part_id;
	walk(msg, &w);
	if (w.match == NULL) {
		g_object_unref(msg);
		return err_set(err, PAT_ENOTFOUND, "the message has no part %s", part_id);
	}
	bytes = leaf_bytes(w.match);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(bytes));
	type = media_type(w.match);
	*data = mem_alloc(a->len + 1);
	*content_type = mem_strdup(type);
	if (*data != NULL) {
		if (a->len > 0)
			memcpy(*data, a->data, a->len);
		(*data)[a->len] = '\0';
		*data_len = a->len;
	}
	g_free(type);
	g_object_unref(bytes);
	g_object_unref(msg);
	if (*data == NULL || *content_type == NULL) {
		mem_free(*data);
		mem_free(*content_type);
		*data = NULL;
		*content_type = NULL;
		*data_len = 0;
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	return PAT_OK;
}

void mime_count_message(GMimeMessage *msg, int64_t *attachments, int64_t *inline_parts)
{
	struct walker w = { 0 };

	if (msg != NULL)
		walk(msg, &w);
	*attachments = w.attachments;
	*inline_parts = w.inline_parts;
}

void mime_count_parts(const void *raw, size_t len, int64_t *attachments, int64_t *inline_parts)
{
	GMimeMessage *msg = parse(raw, len);

	mime_count_message(msg, attachments, inline_parts);
	if (msg != NULL)
		g_object_unref(msg);
}

/* ---- JSON ---- */

/* Add v under key; false (and v released) when anything is missing. */
static bool put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0;
}

static json_t *address_json(const struct mime_address *a)
{
	json_t *o = json_object();

	if (o == NULL || !put(o, "Name", json_string(a->name != NULL ? a->name : "")) ||
	    !put(o, "Address", json_string(a->address != NULL ? a->address : ""))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *addresses_json(const struct mime_addresses *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n; i++)
		if (json_array_append_new(a, address_json(&l->list[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *parts_json(const struct mime_part *parts, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++) {
		const struct mime_part *p = &parts[i];
		json_t *o = json_object(), *sums = json_object();
		bool ok = o != NULL && sums != NULL;

		ok = ok && put(sums, "MD5", json_string(p->md5)) && put(sums, "SHA1", json_string(p->sha1)) &&
		     put(sums, "SHA256", json_string(p->sha256));
		ok = ok && put(o, "PartID", json_string(p->part_id)) && put(o, "FileName", json_string(p->file_name)) &&
		     put(o, "ContentType", json_string(p->content_type)) && put(o, "ContentID", json_string(p->content_id)) &&
		     put(o, "Size", json_integer((json_int_t)p->size));
		if (ok) {
			ok = put(o, "Checksums", sums);
			sums = NULL;
		}
		json_decref(sums);
		if (!ok || json_array_append_new(a, o) != 0) {
			if (!ok)
				json_decref(o);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The links of a List-Unsubscribe header and what is wrong with it, as Mailpit checks it: <>
 * around each link, commas between them, no spaces inside, at most one mailto: and one
 * http(s) link. */
static json_t *unsubscribe_json(const struct mime_view *v)
{
	json_t *o = json_object(), *links = json_array();
	struct buf errors = BUF_INIT;
	const char *h = v->list_unsubscribe;
	bool ok = o != NULL && links != NULL, mailto = false, http = false;
	int count = 0;

	for (const char *p = h; ok && h[0] != '\0' && *p != '\0';) {
		const char *open = strchr(p, '<'), *close;

		if (open == NULL)
			break;
		for (const char *q = p; q < open; q++)
			if (*q != ' ' && *q != '\t' && *q != ',') {
				if (errors.len == 0)
					buf_printf(&errors, "\"%s\" <> should be split with a comma and optional spaces", h);
				break;
			}
		if ((close = strchr(open, '>')) == NULL)
			break;
		count++;
		{
			char *link = mem_strndup(open + 1, (size_t)(close - open - 1));

			if (link == NULL) {
				ok = false;
				break;
			}
			if (strpbrk(link, " \t") != NULL) {
				buf_printf(&errors, "%s\"%s\" should not contain spaces", errors.len ? ", " : "", link);
			} else if (g_ascii_strncasecmp(link, "mailto:", 7) == 0 && link[7] != '\0' && !mailto) {
				mailto = true;
				ok = json_array_append_new(links, json_string(link)) == 0;
			} else if ((g_ascii_strncasecmp(link, "http://", 7) == 0 || g_ascii_strncasecmp(link, "https://", 8) == 0) &&
				   !http) {
				http = true;
				ok = json_array_append_new(links, json_string(link)) == 0;
			} else {
				buf_printf(&errors, "%s\"%s\" should start with either http(s):// or mailto:", errors.len ? ", " : "",
					   link);
			}
			mem_free(link);
		}
		p = close + 1;
	}
	if (ok && h[0] != '\0' && count == 0)
		buf_printf(&errors, "\"%s\" no valid unsubscribe links found", h);
	else if (ok && count > 2)
		buf_printf(&errors, "%s\"%s\" should include a maximum of one email and one HTTP link", errors.len ? ", " : "", h);
	ok = ok && put(o, "Header", json_string(h)) && put(o, "Links", links);
	links = NULL;
	ok = ok && put(o, "Errors", json_string(buf_str(&errors))) && put(o, "HeaderPost", json_string(v->list_unsubscribe_post));
	buf_free(&errors);
	json_decref(links);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *tags_json(const char *tags)
{
	json_t *a = json_array();
	const char *p = tags != NULL ? tags : "";

	while (a != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char *t = mem_strndup(p, n), *clean;

		if (t == NULL || (clean = mime_utf8_clean(str_trim(t), strlen(str_trim(t)))) == NULL) {
			mem_free(t);
			json_decref(a);
			return NULL;
		}
		if (clean[0] != '\0' && json_array_append_new(a, json_string(clean)) != 0) {
			json_decref(a);
			a = NULL;
		}
		mem_free(clean);
		mem_free(t);
		p += n;
		if (*p == ',')
			p++;
	}
	return a;
}

int mime_json_message(const struct mime_view *v, const struct store_message *m, json_t **out, struct pat_err *err)
{
	json_t *o = json_object();
	char created[TIME_RFC3339_SIZE];
	bool ok = o != NULL;

	*out = NULL;
	if (m != NULL)
		time_format_rfc3339(created, sizeof created, m->received_at);
	ok = ok && put(o, "ID", json_string(m != NULL ? m->id : "")) && put(o, "MessageID", json_string(v->message_id)) &&
	     put(o, "From", address_json(&v->from)) && put(o, "To", addresses_json(&v->to)) &&
	     put(o, "Cc", addresses_json(&v->cc)) && put(o, "Bcc", addresses_json(&v->bcc)) &&
	     put(o, "ReplyTo", addresses_json(&v->reply_to)) && put(o, "ReturnPath", json_string(v->return_path)) &&
	     put(o, "Subject", json_string(v->subject)) && put(o, "ListUnsubscribe", unsubscribe_json(v)) &&
	     put(o, "Date", json_string(v->date[0] != '\0' || m == NULL ? v->date : created)) &&
	     put(o, "Tags", tags_json(m != NULL ? m->tags : NULL)) && put(o, "Username", json_string("")) &&
	     put(o, "Text", json_string(v->text)) && put(o, "HTML", json_string(v->html)) &&
	     put(o, "Size", json_integer(m != NULL ? (json_int_t)m->size : (json_int_t)v->size)) &&
	     put(o, "Inline", parts_json(v->inline_parts, v->n_inline)) &&
	     put(o, "Attachments", parts_json(v->attachments, v->n_attachments));
	if (!ok) {
		json_decref(o);
		return err_set(err, PAT_ENOMEM, "out of memory building the message's JSON");
	}
	*out = o;
	return PAT_OK;
}

/* A stored text as a JSON string, made valid UTF-8 first when it is not. */
static json_t *clean_json(const char *s)
{
	char *c;
	json_t *j;

	if (s == NULL)
		return json_string("");
	if (utf8_valid(s, strlen(s)))
		return json_string(s);
	if ((c = mime_utf8_clean(s, strlen(s))) == NULL)
		return NULL;
	j = json_string(c);
	mem_free(c);
	return j;
}

/* A stored address column ("Name <a@b>, c@d") as a JSON list of {Name, Address}. */
static json_t *column_addresses(const char *column)
{
	struct mime_addresses l = { 0 };
	InternetAddressList *list;
	json_t *a;

	mime_global_init();
	list = column != NULL && column[0] != '\0' ? internet_address_list_parse(NULL, column) : NULL;
	if (add_addresses(list, &l, 0) != PAT_OK) {
		addresses_free(&l);
		if (list != NULL)
			g_object_unref(list);
		return NULL;
	}
	a = addresses_json(&l);
	addresses_free(&l);
	if (list != NULL)
		g_object_unref(list);
	return a;
}

int mime_json_summary(const struct store_message *m, json_t **out, struct pat_err *err)
{
	json_t *o = json_object(), *from = column_addresses(m->from), *first = NULL;
	char created[TIME_RFC3339_SIZE];
	bool ok = o != NULL && from != NULL;

	*out = NULL;
	time_format_rfc3339(created, sizeof created, m->received_at);
	if (ok) {
		/* Mailpit's From is one address: the first, or an empty one. */
		first = json_array_size(from) > 0 ? json_incref(json_array_get(from, 0)) : json_pack("{s:s,s:s}", "Name", "", "Address", "");
		ok = first != NULL;
	}
	ok = ok && put(o, "ID", json_string(m->id)) && put(o, "MessageID", clean_json(m->message_id)) &&
	     put(o, "Read", json_boolean(m->read));
	if (ok)
		ok = put(o, "From", first);
	else
		json_decref(first);
	ok = ok && put(o, "To", column_addresses(m->to)) && put(o, "Cc", column_addresses(m->cc)) &&
	     put(o, "Bcc", column_addresses(m->bcc)) && put(o, "ReplyTo", column_addresses(m->reply_to)) &&
	     put(o, "Subject", clean_json(m->subject)) && put(o, "Created", json_string(created)) &&
	     put(o, "Username", json_string("")) && put(o, "Tags", tags_json(m->tags)) &&
	     put(o, "Size", json_integer((json_int_t)m->size)) && put(o, "Attachments", json_integer((json_int_t)m->attachments)) &&
	     put(o, "Snippet", clean_json(m->snippet));
	json_decref(from);
	if (!ok) {
		json_decref(o);
		return err_set(err, PAT_ENOMEM, "out of memory building the summary's JSON");
	}
	*out = o;
	return PAT_OK;
}

/* Go's canonical header key: "message-id" → "Message-Id"; a name with a character that is not
 * a token character is left alone, as Go does. */
static void canonical_key(const char *name, char *out, size_t n)
{
	static const char token[] = "!#$%&'*+-.^_`|~";
	bool upper = true, valid = name[0] != '\0';

	for (const char *p = name; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && strchr(token, *p) == NULL)
			valid = false;
	str_copy(out, name, n);
	if (!valid)
		return;
	for (char *p = out; *p != '\0'; p++) {
		*p = upper ? g_ascii_toupper(*p) : g_ascii_tolower(*p);
		upper = *p == '-';
	}
}

int mime_json_headers(const struct mime_view *v, json_t **out, struct pat_err *err)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	*out = NULL;
	for (size_t i = 0; ok && i < v->n_headers; i++) {
		char key[256];
		json_t *values;

		canonical_key(v->headers[i].name, key, sizeof key);
		if ((values = json_object_get(o, key)) == NULL) {
			ok = put(o, key, json_array());
			values = json_object_get(o, key);
		}
		ok = ok && values != NULL && json_array_append_new(values, json_string(v->headers[i].raw)) == 0;
	}
	if (!ok) {
		json_decref(o);
		return err_set(err, PAT_ENOMEM, "out of memory building the headers' JSON");
	}
	*out = o;
	return PAT_OK;
}

/* A media type that can go into a data: URL as it is: lower-case letters, digits, ".+-" and
 * one '/' between two non-empty halves. */
static bool plain_media_type(const char *t)
{
	const char *slash = t != NULL ? strchr(t, '/') : NULL;

	return slash != NULL && slash != t && slash[1] != '\0' && strchr(slash + 1, '/') == NULL &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789.+-/") == strlen(t);
}

/* The part of v whose Content-ID is cid, or NULL. */
static const struct mime_part *part_by_cid(const struct mime_view *v, const char *cid, size_t *index)
{
	for (size_t i = 0; i < v->n_inline + v->n_attachments; i++) {
		const struct mime_part *p = i < v->n_inline ? &v->inline_parts[i] : &v->attachments[i - v->n_inline];

		if (p->content_id != NULL && p->content_id[0] != '\0' && strcmp(p->content_id, cid) == 0) {
			*index = i;
			return p;
		}
	}
	return NULL;
}

/* "data:TYPE;base64,..." of a part (mem_alloc()ed), or NULL with *skip set when the part
 * cannot be had or is larger than max_part; NULL without *skip on ENOMEM. */
static char *data_url(const void *raw, size_t len, const struct mime_part *p, size_t max_part, bool *skip)
{
	struct pat_err err;
	uint8_t *data = NULL;
	size_t data_len = 0;
	char *type = NULL, *url = NULL, *prefix;
	size_t prefix_len;

	*skip = false;
	if (p->size > max_part) {
		*skip = true;
		return NULL;
	}
	if (mime_part_content(raw, len, p->part_id, &data, &data_len, &type, &err) != PAT_OK) {
		*skip = err.code != PAT_ENOMEM;
		return NULL;
	}
	if (data_len <= max_part && data_len <= INT_MAX / 4 * 3 - 3 &&
	    (prefix = str_printf("data:%s;base64,", plain_media_type(type) ? type : "application/octet-stream")) != NULL) {
		prefix_len = strlen(prefix);
		if ((url = mem_alloc(prefix_len + (data_len + 2) / 3 * 4 + 1)) != NULL) {
			memcpy(url, prefix, prefix_len);
			EVP_EncodeBlock((unsigned char *)url + prefix_len, data, (int)data_len);
		}
		mem_free(prefix);
	} else if (data_len > max_part) {
		*skip = true;
	}
	mem_free(data);
	mem_free(type);
	return url;
}

/* Does c end a cid: URL (a quote, a bracket, a parenthesis, white space or the end)? */
static bool cid_url_end(char c)
{
	return c == '\0' || strchr("\"'()<>\\ \t\r\n\f", c) != NULL;
}

int mime_html_inline_parts(const void *raw, size_t len, const struct mime_view *v, size_t max_part, char **out,
			   struct pat_err *err)
{
	size_t n_parts = v->n_inline + v->n_attachments, done = 0, i = 0;
	const char *html = v->html != NULL ? v->html : "";
	struct buf b = BUF_INIT;
	char **urls = NULL;
	bool *skipped = NULL;
	int rv = PAT_OK;

	*out = NULL;
	if (n_parts > 0 && ((urls = mem_calloc(n_parts, sizeof *urls)) == NULL ||
			    (skipped = mem_calloc(n_parts, sizeof *skipped)) == NULL)) {
		rv = PAT_ENOMEM;
		goto out;
	}
	while (html[i] != '\0') {
		char cid[MIME_CID_MAX];
		size_t end = i + 4, n = 0, index = 0;
		const struct mime_part *p;

		if (n_parts == 0 || strncasecmp(html + i, "cid:", 4) != 0) {
			i++;
			continue;
		}
		/* The Content-ID, %-escapes decoded (RFC 2392). */
		for (; !cid_url_end(html[end]); end++) {
			char c = html[end];

			if (c == '%' && isxdigit((unsigned char)html[end + 1]) && isxdigit((unsigned char)html[end + 2])) {
				char hex[3] = { html[end + 1], html[end + 2], '\0' };

				c = (char)strtol(hex, NULL, 16);
				end += 2;
			}
			if (n + 1 < sizeof cid)
				cid[n] = c;
			n++;
		}
		cid[n < sizeof cid ? n : 0] = '\0';
		if (n == 0 || n >= sizeof cid || (p = part_by_cid(v, cid, &index)) == NULL || skipped[index]) {
			i = end;
			continue;
		}
		if (urls[index] == NULL && (urls[index] = data_url(raw, len, p, max_part, &skipped[index])) == NULL) {
			if (!skipped[index]) {
				rv = PAT_ENOMEM;
				goto out;
			}
			i = end;
			continue;
		}
		if (buf_append(&b, html + done, i - done) != PAT_OK || buf_append_str(&b, urls[index]) != PAT_OK) {
			rv = PAT_ENOMEM;
			goto out;
		}
		done = i = end;
	}
	if (buf_append(&b, html + done, i - done) != PAT_OK || (*out = buf_detach(&b)) == NULL)
		rv = PAT_ENOMEM;
out:
	for (size_t k = 0; urls != NULL && k < n_parts; k++)
		mem_free(urls[k]);
	mem_free(urls);
	mem_free(skipped);
	buf_free(&b);
	return rv == PAT_OK ? PAT_OK : err_set(err, rv, "out of memory");
}

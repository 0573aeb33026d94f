/* config: see config.h.
 *
 * libinih does the INI syntax. It reports keys but not their line numbers (Debian builds it
 * without INI_HANDLER_LINENO), so the file is fed to it through our own line reader, which
 * counts lines, refuses lines inih would silently cut (it has a fixed line length) and lines
 * with NUL bytes, and recognises section headers so that an unknown section is reported even
 * when it holds no keys. */
#include "lib/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/units.h"

#define SECRET_MAX (1u << 20) /* a secret file larger than this is the wrong file */
#define INI_LINE 200          /* Debian's libinih reads at most 199 characters a line */

/* ---- errors ---------------------------------------------------------------------------- */

static int add_error_v(struct conf *c, const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	char **errors;

	if (prefix != NULL)
		buf_append_str(&b, prefix);
	buf_vprintf(&b, fmt, ap);
	errors = mem_realloc(c->errors, (c->n_errors + 1) * sizeof *errors);
	if (errors == NULL || b.data == NULL) {
		buf_free(&b);
		if (errors != NULL)
			c->errors = errors;
		return PAT_ENOMEM;
	}
	c->errors = errors;
	c->errors[c->n_errors++] = buf_detach(&b);
	return PAT_ECONFIG;
}

int conf_error(struct conf *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(c, NULL, fmt, ap);
	va_end(ap);
	return PAT_ECONFIG;
}

/* "FILE:LINE: " / "environment VAR: " / "flag F: " / "" for a key's current origin. */
static void origin_prefix(const struct conf *c, const struct conf_source *s, char *out, size_t n)
{
	switch (s->origin) {
	case CONF_FROM_FILE: snprintf(out, n, "%s:%d: ", c->file, s->line); break;
	case CONF_FROM_ENV: snprintf(out, n, "environment %s: ", s->name); break;
	case CONF_FROM_FLAG: snprintf(out, n, "flag %s: ", s->name); break;
	default: out[0] = '\0'; break;
	}
}

int conf_key_error(struct conf *c, size_t key, const char *fmt, ...)
{
	char prefix[512];
	size_t len;
	va_list ap;

	origin_prefix(c, &c->src[key], prefix, sizeof prefix);
	len = strlen(prefix);
	snprintf(prefix + len, sizeof prefix - len, "[%s] %s: ", c->keys[key].section, c->keys[key].name);
	va_start(ap, fmt);
	add_error_v(c, prefix, fmt, ap);
	va_end(ap);
	return PAT_ECONFIG;
}

size_t conf_error_count(const struct conf *c)
{
	return c->n_errors;
}

const char *conf_error_at(const struct conf *c, size_t i)
{
	return i < c->n_errors ? c->errors[i] : NULL;
}

/* ---- values ---------------------------------------------------------------------------- */

static void *slot(const struct conf *c, size_t key)
{
	return (char *)c->target + c->keys[key].offset;
}

static bool is_string_type(enum conf_type t)
{
	return t == CONF_STRING || t == CONF_ADDRESS || t == CONF_ADDRESS_LIST || t == CONF_NAME ||
	       t == CONF_PATH;
}

static void clear_value(struct conf *c, size_t key)
{
	const struct conf_key *k = &c->keys[key];
	void *p = slot(c, key);

	if (is_string_type(k->type)) {
		mem_free(*(char **)p);
		*(char **)p = NULL;
	} else if (k->type == CONF_SECRET_FILE) {
		struct conf_secret *s = p;

		mem_free(s->path);
		if (s->value != NULL)
			memset(s->value, 0, s->len);
		mem_free(s->value);
		memset(s, 0, sizeof *s);
	}
}

static void describe_range(const struct conf_key *k, char *out, size_t n)
{
	char lo[32], hi[32];

	out[0] = '\0';
	if (k->min == 0 && k->max == 0)
		return;
	switch (k->type) {
	case CONF_INT:
		snprintf(out, n, " from %lld to %lld", (long long)k->min, (long long)k->max);
		break;
	case CONF_DURATION:
		units_format_duration(lo, sizeof lo, k->min);
		units_format_duration(hi, sizeof hi, k->max);
		snprintf(out, n, " between %s and %s", lo, hi);
		break;
	case CONF_SIZE:
		units_format_size(lo, sizeof lo, (uint64_t)k->min);
		units_format_size(hi, sizeof hi, (uint64_t)k->max);
		snprintf(out, n, " between %s and %s", lo, hi);
		break;
	default: break;
	}
}

static bool in_range(const struct conf_key *k, int64_t v)
{
	return (k->min == 0 && k->max == 0) || (v >= k->min && v <= k->max);
}

static bool valid_name(const char *v)
{
	if (*v == '\0' || *v == '-' || strlen(v) > 63)
		return false;
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '-'))
			return false;
	return true;
}

static bool has_control(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return true;
	return false;
}

static int append_addr(const struct addr_hostport *a, void *data)
{
	struct buf *b = data;

	if (b->len > 0 && buf_append_char(b, ',') != PAT_OK)
		return PAT_ENOMEM;
	if (a->ipv6)
		return buf_printf(b, "[%s]:%u", a->host, a->port);
	return buf_printf(b, "%s:%u", a->host, a->port);
}

/* Parse value into key's slot. On a problem, record it (with the key's origin, which the
 * caller has already set) and return PAT_ECONFIG; the old value stays. */
static int assign(struct conf *c, size_t key, const char *value)
{
	const struct conf_key *k = &c->keys[key];
	void *p = slot(c, key);
	char range[96];
	const char *why = NULL;
	int64_t i;
	uint64_t u;
	bool b;
	int rv;

	describe_range(k, range, sizeof range);
	if (value[0] == '\0' && (is_string_type(k->type) || k->type == CONF_SECRET_FILE)) {
		/* "key =" with nothing after it unsets an optional key. */
		clear_value(c, key);
		c->src[key].set = false;
		return PAT_OK;
	}
	switch (k->type) {
	case CONF_INT:
		rv = units_parse_int(value, INT64_MIN, INT64_MAX, &i);
		if (rv != PAT_OK || !in_range(k, i))
			return conf_key_error(c, key, "\"%s\" is %s; expected a whole number%s", value,
					      rv == PAT_EINVAL ? "not a number" : "out of range", range);
		*(int64_t *)p = i;
		break;
	case CONF_BOOL:
		if (units_parse_bool(value, &b) != PAT_OK)
			return conf_key_error(c, key, "\"%s\" is not a boolean; expected true or false (or yes/no, on/off, 1/0)", value);
		*(bool *)p = b;
		break;
	case CONF_DURATION:
		rv = units_parse_duration(value, &i);
		if (rv != PAT_OK || !in_range(k, i))
			return conf_key_error(c, key, "\"%s\" is %s; expected a duration such as 30s, 5m, 1h30m or 250ms%s",
					      value, rv == PAT_OK ? "out of range" : "not a duration", range);
		*(int64_t *)p = i;
		break;
	case CONF_SIZE:
		rv = units_parse_size(value, &u);
		if (rv != PAT_OK || u > INT64_MAX || !in_range(k, (int64_t)u))
			return conf_key_error(c, key, "\"%s\" is %s; expected a size such as 25MB, 512KiB or 1048576 (bytes)%s",
					      value, rv == PAT_EINVAL ? "not a size" : "out of range", range);
		*(uint64_t *)p = u;
		break;
	case CONF_ENUM: {
		struct buf list = BUF_INIT;

		for (size_t j = 0; k->choices[j] != NULL; j++) {
			if (str_eq_nocase(value, k->choices[j])) {
				*(int *)p = (int)j;
				goto done;
			}
		}
		for (size_t j = 0; k->choices[j] != NULL; j++)
			buf_printf(&list, "%s%s", j > 0 ? ", " : "", k->choices[j]);
		rv = conf_key_error(c, key, "\"%s\" is not allowed; expected one of: %s", value, buf_str(&list));
		buf_free(&list);
		return rv;
	}
	case CONF_ADDRESS: {
		struct addr_hostport a;
		struct buf norm = BUF_INIT;

		if (addr_parse(value, (k->flags & CONF_F_PORT_ZERO) != 0, &a, &why) != PAT_OK)
			return conf_key_error(c, key, "\"%s\" is not an address (%s); expected HOST:PORT such as 127.0.0.1:1025 or [::1]:1025",
					      value, why);
		if (append_addr(&a, &norm) != PAT_OK)
			return PAT_ENOMEM;
		clear_value(c, key);
		*(char **)p = buf_detach(&norm);
		break;
	}
	case CONF_ADDRESS_LIST: {
		struct buf norm = BUF_INIT;

		rv = addr_parse_list(value, false, append_addr, &norm, &why);
		if (rv != PAT_OK) {
			buf_free(&norm);
			if (rv == PAT_ENOMEM)
				return rv;
			return conf_key_error(c, key, "\"%s\" is not a list of addresses (%s); expected HOST:PORT,HOST:PORT such as 10.0.0.1:9001,10.0.0.2:9001",
					      value, why);
		}
		clear_value(c, key);
		*(char **)p = buf_detach(&norm);
		break;
	}
	case CONF_NAME:
		if (!valid_name(value))
			return conf_key_error(c, key, "\"%s\" is not a valid name; expected lower-case letters, digits and '-' (at most 63), such as us-east",
					      value);
		goto string;
	case CONF_STRING:
	case CONF_PATH:
		if (has_control(value))
			return conf_key_error(c, key, "the value contains control characters; expected %s",
					      k->type == CONF_PATH ? "a path" : "printable text");
	string: {
		char *copy = mem_strdup(value);

		if (copy == NULL)
			return PAT_ENOMEM;
		clear_value(c, key);
		*(char **)p = copy;
		break;
	}
	case CONF_SECRET_FILE: {
		char *copy;

		if (has_control(value))
			return conf_key_error(c, key, "the value contains control characters; expected the path of a file holding the secret");
		copy = mem_strdup(value);
		if (copy == NULL)
			return PAT_ENOMEM;
		clear_value(c, key);
		((struct conf_secret *)p)->path = copy;
		break;
	}
	}
done:
	c->src[key].set = true;
	return PAT_OK;
}

/* Set a key from a layer: record the origin first, so that errors name it. */
static int set_from(struct conf *c, size_t key, const char *value, enum conf_origin origin,
		    int line, const char *name)
{
	struct conf_source old = c->src[key];
	char *copy = NULL;
	int rv;

	if (name != NULL && (copy = mem_strdup(name)) == NULL)
		return PAT_ENOMEM;
	c->src[key].origin = origin;
	c->src[key].line = line;
	c->src[key].name = copy;
	rv = assign(c, key, value);
	if (rv != PAT_OK) {
		/* The bad value was not applied: the key keeps its previous value and origin. */
		mem_free(copy);
		c->src[key] = old;
		return rv;
	}
	mem_free(old.name);
	return PAT_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

int conf_init(struct conf *c, const struct conf_key *keys, size_t n_keys, void *target)
{
	memset(c, 0, sizeof *c);
	c->keys = keys;
	c->n_keys = n_keys;
	c->target = target;
	c->max_line = INI_LINE - 2;
	c->src = mem_calloc(n_keys, sizeof *c->src);
	if (c->src == NULL)
		return PAT_ENOMEM;
	for (size_t i = 0; i < n_keys; i++) {
		int rv;

		if (keys[i].dflt == NULL)
			continue;
		rv = assign(c, i, keys[i].dflt);
		if (rv != PAT_OK)
			return rv;
	}
	return PAT_OK;
}

void conf_close(struct conf *c)
{
	for (size_t i = 0; c->src != NULL && i < c->n_keys; i++) {
		clear_value(c, i);
		mem_free(c->src[i].name);
	}
	for (size_t i = 0; i < c->n_errors; i++)
		mem_free(c->errors[i]);
	mem_free(c->errors);
	mem_free(c->src);
	mem_free(c->file);
	memset(c, 0, sizeof *c);
}

int conf_find(const struct conf *c, const char *section, const char *name)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (strcmp(c->keys[i].section, section) == 0 && strcmp(c->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool conf_is_set(const struct conf *c, const char *section, const char *name)
{
	int i = conf_find(c, section, name);

	return i >= 0 && c->src[i].set;
}

static bool known_section(const struct conf *c, const char *section)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (strcmp(c->keys[i].section, section) == 0)
			return true;
	return false;
}

static void list_sections(const struct conf *c, struct buf *out)
{
	for (size_t i = 0; i < c->n_keys; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(c->keys[j].section, c->keys[i].section) == 0;
		if (!seen)
			buf_printf(out, "%s%s", out->len > 0 ? ", " : "", c->keys[i].section);
	}
}

static void list_keys(const struct conf *c, const char *section, struct buf *out)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (strcmp(c->keys[i].section, section) == 0)
			buf_printf(out, "%s%s", out->len > 0 ? ", " : "", c->keys[i].name);
}

static int unknown_key(struct conf *c, const char *prefix, const char *section, const char *name)
{
	struct buf keys = BUF_INIT;

	list_keys(c, section, &keys);
	conf_error(c, "%sunknown key \"%s\" in section [%s]; expected one of: %s", prefix, name,
		   section, buf_str(&keys));
	buf_free(&keys);
	return PAT_ECONFIG;
}

/* ---- the INI file ---------------------------------------------------------------------- */

struct reader {
	struct conf *c;
	FILE *f;
	char *line;           /* getline's buffer */
	size_t cap;
	int lineno;           /* the line just handed to inih */
	bool indented;        /* that line starts with white space: a continuation for inih */
	bool section_known;   /* the current section is one of ours */
	int prev_key;         /* key set by the previous line, for continuations, or -1 */
	int prev_line;
};

static char *read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	ssize_t n = getline(&r->line, &r->cap, r->f);
	char *t;

	if (n < 0)
		return NULL;
	r->lineno++;
	r->indented = n > 0 && (r->line[0] == ' ' || r->line[0] == '\t');
	if (memchr(r->line, '\0', (size_t)n) != NULL) {
		conf_error(r->c, "%s:%d: the line contains a NUL byte; expected text", r->c->file, r->lineno);
		goto blank;
	}
	while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
		r->line[--n] = '\0';
	if ((size_t)n > r->c->max_line || n >= num - 1) {
		conf_error(r->c, "%s:%d: the line is %zd characters long; at most %zu are allowed",
			   r->c->file, r->lineno, n, r->c->max_line);
		goto blank;
	}
	t = r->line;
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t == '[') {
		char *end = strchr(t, ']');

		if (end != NULL) {
			char name[INI_LINE];
			size_t len = (size_t)(end - t - 1);

			memcpy(name, t + 1, len);
			name[len] = '\0';
			r->section_known = known_section(r->c, name);
			r->prev_key = -1;
			if (!r->section_known) {
				struct buf list = BUF_INIT;

				list_sections(r->c, &list);
				conf_error(r->c, "%s:%d: unknown section [%s]; expected one of: %s", r->c->file,
					   r->lineno, name, buf_str(&list));
				buf_free(&list);
			}
		}
	}
	memcpy(str, r->line, (size_t)n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
blank:
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct reader *r = user;
	struct conf *c = r->c;
	char prefix[512];
	int key;

	snprintf(prefix, sizeof prefix, "%s:%d: ", c->file, r->lineno);
	if (section[0] == '\0') {
		conf_error(c, "%skey \"%s\" is outside any section; put it under a [section] header", prefix, name);
		return 1;
	}
	if (!r->section_known)
		return 1; /* already reported at the section header */
	key = conf_find(c, section, name);
	if (key < 0) {
		unknown_key(c, prefix, section, name);
		return 1;
	}
	if (r->indented && key == r->prev_key && r->lineno == r->prev_line + 1) {
		/* inih's continuation line: only lists may span lines. */
		char *joined;

		r->prev_line = r->lineno;
		if (c->keys[key].type != CONF_ADDRESS_LIST) {
			conf_error(c, "%s[%s] %s: only lists may continue on an indented line", prefix, section, name);
			return 1;
		}
		joined = str_printf("%s,%s", *(char **)slot(c, key) ? *(char **)slot(c, key) : "", value);
		if (joined == NULL)
			return 0;
		set_from(c, (size_t)key, joined, CONF_FROM_FILE, c->src[key].line, NULL);
		mem_free(joined);
		return 1;
	}
	if (c->src[key].origin == CONF_FROM_FILE) {
		conf_error(c, "%s[%s] %s is set twice (first on line %d)", prefix, section, name, c->src[key].line);
		return 1;
	}
	r->prev_key = key;
	r->prev_line = r->lineno;
	set_from(c, (size_t)key, value, CONF_FROM_FILE, r->lineno, NULL);
	return 1;
}

int conf_load_file(struct conf *c, const char *path)
{
	struct reader r = { .c = c, .prev_key = -1 };
	size_t before = c->n_errors;
	int rv;

	mem_free(c->file);
	c->file = mem_strdup(path);
	if (c->file == NULL)
		return PAT_ENOMEM;
	r.f = fopen(path, "r");
	if (r.f == NULL) {
		conf_error(c, "%s: cannot read the configuration file: %s", path, strerror(errno));
		return PAT_EIO;
	}
	rv = ini_parse_stream(read_line, &r, on_key, &r);
	if (rv > 0)
		conf_error(c, "%s:%d: syntax error; expected [section], key = value, or a comment starting with ; or #",
			   path, rv);
	else if (rv < 0)
		conf_error(c, "%s: cannot parse the configuration file", path);
	if (ferror(r.f))
		conf_error(c, "%s: read error: %s", path, strerror(errno));
	free(r.line);
	fclose(r.f);
	return c->n_errors > before ? PAT_ECONFIG : PAT_OK;
}

/* ---- environment and flags ------------------------------------------------------------- */

/* Does NAME (without the prefix) spell SECTION_KEY, comparing case-insensitively? */
static bool env_matches(const char *name, size_t len, const char *section, const char *key)
{
	size_t sl = strlen(section), kl = strlen(key);
	char want[128];

	if (sl + 1 + kl != len || len >= sizeof want)
		return false;
	snprintf(want, sizeof want, "%s_%s", section, key);
	for (size_t i = 0; i < len; i++) {
		char a = name[i], b = want[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

int conf_load_env(struct conf *c, const char *prefix, char *const *envp)
{
	size_t plen = strlen(prefix), before = c->n_errors;

	for (size_t e = 0; envp != NULL && envp[e] != NULL; e++) {
		const char *var = envp[e], *eq = strchr(var, '=');
		const char *name = var + plen;
		size_t nlen;
		char varname[256];
		bool matched = false;

		if (eq == NULL || strncmp(var, prefix, plen) != 0)
			continue;
		nlen = (size_t)(eq - name);
		snprintf(varname, sizeof varname, "%.*s", (int)(eq - var), var);
		for (size_t k = 0; k < c->n_keys && !matched; k++) {
			if (env_matches(name, nlen, c->keys[k].section, c->keys[k].name)) {
				matched = true;
				if (set_from(c, k, eq + 1, CONF_FROM_ENV, 0, varname) == PAT_ENOMEM)
					return PAT_ENOMEM;
			}
		}
		if (matched)
			continue;
		/* An unknown key of a known section is a typo of ours to report. */
		for (size_t k = 0; k < c->n_keys; k++) {
			size_t sl = strlen(c->keys[k].section);
			char section[64];

			if (nlen > sl && name[sl] == '_' && sl < sizeof section) {
				for (size_t i = 0; i < sl; i++)
					section[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
				section[sl] = '\0';
				if (strcmp(section, c->keys[k].section) == 0) {
					char prefix_text[300], key[128];

					snprintf(prefix_text, sizeof prefix_text, "environment %s: ", varname);
					snprintf(key, sizeof key, "%.*s", (int)(nlen - sl - 1), name + sl + 1);
					unknown_key(c, prefix_text, section, str_lower(key));
					break;
				}
			}
		}
	}
	return c->n_errors > before ? PAT_ECONFIG : PAT_OK;
}

int conf_set(struct conf *c, const char *dotted_key, const char *value, const char *flag)
{
	const char *dot = strchr(dotted_key, '.');
	char section[64];
	int key;

	if (dot == NULL || (size_t)(dot - dotted_key) >= sizeof section) {
		conf_error(c, "flag %s: \"%s\" is not a key; expected SECTION.KEY such as smtp.listen", flag, dotted_key);
		return PAT_ECONFIG;
	}
	memcpy(section, dotted_key, (size_t)(dot - dotted_key));
	section[dot - dotted_key] = '\0';
	if (!known_section(c, section)) {
		struct buf list = BUF_INIT;

		list_sections(c, &list);
		conf_error(c, "flag %s: unknown section [%s]; expected one of: %s", flag, section, buf_str(&list));
		buf_free(&list);
		return PAT_ECONFIG;
	}
	key = conf_find(c, section, dot + 1);
	if (key < 0) {
		char prefix[128];

		snprintf(prefix, sizeof prefix, "flag %s: ", flag);
		return unknown_key(c, prefix, section, dot + 1);
	}
	return set_from(c, (size_t)key, value, CONF_FROM_FLAG, 0, flag);
}

/* ---- the last step --------------------------------------------------------------------- */

static int read_secret(struct conf *c, size_t key)
{
	struct conf_secret *s = slot(c, key);
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path = s->path, *joined = NULL;
	struct stat st;
	FILE *f;
	size_t n;

	if (path == NULL)
		return PAT_OK;
	if (path[0] != '/' && dir != NULL && dir[0] != '\0') {
		joined = str_printf("%s/%s", dir, path);
		if (joined == NULL)
			return PAT_ENOMEM;
		path = joined;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		conf_key_error(c, key, "cannot read secret file \"%s\": %s", path, strerror(errno));
		mem_free(joined);
		return PAT_ECONFIG;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG) {
		conf_key_error(c, key, "\"%s\" is not a regular file; expected a file holding the secret", path);
		goto fail;
	}
	if (st.st_size > (off_t)SECRET_MAX) {
		conf_key_error(c, key, "\"%s\" is larger than 1MiB; expected a file holding the secret", path);
		goto fail;
	}
	if ((st.st_mode & 0077) != 0)
		log_warn("secret file is readable by other users", "key=%s.%s file=%s mode=%04o",
			 c->keys[key].section, c->keys[key].name, path, (unsigned)(st.st_mode & 07777));
	s->value = mem_alloc(SECRET_MAX + 1);
	if (s->value == NULL) {
		fclose(f);
		mem_free(joined);
		return PAT_ENOMEM;
	}
	n = fread(s->value, 1, SECRET_MAX, f);
	if (n > 0 && s->value[n - 1] == '\n')
		n--;
	if (n > 0 && s->value[n - 1] == '\r')
		n--;
	s->value[n] = '\0';
	s->len = n;
	if (n == 0) {
		conf_key_error(c, key, "secret file \"%s\" is empty", path);
		goto fail;
	}
	fclose(f);
	mem_free(joined);
	return PAT_OK;
fail:
	fclose(f);
	mem_free(joined);
	return PAT_ECONFIG;
}

int conf_finish(struct conf *c, unsigned roles, const char *role_name,
		int (*rules)(struct conf *c, void *data), void *data)
{
	size_t before = c->n_errors;

	for (size_t i = 0; i < c->n_keys; i++) {
		const struct conf_key *k = &c->keys[i];
		char env[128];

		if ((k->required & roles) == 0 || c->src[i].set)
			continue;
		snprintf(env, sizeof env, "PAT_%s_%s", k->section, k->name);
		for (char *p = env; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		conf_error(c, "%s%s[%s] %s is required by %s but not set; set it in the configuration file, with %s, or with --set %s.%s=VALUE (%s)",
			   c->file != NULL ? c->file : "", c->file != NULL ? ": " : "", k->section, k->name,
			   role_name, env, k->section, k->name, k->help);
	}
	if (rules != NULL && rules(c, data) == PAT_ENOMEM)
		return PAT_ENOMEM;
	for (size_t i = 0; i < c->n_keys; i++) {
		if (c->keys[i].type == CONF_SECRET_FILE && c->src[i].set) {
			int rv = read_secret(c, i);

			if (rv == PAT_ENOMEM)
				return rv;
		}
	}
	return c->n_errors > before ? PAT_ECONFIG : PAT_OK;
}

/* ---- showing --------------------------------------------------------------------------- */

const char *conf_origin_text(const struct conf *c, size_t key, char *out, size_t n)
{
	const struct conf_source *s = &c->src[key];

	switch (s->origin) {
	case CONF_FROM_FILE: snprintf(out, n, "%s:%d", c->file, s->line); break;
	case CONF_FROM_ENV: snprintf(out, n, "environment %s", s->name); break;
	case CONF_FROM_FLAG: snprintf(out, n, "flag %s", s->name); break;
	default: snprintf(out, n, "default"); break;
	}
	return out;
}

const char *conf_value_text(const struct conf *c, size_t key, char *out, size_t n)
{
	const struct conf_key *k = &c->keys[key];
	const void *p = (const char *)c->target + k->offset;

	out[0] = '\0';
	if (!c->src[key].set)
		return out;
	switch (k->type) {
	case CONF_INT: snprintf(out, n, "%lld", (long long)*(const int64_t *)p); break;
	case CONF_BOOL: snprintf(out, n, "%s", *(const bool *)p ? "true" : "false"); break;
	case CONF_DURATION: units_format_duration(out, n, *(const int64_t *)p); break;
	case CONF_SIZE: units_format_size(out, n, *(const uint64_t *)p); break;
	case CONF_ENUM: snprintf(out, n, "%s", k->choices[*(const int *)p]); break;
	case CONF_SECRET_FILE: return ((const struct conf_secret *)p)->path;
	default: return *(char *const *)p != NULL ? *(char *const *)p : out;
	}
	return out;
}

int conf_show(const struct conf *c, struct buf *out)
{
	const char *section = NULL;

	for (size_t i = 0; i < c->n_keys; i++) {
		const struct conf_key *k = &c->keys[i];
		char value[64], origin[320];
		const char *v = conf_value_text(c, i, value, sizeof value);
		int rv;

		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			buf_printf(out, "%s[%s]\n", i > 0 ? "\n" : "", section);
		}
		conf_origin_text(c, i, origin, sizeof origin);
		if (!c->src[i].set)
			rv = buf_printf(out, "# %s =  (unset; %s)\n", k->name, k->help);
		else if (k->type == CONF_SECRET_FILE)
			rv = buf_printf(out, "%s = %s  ; %s; secret contents not shown\n", k->name, v, origin);
		else
			rv = buf_printf(out, "%s = %s  ; %s\n", k->name, v, origin);
		if (rv != PAT_OK)
			return rv;
	}
	return PAT_OK;
}

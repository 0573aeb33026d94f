/* config: typed, validated configuration from one INI file, environment variables and flags.
 *
 * The engine knows nothing of Pat's own keys: the program describes them in a table of
 * `struct conf_key` rows (section, name, type, where the parsed value lives in the program's
 * settings struct, default, bounds), and the engine fills that struct in layers, each
 * overriding the one before:
 *
 *     built-in defaults  <  INI file  <  PAT_<SECTION>_<KEY> environment variables  <  flags
 *
 * remembering for every key where its value came from. Every problem is collected rather than
 * stopping at the first, and each message names its origin (file and line, variable or flag),
 * the key, the value and what was expected. Secrets are never values: a CONF_SECRET_FILE key
 * holds a path, and conf_finish() reads the file (relative paths are looked up in systemd's
 * $CREDENTIALS_DIRECTORY when it is set); conf_show() prints the path, never the contents. */
#ifndef PAT_LIB_CONFIG_H
#define PAT_LIB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum conf_type {
	CONF_STRING,       /* char *: free text without control characters */
	CONF_INT,          /* int64_t within [min, max] */
	CONF_BOOL,         /* bool */
	CONF_DURATION,     /* int64_t milliseconds within [min, max] */
	CONF_SIZE,         /* uint64_t bytes within [min, max] */
	CONF_ADDRESS,      /* char *: HOST:PORT, checked with addr_parse() */
	CONF_ADDRESS_LIST, /* char *: HOST:PORT,HOST:PORT, stored without spaces */
	CONF_ENUM,         /* int: index into choices */
	CONF_NAME,         /* char *: lower-case letters, digits and '-' (regions, tenants) */
	CONF_PATH,         /* char *: a filesystem path */
	CONF_SECRET_FILE,  /* struct conf_secret: a path whose contents conf_finish() reads */
};

/* Flags of a key. */
#define CONF_F_PORT_ZERO 0x1u /* CONF_ADDRESS: port 0 (kernel's choice) is allowed */

/* One configuration key. */
struct conf_key {
	const char *section;        /* INI section, lower case: "smtp" */
	const char *name;           /* key within the section, lower case: "max_message_size" */
	enum conf_type type;        /* how the value is parsed and stored */
	size_t offset;              /* offsetof() the value in the settings struct */
	const char *dflt;           /* default, in file syntax; NULL: unset until given */
	int64_t min, max;           /* bounds for INT, DURATION (ms) and SIZE; both 0: none */
	const char *const *choices; /* CONF_ENUM: NULL-terminated list of accepted words */
	unsigned required;          /* bit mask of roles that need a value (see conf_finish) */
	unsigned flags;             /* CONF_F_* */
	const char *help;           /* one line saying what the key does */
};

/* The value of a CONF_SECRET_FILE key. */
struct conf_secret {
	char *path;  /* as configured (NULL: unset) */
	char *value; /* the file's contents after conf_finish(), one trailing newline removed */
	size_t len;  /* bytes in value */
};

/* Where a key's value came from. */
enum conf_origin {
	CONF_FROM_DEFAULT, /* the built-in default (or unset) */
	CONF_FROM_FILE,    /* the INI file, at a line */
	CONF_FROM_ENV,     /* an environment variable */
	CONF_FROM_FLAG,    /* a command-line flag */
};

struct conf_source {
	enum conf_origin origin; /* which layer set the value */
	int line;                /* CONF_FROM_FILE: the line */
	char *name;              /* CONF_FROM_ENV / CONF_FROM_FLAG: the variable or the flag */
	bool set;                /* the key has a value (a default counts) */
};

/* A configuration being assembled. */
struct conf {
	const struct conf_key *keys; /* the table, n_keys rows */
	size_t n_keys;
	void *target;               /* the settings struct the rows point into */
	struct conf_source *src;    /* one per key */
	char *file;                 /* path of the INI file loaded, or NULL */
	char **errors;              /* every problem found, in order */
	size_t n_errors;
	size_t max_line;            /* longest line the INI parser accepts */
};

/* Bind a key table to a zeroed settings struct and apply every default. PAT_ENOMEM, or
 * PAT_ECONFIG when a default itself is invalid (a bug in the table; see conf_error_at()). */
int conf_init(struct conf *c, const struct conf_key *keys, size_t n_keys, void *target);
/* Free everything, including the strings stored in the settings struct. */
void conf_close(struct conf *c);

/* Read an INI file. PAT_EIO when it cannot be read, PAT_ECONFIG when it holds errors; in both
 * cases the messages are in the error list. */
int conf_load_file(struct conf *c, const char *path);

/* Apply every variable of envp (NULL-terminated "NAME=value") named PREFIX<SECTION>_<KEY>, e.g.
 * PAT_SMTP_LISTEN. A variable naming a known section but no key of it is an error; variables
 * that name no section (PAT_TOKEN, say) belong to someone else and are left alone. */
int conf_load_env(struct conf *c, const char *prefix, char *const *envp);

/* Set "section.key" to value from a flag (flag is how the user wrote it, for messages). */
int conf_set(struct conf *c, const char *dotted_key, const char *value, const char *flag);

/* Last step: report required keys that are unset for any role in `roles` (role_name says who
 * needs them, "pat node"), run the program's cross-key rules (may be NULL; it reports through
 * conf_key_error()), and read secret files. PAT_ECONFIG when anything is wrong. */
int conf_finish(struct conf *c, unsigned roles, const char *role_name,
		int (*rules)(struct conf *c, void *data), void *data);

/* Index of a key, or -1. */
int conf_find(const struct conf *c, const char *section, const char *name);
/* True when the key has a value (from any layer, the default included). */
bool conf_is_set(const struct conf *c, const char *section, const char *name);
/* "default", "/etc/pat/pat.conf:12", "environment PAT_SMTP_LISTEN" or "flag --smtp". */
const char *conf_origin_text(const struct conf *c, size_t key, char *out, size_t n);

/* Record a problem with a key, prefixed with where its value came from. PAT_ECONFIG. */
int conf_key_error(struct conf *c, size_t key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a problem not tied to one key. PAT_ECONFIG. */
int conf_error(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conf_error_count(const struct conf *c);
const char *conf_error_at(const struct conf *c, size_t i);

/* Write the effective configuration as an INI file, each value commented with its origin;
 * secrets show their path only. */
int conf_show(const struct conf *c, struct buf *out);

/* The text of a key's current value in file syntax (secrets: their path), "" when unset. */
const char *conf_value_text(const struct conf *c, size_t key, char *out, size_t n);

#endif

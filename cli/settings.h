/* settings: Pat's configuration keys, their defaults and checks (the table lib/config reads). */
#ifndef PAT_CLI_SETTINGS_H
#define PAT_CLI_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

/* Roles: which program needs a key (a key required by a role must be set to run it). */
#define SETTINGS_ROLE_NODE 0x1u
#define SETTINGS_ROLE_GATEWAY 0x2u
#define SETTINGS_ROLE_SERVE 0x4u
#define SETTINGS_ROLE_ANOMALY 0x8u
#define SETTINGS_ROLE_NETSIM 0x10u

/* Auth modes of the SMTP listener. */
enum settings_smtp_auth { SMTP_AUTH_OFF, SMTP_AUTH_ANY, SMTP_AUTH_USERS };

/* Every configuration value, typed. docs/CONFIGURATION.md describes each key. */
struct pat_settings {
	struct {
		int level; /* enum log_level */
	} log;
	struct {
		int64_t id;      /* unique id of this node in the cluster */
		char *address;   /* HOST:PORT the dqlite node binds and announces */
		char *data_dir;  /* Raft log and snapshots */
		char *region;    /* failure domain */
		int64_t weight;  /* reported to the cluster for leader and role choices */
		char *join;      /* members to join through; NULL bootstraps a new cluster */
		int64_t snapshot_threshold; /* Raft entries between snapshots */
		int64_t snapshot_trailing;  /* Raft entries kept after a snapshot */
	} node;
	struct {
		int64_t voters;   /* voting members the leader maintains */
		int64_t standbys; /* standby members the leader maintains */
		int64_t network_latency; /* ms of one-way latency Raft timeouts scale with; 0: dqlite's */
	} cluster;
	struct {
		char *cluster; /* dqlite nodes to reach the leader through */
		char *region;  /* region the gateway serves */
	} gateway;
	struct {
		char *listen;                   /* SMTP listener */
		char *hostname;                 /* name in the greeting; NULL: the host's name */
		uint64_t max_message_size;      /* bytes, SIZE= and DATA limit */
		int64_t max_recipients;         /* RCPT TO per message */
		int64_t max_connections;        /* sessions at once */
		int64_t max_connections_per_ip; /* sessions at once from one client address */
		int64_t command_timeout;        /* ms a client may stay silent between commands */
		int64_t data_timeout;           /* ms a client may stay silent during DATA */
		char *tls_cert_file;            /* PEM certificate chain for STARTTLS */
		struct conf_secret tls_key;     /* PEM private key */
		int auth;                       /* enum settings_smtp_auth */
		struct conf_secret users;       /* "user:password[:tenant]" lines for auth = users */
		char *tenant;                   /* the listener's tenant */
		char *tenant_domains_file;      /* "domain tenant" lines */
		bool chaos;                     /* Mailpit's chaos triggers served and applied */
	} smtp;
	struct {
		char *listen;               /* HTTP listener (API, web UI, metrics) */
		char *tls_cert_file;        /* PEM certificate chain for HTTPS */
		struct conf_secret tls_key; /* PEM private key */
		bool allow_unauthenticated; /* permit a non-loopback listener without auth */
		uint64_t max_body_size;     /* bytes of a request body at most (413 above) */
		uint64_t max_header_size;   /* bytes of a request line and headers at most (431 above) */
		int64_t request_timeout;    /* ms a client may take to send a request, or stay idle */
		int64_t workers;            /* threads running the API's store calls */
	} http;
	struct {
		int64_t batch_max_rows;    /* messages per group-commit transaction */
		uint64_t batch_max_bytes;  /* bytes per group-commit transaction */
		uint64_t queue_max_bytes;  /* bytes waiting for the writer before SMTP stops reading */
		int64_t commit_timeout;    /* ms before a commit counts as failed (451) */
	} store;
	struct {
		char *watch;               /* metrics URLs the detector scrapes, comma-separated */
		int64_t interval;          /* ms between scrapes (one window) */
		int64_t baseline_windows;  /* windows in the rolling baseline */
		int64_t retrain_interval;  /* ms between retrainings */
		char *threshold;           /* forest score from which a window is anomalous, as written */
		char *alertmanager_url;    /* Alertmanager's base URL */
		char *webhook_url;         /* receives every anomaly record */
		char *hook_command;        /* executable run with the record on stdin */
		char *hook_url;            /* receives the record when a hook is due */
		int64_t hook_min_interval; /* ms between two hook runs for one kind */
		int64_t hook_timeout;      /* ms before the hook command is killed */
		bool in_serve;             /* pat serve runs the detector on its own /metrics */
		char *cluster;             /* nodes whose audit log records each action, or NULL */
	} anomaly;
	struct {
		char *listen;        /* addresses pat netsim accepts connections on */
		char *to;            /* where each listener's connections go, in the same order */
		char *profile;       /* named conditions: lan, 3g, satellite, congested, custom */
		int64_t latency;     /* ms one way (when set; else the profile's) */
		int64_t jitter;      /* ms (when set; else the profile's) */
		char *loss;          /* "1%" or "0.01"; NULL: the profile's */
		uint64_t bandwidth;  /* bytes per second per direction; 0: unlimited */
		char *reset;         /* probability a connection is reset; NULL: the profile's */
		int64_t stall;       /* ms a lost chunk is held beyond the latency */
		int64_t seed;        /* 0: from the clock */
		bool transparent;    /* find each connection's destination with SO_ORIGINAL_DST */
	} netsim;
};

extern const struct conf_key settings_keys[];
extern const size_t settings_n_keys;

/* The checks that involve several keys (certificate without key, auth without users, ...),
 * for conf_finish(). */
int settings_rules(struct conf *c, void *data);

/* A share written "1%" or "0.01", between 0 and 1: PAT_OK or PAT_EINVAL. */
int settings_parse_share(const char *text, double *out);

#endif

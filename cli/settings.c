/* settings: see settings.h. One row per key; adding a key is adding a row and a field. The
 * defaults give a working single-node Pat on loopback with no file at all. */
#include "cli/settings.h"

#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "lib/netsim_sched.h"
#include "lib/str.h"

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const smtp_auth_modes[] = { "off", "any", "users", NULL };

#define F(field) offsetof(struct pat_settings, field)
#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

const struct conf_key settings_keys[] = {
	{ "log", "level", CONF_ENUM, F(log.level), "info", .choices = log_levels,
	  .help = "least severe event written to stderr: debug, info, warn or error" },

	{ "node", "id", CONF_INT, F(node.id), NULL, 1, INT64_MAX, .required = SETTINGS_ROLE_NODE,
	  .help = "this node's unique id in the cluster, a whole number from 1" },
	{ "node", "address", CONF_ADDRESS, F(node.address), "127.0.0.1:9001",
	  .help = "HOST:PORT the node's Raft and dqlite endpoint binds to and announces" },
	{ "node", "data_dir", CONF_PATH, F(node.data_dir), "pat-data",
	  .help = "directory of the node's Raft log and snapshots" },
	{ "node", "region", CONF_NAME, F(node.region), "local",
	  .help = "region (failure domain) the node runs in, such as us-east" },
	{ "node", "weight", CONF_INT, F(node.weight), "0", 0, 1000000,
	  .help = "weight the node reports to the cluster for leader and role choices" },
	{ "node", "snapshot_threshold", CONF_INT, F(node.snapshot_threshold), "1024", 64, 1000000,
	  .help = "Raft log entries between two snapshots of the database" },
	{ "node", "snapshot_trailing", CONF_INT, F(node.snapshot_trailing), "1024", 64, 1000000,
	  .help = "Raft log entries kept (on disk and in memory) after a snapshot, for followers that lag" },
	{ "node", "join", CONF_ADDRESS_LIST, F(node.join), NULL,
	  .help = "addresses of existing members to join through; unset bootstraps a new cluster" },

	{ "cluster", "voters", CONF_INT, F(cluster.voters), "3", 1, 15,
	  .help = "voting members the leader keeps, spread over regions" },
	{ "cluster", "standbys", CONF_INT, F(cluster.standbys), "3", 0, 15,
	  .help = "standby members the leader keeps, ready to become voters" },
	{ "cluster", "network_latency", CONF_DURATION, F(cluster.network_latency), NULL, 1, 10 * SEC,
	  .help = "one-way network latency between nodes that Raft's heartbeat (1.5x) and election (15x) timeouts scale with; unset: dqlite's defaults" },

	{ "gateway", "cluster", CONF_ADDRESS_LIST, F(gateway.cluster), NULL,
	  .required = SETTINGS_ROLE_GATEWAY,
	  .help = "addresses of cluster nodes the gateway finds the leader through" },
	{ "gateway", "region", CONF_NAME, F(gateway.region), "local",
	  .help = "region the gateway serves, recorded on every message it accepts" },

	{ "smtp", "listen", CONF_ADDRESS, F(smtp.listen), "127.0.0.1:1025", .flags = CONF_F_PORT_ZERO,
	  .help = "HOST:PORT of the SMTP listener (port 0: any free port)" },
	{ "smtp", "hostname", CONF_STRING, F(smtp.hostname), NULL,
	  .help = "name announced in the greeting and Received headers; unset: the host's name" },
	{ "smtp", "max_message_size", CONF_SIZE, F(smtp.max_message_size), "25MiB", KIB, GIB,
	  .help = "largest message accepted (advertised with SIZE)" },
	{ "smtp", "max_recipients", CONF_INT, F(smtp.max_recipients), "1000", 1, 100000,
	  .help = "recipients accepted per message" },
	{ "smtp", "max_connections", CONF_INT, F(smtp.max_connections), "1024", 1, 1000000,
	  .help = "SMTP sessions open at once" },
	{ "smtp", "max_connections_per_ip", CONF_INT, F(smtp.max_connections_per_ip), "256", 1, 1000000,
	  .help = "SMTP sessions open at once from one client address" },
	{ "smtp", "command_timeout", CONF_DURATION, F(smtp.command_timeout), "5m", SEC, HOUR,
	  .help = "how long a client may stay silent between commands" },
	{ "smtp", "data_timeout", CONF_DURATION, F(smtp.data_timeout), "3m", SEC, HOUR,
	  .help = "how long a client may stay silent while sending a message" },
	{ "smtp", "tls_cert_file", CONF_PATH, F(smtp.tls_cert_file), NULL,
	  .help = "PEM certificate chain for STARTTLS" },
	{ "smtp", "tls_key_file", CONF_SECRET_FILE, F(smtp.tls_key), NULL,
	  .help = "PEM private key for STARTTLS (a secret)" },
	{ "smtp", "auth", CONF_ENUM, F(smtp.auth), "any", .choices = smtp_auth_modes,
	  .help = "AUTH: off (not offered), any (any credentials accepted) or users (users_file)" },
	{ "smtp", "users_file", CONF_SECRET_FILE, F(smtp.users), NULL,
	  .help = "file of user:password[:tenant] lines checked when auth = users (a secret)" },
	{ "smtp", "tenant", CONF_NAME, F(smtp.tenant), "default",
	  .help = "tenant of messages whose sender did not authenticate and whose recipient domain is not mapped" },
	{ "smtp", "tenant_domains_file", CONF_PATH, F(smtp.tenant_domains_file), NULL,
	  .help = "file of \"domain tenant\" lines: mail to a domain belongs to that tenant" },
	{ "smtp", "chaos", CONF_BOOL, F(smtp.chaos), "false",
	  .help = "Mailpit's chaos triggers: MAIL, RCPT and AUTH fail at the rates set with PUT /api/v1/chaos" },

	{ "http", "listen", CONF_ADDRESS, F(http.listen), "127.0.0.1:8025", .flags = CONF_F_PORT_ZERO,
	  .help = "HOST:PORT of the HTTP API, web UI and /metrics (port 0: any free port)" },
	{ "http", "tls_cert_file", CONF_PATH, F(http.tls_cert_file), NULL,
	  .help = "PEM certificate chain for HTTPS" },
	{ "http", "tls_key_file", CONF_SECRET_FILE, F(http.tls_key), NULL,
	  .help = "PEM private key for HTTPS (a secret)" },
	{ "http", "allow_unauthenticated", CONF_BOOL, F(http.allow_unauthenticated), "false",
	  .help = "permit a listener on a non-loopback address with no authentication" },
	{ "http", "max_body_size", CONF_SIZE, F(http.max_body_size), "4MiB", KIB, GIB,
	  .help = "largest request body accepted (413 above it)" },
	{ "http", "max_header_size", CONF_SIZE, F(http.max_header_size), "64KiB", KIB, 256 * KIB,
	  .help = "largest request line and headers accepted (431 above it)" },
	{ "http", "request_timeout", CONF_DURATION, F(http.request_timeout), "30s", SEC, HOUR,
	  .help = "how long a client may take to send a request, or stay idle on a kept-alive connection" },
	{ "http", "workers", CONF_INT, F(http.workers), "4", 1, 256,
	  .help = "threads that run the API's store calls, each with its own connection to the leader" },

	{ "store", "batch_max_rows", CONF_INT, F(store.batch_max_rows), "512", 1, 100000,
	  .help = "messages written in one group-commit transaction at most" },
	{ "store", "batch_max_bytes", CONF_SIZE, F(store.batch_max_bytes), "16MiB", 64 * KIB, GIB,
	  .help = "bytes written in one group-commit transaction at most" },
	{ "store", "queue_max_bytes", CONF_SIZE, F(store.queue_max_bytes), "256MiB", MIB, 64 * GIB,
	  .help = "bytes waiting for the writer before SMTP stops reading from clients" },
	{ "store", "commit_timeout", CONF_DURATION, F(store.commit_timeout), "10s", 100, 10 * MIN,
	  .help = "how long a commit may take before its messages are answered 451" },

	{ "anomaly", "watch", CONF_STRING, F(anomaly.watch), NULL, .required = SETTINGS_ROLE_ANOMALY,
	  .help = "metrics URLs the detector scrapes, comma-separated (http://gateway:8025/metrics,...)" },
	{ "anomaly", "interval", CONF_DURATION, F(anomaly.interval), "10s", 100, HOUR,
	  .help = "time between two scrapes of a target: the length of one window" },
	{ "anomaly", "baseline_windows", CONF_INT, F(anomaly.baseline_windows), "360", 8, 100000,
	  .help = "recent windows the detector keeps as its baseline (360 x 10s = one hour)" },
	{ "anomaly", "retrain_interval", CONF_DURATION, F(anomaly.retrain_interval), "5m", 100, 24 * HOUR,
	  .help = "how often the isolation forests are trained again on the baseline" },
	{ "anomaly", "threshold", CONF_STRING, F(anomaly.threshold), "0.6",
	  .help = "forest score (between 0 and 1) from which a departed window is an anomaly" },
	{ "anomaly", "alertmanager_url", CONF_STRING, F(anomaly.alertmanager_url), NULL,
	  .help = "Alertmanager's base URL (http://host:9093); anomalies are POSTed to /api/v2/alerts" },
	{ "anomaly", "webhook_url", CONF_STRING, F(anomaly.webhook_url), NULL,
	  .help = "URL every anomaly record is POSTed to as JSON" },
	{ "anomaly", "hook_command", CONF_PATH, F(anomaly.hook_command), NULL,
	  .help = "executable run with the anomaly record on its standard input (a scaling hook)" },
	{ "anomaly", "hook_url", CONF_STRING, F(anomaly.hook_url), NULL,
	  .help = "URL the anomaly record is POSTed to when a scaling hook is due" },
	{ "anomaly", "hook_min_interval", CONF_DURATION, F(anomaly.hook_min_interval), "5m", 0, 24 * HOUR,
	  .help = "least time between two scaling hooks for the same kind of anomaly" },
	{ "anomaly", "cluster", CONF_ADDRESS_LIST, F(anomaly.cluster), NULL,
	  .help = "cluster nodes whose audit log records every alert sent and hook run (pat serve: its own node)" },
	{ "anomaly", "in_serve", CONF_BOOL, F(anomaly.in_serve), "true",
	  .help = "pat serve runs the detector itself, on its own /metrics (or on [anomaly] watch when set)" },
	{ "anomaly", "hook_timeout", CONF_DURATION, F(anomaly.hook_timeout), "30s", 100, HOUR,
	  .help = "how long the hook command may run before it is killed" },

	{ "netsim", "listen", CONF_ADDRESS_LIST, F(netsim.listen), NULL, .required = SETTINGS_ROLE_NETSIM,
	  .help = "addresses pat netsim accepts connections on, comma-separated" },
	{ "netsim", "to", CONF_ADDRESS_LIST, F(netsim.to), NULL,
	  .help = "where connections to each listen address go, in the same order (not with transparent)" },
	{ "netsim", "profile", CONF_STRING, F(netsim.profile), "LAN",
	  .help = "network conditions: LAN, 3G, Satellite, Congested or custom (the keys below change them)" },
	{ "netsim", "latency", CONF_DURATION, F(netsim.latency), NULL, 0, 60 * SEC,
	  .help = "delay added to data in each direction; unset: the profile's" },
	{ "netsim", "jitter", CONF_DURATION, F(netsim.jitter), NULL, 0, 60 * SEC,
	  .help = "a uniform sample in [-jitter, +jitter] added to the latency (the sum clamped at 0); unset: the profile's" },
	{ "netsim", "loss", CONF_STRING, F(netsim.loss), NULL,
	  .help = "share of chunks held as if lost and retransmitted, such as 1% or 0.01; unset: the profile's" },
	{ "netsim", "bandwidth", CONF_SIZE, F(netsim.bandwidth), NULL, 0, 64 * GIB,
	  .help = "bytes per second in each direction of a connection (1MiB = 8 Mbit/s); unset or 0: unlimited" },
	{ "netsim", "reset", CONF_STRING, F(netsim.reset), NULL,
	  .help = "share of connections reset within their first 5 seconds, such as 0.5%; unset: none" },
	{ "netsim", "stall", CONF_DURATION, F(netsim.stall), "200ms", 0, 60 * SEC,
	  .help = "how long a lost chunk is held beyond the latency, as a retransmission would be" },
	{ "netsim", "seed", CONF_INT, F(netsim.seed), "0", 0, INT64_MAX,
	  .help = "seed of the random draws (0: from the clock); the same seed repeats a run" },
	{ "netsim", "transparent", CONF_BOOL, F(netsim.transparent), "false",
	  .help = "take each connection's destination from iptables REDIRECT (SO_ORIGINAL_DST, IPv4) instead of to" },
};

const size_t settings_n_keys = sizeof settings_keys / sizeof settings_keys[0];

/* A certificate and its key go together. */
static void pair(struct conf *c, const char *section)
{
	bool cert = conf_is_set(c, section, "tls_cert_file");
	bool key = conf_is_set(c, section, "tls_key_file");

	if (cert && !key)
		conf_key_error(c, (size_t)conf_find(c, section, "tls_cert_file"),
			       "a certificate needs its private key; set [%s] tls_key_file too", section);
	else if (key && !cert)
		conf_key_error(c, (size_t)conf_find(c, section, "tls_key_file"),
			       "a private key needs its certificate; set [%s] tls_cert_file too", section);
}

struct self_check {
	struct addr_hostport self; /* node.address */
	bool found;                /* node.join names it */
};

static int same_as_self(const struct addr_hostport *a, void *data)
{
	struct self_check *s = data;

	if (a->port == s->self.port && str_eq_nocase(a->host, s->self.host))
		s->found = true;
	return PAT_OK;
}

/* A URL key must name a scheme from `schemes` ("http://", ...; NULL-terminated). For a list,
 * every comma-separated item must. */
static void check_urls(struct conf *c, const char *key, const char *value, const char *const *schemes, const char *expected)
{
	while (value != NULL && *value != '\0') {
		size_t len = strcspn(value, ","), i;

		for (i = 0; schemes[i] != NULL; i++)
			if (len > strlen(schemes[i]) && strncmp(value, schemes[i], strlen(schemes[i])) == 0)
				break;
		if (schemes[i] == NULL) {
			conf_key_error(c, (size_t)conf_find(c, "anomaly", key), "\"%.*s\" is not a URL; expected %s",
				       (int)len, value, expected);
			return;
		}
		value += len;
		if (*value == ',')
			value++;
	}
}

/* A share written as a percentage ("1%", "0.5%") or a fraction ("0.01"), into [0, 1]. */
int settings_parse_share(const char *text, double *out)
{
	char *end;
	double v;

	if (text == NULL || text[0] == '\0')
		return PAT_EINVAL;
	v = strtod(text, &end);
	if (end == text)
		return PAT_EINVAL;
	if (*end == '%') {
		v /= 100.0;
		end++;
	}
	if (*end != '\0' || !(v >= 0 && v <= 1))
		return PAT_EINVAL;
	*out = v;
	return PAT_OK;
}

static void netsim_rules(struct conf *c, const struct pat_settings *s)
{
	static const char *const shares[] = { "loss", "reset", NULL };
	const char *values[] = { s->netsim.loss, s->netsim.reset };
	double v;

	for (size_t i = 0; shares[i] != NULL; i++)
		if (values[i] != NULL && settings_parse_share(values[i], &v) != PAT_OK)
			conf_key_error(c, (size_t)conf_find(c, "netsim", shares[i]),
				       "\"%s\" is not a share; expected a percentage such as 1%% or a fraction such as 0.01, from 0 to 1",
				       values[i]);
	if (s->netsim.profile != NULL && netsim_profile_find(s->netsim.profile) == NULL)
		conf_key_error(c, (size_t)conf_find(c, "netsim", "profile"),
			       "unknown profile \"%s\"; expected LAN, 3G, Satellite, Congested or custom", s->netsim.profile);
}

static void anomaly_rules(struct conf *c, const struct pat_settings *s)
{
	static const char *const web[] = { "http://", "https://", NULL };
	static const char *const scrape[] = { "http://", "https://", "file://", NULL };
	char *end;
	double t;

	check_urls(c, "watch", s->anomaly.watch, scrape, "http(s)://HOST:PORT/metrics or file:///PATH, comma-separated");
	check_urls(c, "alertmanager_url", s->anomaly.alertmanager_url, web, "http://HOST:PORT or https://...");
	check_urls(c, "webhook_url", s->anomaly.webhook_url, web, "http://... or https://...");
	check_urls(c, "hook_url", s->anomaly.hook_url, web, "http://... or https://...");
	if (s->anomaly.threshold != NULL) {
		t = strtod(s->anomaly.threshold, &end);
		if (end == s->anomaly.threshold || *end != '\0' || !(t > 0 && t < 1))
			conf_key_error(c, (size_t)conf_find(c, "anomaly", "threshold"),
				       "\"%s\" is not a score; expected a number between 0 and 1 such as 0.6",
				       s->anomaly.threshold);
	}
}

int settings_rules(struct conf *c, void *data)
{
	const struct pat_settings *s = c->target;

	(void)data;
	pair(c, "smtp");
	pair(c, "http");
	anomaly_rules(c, s);
	netsim_rules(c, s);
	if (s->smtp.auth == SMTP_AUTH_USERS && s->smtp.users.path == NULL)
		conf_key_error(c, (size_t)conf_find(c, "smtp", "auth"),
			       "auth = users needs the users; set [smtp] users_file to a file of user:password lines");
	if (s->node.join != NULL && s->node.address != NULL) {
		struct self_check check = { .found = false };

		if (addr_parse(s->node.address, false, &check.self, NULL) == PAT_OK &&
		    addr_parse_list(s->node.join, false, same_as_self, &check, NULL) == PAT_OK && check.found)
			conf_key_error(c, (size_t)conf_find(c, "node", "join"),
				       "\"%s\" lists this node's own address %s; expected addresses of other members",
				       s->node.join, s->node.address);
	}
	return PAT_OK;
}

/* commands: the table of `pat` subcommands, with their options and help text. A subcommand
 * whose run is NULL is not part of this build: `pat help` marks it and running it says so. */
#include <stddef.h>

#include "cli/cli.h"

static const struct cli_option serve_options[] = {
	{ "--data", "DIR", "node.data_dir", "data directory" },
	{ "--smtp", "ADDR:PORT", "smtp.listen", "SMTP listener" },
	{ "--http", "ADDR:PORT", "http.listen", "HTTP listener (API)" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option sendmail_options[] = {
	{ "-t", NULL, NULL, "also send to the To, Cc and Bcc addresses of the headers" },
	{ "-f", "SENDER", NULL, "envelope sender (default: none, <>)" },
	{ "-i", NULL, NULL, "accepted for compatibility: the message always ends at end of input" },
	{ "-oi", NULL, NULL, "the same as -i" },
	{ "--smtp", "ADDR:PORT", "smtp.listen", "the gateway to deliver to" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option gateway_options[] = {
	{ "--cluster", "ADDR,...", "gateway.cluster", "cluster nodes to reach the leader through" },
	{ "--smtp", "ADDR:PORT", "smtp.listen", "SMTP listener" },
	{ "--http", "ADDR:PORT", "http.listen", "HTTP listener (API)" },
	{ "--region", "NAME", "gateway.region", "region this gateway serves" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option node_options[] = {
	{ "--id", "N", "node.id", "this node's id (1 bootstraps a new cluster)" },
	{ "--address", "HOST:PORT", "node.address", "address to bind and announce" },
	{ "--data", "DIR", "node.data_dir", "data directory" },
	{ "--region", "NAME", "node.region", "region (failure domain)" },
	{ "--join", "ADDR,...", "node.join", "existing members to join through" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option cluster_options[] = {
	{ "--cluster", "ADDR,...", "gateway.cluster", "nodes to reach the leader through (default: [node] address)" },
	{ "--json", NULL, NULL, "status, rtt: print JSON" },
	{ "--force", NULL, NULL, "restore: replace tables the cluster already has" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option anomaly_options[] = {
	{ "--trees", "N", NULL, "score: trees in the forest (default 100)" },
	{ "--sample", "N", NULL, "score: rows per tree, psi (default 256)" },
	{ "--seed", "S", NULL, "score: random seed (default 42)" },
	{ "--watch", "URL,...", "anomaly.watch", "watch: metrics URLs to scrape" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option load_options[] = {
	{ "--smtp", "ADDR:PORT", "smtp.listen", "the SMTP server to load (default: [smtp] listen)" },
	{ "--connections", "N", NULL, "connections, each sending one message after another (default 16)" },
	{ "--messages", "N", NULL, "messages to send in all (default 10000)" },
	{ "--size", "BYTES", NULL, "size of each message, such as 1KiB or 20KiB (default 1KiB)" },
	{ "--json", NULL, NULL, "print the result as JSON" },
	{ "--rate", "N", NULL, "messages per second in all, a steady flow (default: as fast as accepted)" },
	{ "--retry", "DURATION", NULL, "send a message answered 4xx or cut off again, for up to DURATION (default: never)" },
	{ "--acked", "FILE", NULL, "write a line per accepted message: queue id, Message-ID, sent and accepted (Unix ms)" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option netsim_options[] = {
	{ "--listen", "ADDR:PORT", "netsim.listen", "address to accept connections on" },
	{ "--to", "ADDR:PORT", "netsim.to", "where to forward them" },
	{ "--profile", "NAME", NULL, "LAN, 3G, Satellite, Congested or custom (default: [netsim] profile, LAN)" },
	{ "--transparent", NULL, NULL, "forward each connection to where iptables REDIRECT took it from (IPv4)" },
	{ "--seed", "N", "netsim.seed", "seed of the random draws (default: from the clock)" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option config_options[] = {
	{ "--role", "ROLE", NULL, "also check what ROLE needs: node, gateway, serve, anomaly or netsim" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_option version_options[] = {
	{ "--json", NULL, NULL, "print the version as JSON" },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_command cli_commands[] = {
	{ "serve", "[OPTIONS]", "run a complete single-node Pat (storage, SMTP and HTTP) in one process",
	  "Run a complete Pat in one process: a single-node dqlite cluster in ./pat-data, the SMTP\n"
	  "gateway on 127.0.0.1:1025, and the HTTP API (MailHog's, Mailpit's and Pat's own) with the\n"
	  "web UI on http://127.0.0.1:8025/. A message is answered 250 once it is committed. SIGTERM\n"
	  "or SIGINT stops it after answering every message and request already received.",
	  serve_options, cli_cmd_serve, true },
	{ "node", "[OPTIONS]", "run one dqlite storage node of a Pat cluster",
	  "Run one storage node: a dqlite (Raft) member that bootstraps a new cluster or joins one\n"
	  "through [node] join, and keeps its data in [node] data_dir. Node 1 bootstraps; every\n"
	  "other node joins. While it leads, a node keeps [cluster] voters and standbys spread over\n"
	  "the regions. SIGTERM or SIGINT stops it cleanly.",
	  node_options, cli_cmd_node, true },
	{ "gateway", "[OPTIONS]", "accept mail over SMTP and serve the HTTP API for a cluster",
	  "Run a gateway: accept mail over SMTP and store it in the cluster named by [gateway]\n"
	  "cluster (or --cluster), finding and following its leader, and serve the HTTP API\n"
	  "(MailHog's) on [http] listen. A message is answered 250 once it is committed on a\n"
	  "majority.",
	  gateway_options, cli_cmd_gateway, true },
	{ "compliance", "JOB [OPTIONS]", "run a compliance job: PII masking, retention, GDPR/HIPAA reports",
	  "Run a compliance job against the cluster: mask personal data, enforce retention, export or\n"
	  "erase a data subject's mail, verify the audit chain, or write a GDPR or HIPAA report.",
	  NULL, NULL, true },
	{ "anomaly", "watch|score FILE.csv [OPTIONS]", "watch gateways' metrics for anomalies; score a CSV file",
	  "watch            scrape the gateways' /metrics ([anomaly] watch) every [anomaly] interval,\n"
	  "                 learn their normal behaviour with isolation forests, and send each\n"
	  "                 anomaly (traffic spike or drop, latency degradation, error-rate increase,\n"
	  "                 queue growth) to Alertmanager, a webhook and scaling hooks ([anomaly]\n"
	  "                 keys, docs/CONFIGURATION.md). Runs until SIGTERM or SIGINT.\n"
	  "score FILE.csv   fit an isolation forest on the file's numeric columns (a header row, then\n"
	  "                 numbers) and print one score per row, in order; higher is more anomalous.\n"
	  "                 A column named label (1 = anomaly) is left out of fitting, and the ROC AUC\n"
	  "                 of the scores against it is printed on stderr.",
	  anomaly_options, cli_cmd_anomaly, true },
	{ "cluster", "status|rtt|transfer ID|remove ID|backup FILE|restore FILE [OPTIONS]",
	  "inspect and change cluster membership; back up and restore",
	  "status         members with role, region, weight and reachability, and the leader\n"
	  "rtt            the round trip from here to each member (median of 7 requests), to\n"
	  "               choose [cluster] network_latency from\n"
	  "transfer ID    hand leadership to member ID\n"
	  "remove ID      remove member ID from the cluster (not the leader: transfer first)\n"
	  "backup FILE    write the whole database to FILE, a standalone SQLite file\n"
	  "restore FILE   replay a backup's schema and rows into the cluster (see docs/OPERATIONS.md)",
	  cluster_options, cli_cmd_cluster, true },
	{ "load", "[OPTIONS]", "send generated mail to a gateway and report throughput and latency",
	  "Send generated mail to a Pat gateway (or any SMTP server) over --connections connections,\n"
	  "each sending one message after another, and report messages per second and the accept\n"
	  "latency: from the end of a message's DATA to the server's 250. Exit status 0 when every\n"
	  "message was accepted, 1 when some were refused or a connection failed.",
	  load_options, cli_cmd_load, true },
	{ "sendmail", "[-t] [-i] [-f SENDER] [RECIPIENT...]", "deliver a message from stdin to a Pat gateway, like sendmail",
	  "Read a message on standard input and deliver it over SMTP to the Pat gateway at [smtp]\n"
	  "listen (or --smtp), so that applications configured with a sendmail path work. Exit\n"
	  "status as sendmail's: 0 delivered, 64 bad usage, 69 refused, 75 try again later.",
	  sendmail_options, cli_cmd_sendmail, true },
	{ "netsim", "--listen ADDR:PORT --to ADDR:PORT [--profile NAME] [OPTIONS]",
	  "a TCP proxy that adds latency, jitter, loss and bandwidth limits (a WAN on loopback)",
	  "Forward TCP connections from --listen to --to (or several pairs: [netsim] listen and to,\n"
	  "in order) through simulated network conditions, in both directions of each connection:\n"
	  "latency and jitter (never reordering), loss as retransmission-like stalls, a bandwidth cap\n"
	  "per direction, and resets of a share of connections. Profiles: LAN (nothing added), 3G\n"
	  "(100 ms +- 50, 1% loss), Satellite (600 ms +- 100, 2%), Congested (50 ms +- 200, 5%) and\n"
	  "custom; [netsim] latency, jitter, loss, bandwidth and reset change any of them. With\n"
	  "--transparent, connections redirected by iptables (-j REDIRECT) go on to their original\n"
	  "destination. Runs until SIGTERM or SIGINT.",
	  netsim_options, cli_cmd_netsim, true },
	{ "config", "check|show [OPTIONS]", "check the configuration, or show the effective values",
	  "check  validate the configuration (file, PAT_* environment variables, flags) and report\n"
	  "       every problem with where it came from; exit status 1 when there is one.\n"
	  "show   print the effective configuration as an INI file, each value followed by where it\n"
	  "       came from; secret files are shown by path, never by contents.",
	  config_options, cli_cmd_config, true },
	{ "version", "[--json]", "print Pat's version",
	  "Print Pat's version and the commit it was built from.",
	  version_options, cli_cmd_version, false },
	{ "help", "[COMMAND]", "show help for pat or one of its commands",
	  "Show the list of commands, or the usage of one command.",
	  NULL, NULL, false },
	{ NULL, NULL, NULL, NULL, NULL, NULL, false },
};

/* cmd_anomaly: `pat anomaly watch`: the anomaly service (ml/watch.h) with its [anomaly]
 * configuration, until SIGTERM or SIGINT. `pat anomaly score FILE.csv`: fit an isolation forest
 * on a file's feature columns and print one score per row, in row order (higher = more
 * anomalous). When the file has a `label` column it is left out of fitting and the ROC AUC goes
 * to stderr. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/units.h"
#include "ml/dataset.h"
#include "ml/iforest.h"
#include "ml/roc.h"
#include "node/store.h"
#include "consensus/leader.h"
#include "ml/watch.h"

/* Indexes in anomaly_options (commands.c). */
#define OPT_TREES 0
#define OPT_SAMPLE 1
#define OPT_SEED 2

static int number(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out)
{
	if (units_parse_int(text, min, max, out) == PAT_OK)
		return PAT_OK;
	fprintf(stderr, "pat anomaly: %s \"%s\": expected a whole number from %lld to %lld\n", flag, text,
		(long long)min, (long long)max);
	return PAT_EINVAL;
}

static volatile sig_atomic_t stop_watching;

static void on_stop(int signum)
{
	(void)signum;
	stop_watching = 1;
}

void cli_watch_options(const struct pat_settings *s, const char *targets, struct watch_options *o)
{
	int64_t windows = s->anomaly.retrain_interval / s->anomaly.interval;

	*o = (struct watch_options){
		.targets = targets,
		.interval_ms = s->anomaly.interval,
		.detector = { .baseline_windows = (size_t)s->anomaly.baseline_windows,
			      .retrain_every = (size_t)(windows > 0 ? windows : 1),
			      .threshold = strtod(s->anomaly.threshold, NULL), .seed = 42 },
		.sinks = { .alertmanager_url = s->anomaly.alertmanager_url, .webhook_url = s->anomaly.webhook_url,
			   .hook_command = s->anomaly.hook_command, .hook_url = s->anomaly.hook_url,
			   .hook_min_interval_ms = s->anomaly.hook_min_interval,
			   .hook_timeout_ms = (int)s->anomaly.hook_timeout },
	};
}

void cli_anomaly_audit(void *data, const char *action, const char *subject, const char *detail)
{
	struct pat_err err;

	if (store_audit_append(data, STORE_SYSTEM_TENANT, "pat anomaly", action, subject, detail, &err) != PAT_OK)
		log_error("anomaly action not recorded in the audit log", "action=%s subject=%s error=%s", action, subject,
			  err.msg);
}

static int watch(struct cli_args *args)
{
	struct pat_settings s;
	struct conf c;
	struct pat_err err;
	struct sigaction sa;
	int rv;

	if (args->n_positional != 1) {
		fprintf(stderr, "pat anomaly watch: unexpected argument '%s' (see 'pat anomaly --help')\n", args->positional[1]);
		return CLI_EXIT_USAGE;
	}
	if ((rv = cli_load_config(args, SETTINGS_ROLE_ANOMALY, "pat anomaly watch", &c, &s)) == CLI_EXIT_OK) {
		struct watch_options o;
		struct dq_leader l;
		bool audited = false;

		cli_watch_options(&s, s.anomaly.watch, &o);
		if (s.anomaly.cluster != NULL) {
			if (dq_leader_init(&l, s.anomaly.cluster, "pat", 5000, 10000) != PAT_OK) {
				fprintf(stderr, "pat anomaly watch: [anomaly] cluster: %s\n", l.err.msg);
				dq_leader_close(&l);
				conf_close(&c);
				return CLI_EXIT_FAILURE;
			}
			audited = true;
			o.sinks.audit = cli_anomaly_audit;
			o.sinks.audit_data = &l;
		}

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_stop;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		if (watch_run(&o, &stop_watching, &err) != PAT_OK) {
			fprintf(stderr, "pat anomaly watch: %s\n", err.msg);
			rv = CLI_EXIT_FAILURE;
		}
		if (audited)
			dq_leader_close(&l);
	}
	conf_close(&c);
	return rv;
}

int cli_cmd_anomaly(struct cli_args *args)
{
	struct iforest_params p = { IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLE, 42 };
	const char *action = args->n_positional > 0 ? args->positional[0] : NULL;
	struct dataset d;
	struct iforest f;
	struct pat_err err;
	double *scores = NULL;
	int64_t v;
	int rv = CLI_EXIT_FAILURE;

	if (action == NULL) {
		fprintf(stderr, "pat anomaly: missing action: expected watch (the anomaly service) or score FILE.csv "
				"(see 'pat anomaly --help')\n");
		return CLI_EXIT_USAGE;
	}
	if (strcmp(action, "watch") == 0)
		return watch(args);
	if (strcmp(action, "score") != 0) {
		fprintf(stderr, "pat anomaly: unknown action '%s': expected watch or score (see 'pat anomaly --help')\n", action);
		return CLI_EXIT_USAGE;
	}
	if (args->n_positional != 2) {
		fprintf(stderr, "pat anomaly score: %s (see 'pat anomaly --help')\n",
			args->n_positional < 2 ? "missing FILE.csv" : "expected one file");
		return CLI_EXIT_USAGE;
	}
	if (args->values[OPT_TREES] != NULL) {
		if (number("--trees", args->values[OPT_TREES], 1, 100000, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.n_trees = (unsigned)v;
	}
	if (args->values[OPT_SAMPLE] != NULL) {
		if (number("--sample", args->values[OPT_SAMPLE], 2, 10000000, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.sample_size = (unsigned)v;
	}
	if (args->values[OPT_SEED] != NULL) {
		if (number("--seed", args->values[OPT_SEED], 0, INT64_MAX, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.seed = (uint64_t)v;
	}
	if (dataset_load(&d, args->positional[1], &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s: %s\n", args->positional[1], err.msg);
		goto out;
	}
	scores = mem_alloc(d.n_rows * sizeof *scores);
	if (scores == NULL || iforest_score_rows(&f, d.x, d.n_rows, scores, &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s\n", scores == NULL ? "out of memory" : err.msg);
		goto out_forest;
	}
	for (size_t i = 0; i < d.n_rows; i++)
		printf("%.6f\n", scores[i]);
	if (d.labels != NULL) {
		double auc;

		if (roc_auc(scores, d.labels, d.n_rows, &auc, &err) == PAT_OK)
			fprintf(stderr, "auc=%.4f rows=%zu features=%u trees=%u sample=%u seed=%llu\n", auc, d.n_rows, d.n_cols,
				p.n_trees, f.sample_size, (unsigned long long)p.seed);
		else
			fprintf(stderr, "pat anomaly score: no AUC: %s\n", err.msg);
	}
	rv = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
out_forest:
	iforest_free(&f);
out:
	mem_free(scores);
	dataset_free(&d);
	return rv;
}

/* faults: one fault-test run on a three-region world (regions.h): an SMTP load in every region
 * against its own gateway, with --retry as a mail queue would, a nemesis that strikes once a
 * quarter of the messages were acknowledged and then heals, and a check that every message
 * acknowledged with 250 is stored. tests/faults runs every nemesis, tests/integration/
 * test_faults.c one of them, small. */
#ifndef PAT_TESTS_FAULTS_H
#define PAT_TESTS_FAULTS_H

#include <stdint.h>

#include "tests/lib/regions.h"

/* A fault and its healing. act() returns when the world is whole again, with the time the
 * leader (or its region) was struck in *struck_ms (Unix ms), or 0 when the fault is not one
 * that a failover time means anything for. */
struct fx_nemesis {
	const char *name;  /* "kill-leader" */
	const char *what;  /* one line, for the report */
	void (*act)(struct rg_world *w, int64_t *struck_ms);
};

/* Every nemesis; the last entry's name is NULL. */
extern const struct fx_nemesis fx_nemeses[];
const struct fx_nemesis *fx_nemesis_find(const char *name);

struct fx_result {
	const char *nemesis;       /* name, "none" for a run without faults */
	struct rg_check check;     /* acknowledged / found / lost / duplicated */
	long messages;             /* asked of the clients in all */
	int load_status[RG_REGIONS]; /* each client's exit status (0: all its messages accepted) */
	int64_t struck_ms;         /* see fx_nemesis */
	double resumed_s;          /* struck -> the end of the longest silence in acceptances after it
				    * (when writes resumed: the failover time); -1: none */
	double first_sent_after_s; /* struck -> the first acceptance of a message sent after it; -1: none */
	double seconds;            /* the first message sent -> the last accepted */
	double rate;               /* acknowledged / seconds */
	double p50_ms[RG_REGIONS], p99_ms[RG_REGIONS]; /* accept latency per region (final dot -> 250) */
};

/* Deploy afresh, run the loads (messages and connections per region) with nemesis n (NULL:
 * none), wait for the clients, check through us-east's gateway, undeploy. */
void fx_run(struct rg_world *w, const struct fx_nemesis *n, long messages, int connections, struct fx_result *res);
/* One paragraph per run on stdout. */
void fx_print(const struct fx_result *res);

#endif

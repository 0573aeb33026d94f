/* chaos: see chaos.h. */
#include "gateway/chaos.h"

#include <stdlib.h>

#include "lib/log.h"

static const char *const names[CHAOS__COUNT] = { "Sender", "Recipient", "Authentication" };
static const int default_codes[CHAOS__COUNT] = { 451, 451, 535 };

void chaos_init(struct chaos *c, bool enabled)
{
	c->enabled = enabled;
	for (int t = 0; t < CHAOS__COUNT; t++) {
		atomic_store(&c->code[t], default_codes[t]);
		atomic_store(&c->probability[t], 0);
	}
}

const char *chaos_trigger_name(enum chaos_trigger t)
{
	return names[t];
}

int chaos_default_code(enum chaos_trigger t)
{
	return default_codes[t];
}

int chaos_set(struct chaos *c, const struct chaos_setting s[CHAOS__COUNT], struct pat_err *err)
{
	for (int t = 0; t < CHAOS__COUNT; t++) {
		if (s[t].code < 400 || s[t].code > 599)
			return err_set(err, PAT_EINVAL, "%s.ErrorCode must be between 400 and 599, not %d", names[t], s[t].code);
		if (s[t].probability < 0 || s[t].probability > 100)
			return err_set(err, PAT_EINVAL, "%s.Probability must be between 0 and 100, not %d", names[t],
				       s[t].probability);
	}
	for (int t = 0; t < CHAOS__COUNT; t++) {
		atomic_store(&c->code[t], s[t].code);
		atomic_store(&c->probability[t], s[t].probability);
	}
	log_info("chaos triggers set", "sender=%d:%d%% recipient=%d:%d%% authentication=%d:%d%%", s[0].code,
		 s[0].probability, s[1].code, s[1].probability, s[2].code, s[2].probability);
	return PAT_OK;
}

void chaos_get(struct chaos *c, struct chaos_setting s[CHAOS__COUNT])
{
	for (int t = 0; t < CHAOS__COUNT; t++) {
		s[t].code = atomic_load(&c->code[t]);
		s[t].probability = atomic_load(&c->probability[t]);
	}
}

int chaos_roll(struct chaos *c, enum chaos_trigger t)
{
	int p;

	if (c == NULL || !c->enabled || (p = atomic_load(&c->probability[t])) <= 0)
		return 0;
	/* 0 to 99 below p: p chances in 100. */
	return (int)arc4random_uniform(100) < p ? atomic_load(&c->code[t]) : 0;
}

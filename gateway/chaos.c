/* chaos: see chaos.h. */
#include "gateway/chaos.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"

/* Each trigger: Mailpit's name for it, the word of its reply ("451 4.3.0 Chaos sender
 * error"), the subject.detail of its enhanced status code, and its default code. */
static const struct {
	const char *name, *word, *status;
	int code;
} triggers[CHAOS__COUNT] = {
	[CHAOS_SENDER] = { "Sender", "sender", "3.0", 451 },
	[CHAOS_RECIPIENT] = { "Recipient", "recipient", "3.0", 451 },
	[CHAOS_AUTHENTICATION] = { "Authentication", "authentication", "7.0", 535 },
};

void chaos_init(struct chaos *c, bool enabled)
{
	c->enabled = enabled;
	for (int t = 0; t < CHAOS__COUNT; t++) {
		atomic_store(&c->code[t], triggers[t].code);
		atomic_store(&c->probability[t], 0);
	}
}

const char *chaos_trigger_name(enum chaos_trigger t)
{
	return triggers[t].name;
}

int chaos_default_code(enum chaos_trigger t)
{
	return triggers[t].code;
}

void chaos_reply_text(enum chaos_trigger t, int code, char *out, size_t n)
{
	snprintf(out, n, "%d %d.%s Chaos %s error", code, code / 100, triggers[t].status, triggers[t].word);
}

int chaos_set(struct chaos *c, const struct chaos_setting s[CHAOS__COUNT], struct pat_err *err)
{
	for (int t = 0; t < CHAOS__COUNT; t++) {
		if (s[t].code < 400 || s[t].code > 599)
			return err_set(err, PAT_EINVAL, "%s.ErrorCode must be between 400 and 599, not %d", triggers[t].name,
				       s[t].code);
		if (s[t].probability < 0 || s[t].probability > 100)
			return err_set(err, PAT_EINVAL, "%s.Probability must be between 0 and 100, not %d", triggers[t].name,
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

/* chaos: Mailpit's chaos triggers. When enabled ([smtp] chaos = true), MAIL FROM (Sender),
 * RCPT TO (Recipient) and AUTH (Authentication) each fail with a chosen reply code (400 to
 * 599) at a chosen probability (0 to 100%), set through GET/PUT /api/v1/chaos, so that a test
 * suite can see how its application copes with a mail server that refuses. Each gateway keeps
 * its own triggers (they are not replicated), as each Mailpit does. Thread-safe: the HTTP side
 * sets what the SMTP side reads. */
#ifndef PAT_GATEWAY_CHAOS_H
#define PAT_GATEWAY_CHAOS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

enum chaos_trigger { CHAOS_SENDER, CHAOS_RECIPIENT, CHAOS_AUTHENTICATION, CHAOS__COUNT };

struct chaos_setting {
	int code;        /* the reply code, 400 to 599 */
	int probability; /* percent, 0 (never) to 100 (always) */
};

struct chaos {
	bool enabled;
	_Atomic int code[CHAOS__COUNT];
	_Atomic int probability[CHAOS__COUNT];
};

/* Every trigger at its default code (451, 451, 535) and probability 0. */
void chaos_init(struct chaos *c, bool enabled);
/* Mailpit's name of a trigger: "Sender", "Recipient", "Authentication". */
const char *chaos_trigger_name(enum chaos_trigger t);
/* The default code of a trigger. */
int chaos_default_code(enum chaos_trigger t);
/* The reply to a command the trigger refuses with code, as Mailpit words it, with an
 * enhanced status code of the reply's class: "451 4.3.0 Chaos sender error". */
void chaos_reply_text(enum chaos_trigger t, int code, char *out, size_t n);
/* Set every trigger at once; nothing changes when one is out of range (PAT_EINVAL, naming it). */
int chaos_set(struct chaos *c, const struct chaos_setting s[CHAOS__COUNT], struct pat_err *err);
void chaos_get(struct chaos *c, struct chaos_setting s[CHAOS__COUNT]);
/* The code to fail with now, or 0: never when c is NULL or not enabled. */
int chaos_roll(struct chaos *c, enum chaos_trigger t);

#endif

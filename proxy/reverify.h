/*
 * reverify.h - a quarantine that was our own trust set's fault, healed.
 *
 * A copy quarantined for a reason that depends on the local trust set
 * (vfy_reason_trust_dependent: NO_CHAIN, UNTRUSTED_ROOT) is verified again,
 * at its first-seen time, with the trust set as it is now; one that verifies
 * is admitted (store_reverify: an event names the old and the new verdict)
 * and served by the usual rule. Reasons that belong to the bytes (digest,
 * signature, malformed, usage, time) are never looked at again. Called
 * whenever the trust set changes (the daemon's start and SIGHUP, a root or
 * intermediate imported or fetched) and by `ctlmirror reverify`.
 */
#ifndef CTLMIRROR_REVERIFY_H
#define CTLMIRROR_REVERIFY_H

#include <stddef.h>
#include <time.h>

#include "proxy/trust.h"
#include "store/store.h"

struct reverify_result {
	size_t checked;		/* copies verified again */
	size_t admitted;	/* now admitted */
	size_t rollbacks;	/* now verified, but older than the newest admitted */
	size_t skipped;		/* their bytes were dropped (failed-copy budget): cannot be checked */
};

/*
 * Verifies again one stored version v with trust t (it must be quarantined
 * for a trust reason; else nothing happens and *result is ADMIT_QUARANTINED).
 * now stamps the event. *out (if not NULL) gets the record afterwards.
 */
enum store_err reverify_one(struct store *s, const struct trust *t,
    const struct version *v, time_t now, enum admit_result *result,
    struct version *out);

/* Every such copy of kind (KIND_UNKNOWN: all kinds). */
enum store_err reverify_all(struct store *s, const struct trust *t,
    enum ctl_kind kind, time_t now, struct reverify_result *r);

#endif

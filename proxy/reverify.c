/*
 * reverify.c - copies quarantined for a trust reason, verified again (see reverify.h).
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/reverify.h"
#include "verify/verify.h"

enum store_err
reverify_one(struct store *s, const struct trust *t, const struct version *v,
    time_t now, enum admit_result *result, struct version *out)
{
	struct vfy_params p;
	struct verdict vd;
	unsigned char *buf = NULL;
	size_t len = 0;
	enum store_err e;

	*result = ADMIT_QUARANTINED;
	if (out != NULL)
		*out = *v;
	/* a copy whose bytes the failed-copy budget dropped cannot be checked again */
	if (!vfy_reason_trust_dependent(v->reason) || v->bytes_dropped)
		return STORE_OK;
	if ((e = store_blob(s, v->sha256, &buf, &len)) != STORE_OK)
		return e;
	memset(&p, 0, sizeof(p));
	p.kind = v->kind;
	p.at = v->first_seen;	/* as it would have been judged when it came */
	p.anchors = &t->anchors;
	p.intermediates = t->intermediates;
	p.require_cab = 1;
	vfy_verify(buf, len, &p, &vd);
	free(buf);
	e = store_reverify(s, v->sha256, &vd, now, result, out);
	verdict_free(&vd);
	return e;
}

enum store_err
reverify_all(struct store *s, const struct trust *t, enum ctl_kind kind,
    time_t now, struct reverify_result *r)
{
	struct version *list = NULL;
	enum admit_result res;
	enum store_err e;
	size_t n = 0, i;

	memset(r, 0, sizeof(*r));
	if ((e = store_list(s, kind, &list, &n)) != STORE_OK)
		return e;
	for (i = 0; i < n && e == STORE_OK; i++) {
		if (!vfy_reason_trust_dependent(list[i].reason))
			continue;
		if (list[i].bytes_dropped) {
			r->skipped++;
			continue;
		}
		r->checked++;
		e = reverify_one(s, t, &list[i], now, &res, NULL);
		r->admitted += e == STORE_OK && res == ADMIT_ADMITTED;
		r->rollbacks += e == STORE_OK && res == ADMIT_ROLLBACK;
	}
	free(list);
	return e;
}

/*
 * verdict.c - names of kinds and reason codes; releasing a verdict.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "verify/ctl.h"
#include "verify/verdict.h"

static const char *const reason_names[VFY_REASON_COUNT] = {
	[VFY_OK] = "OK",
	[VFY_CAB_MALFORMED] = "CAB_MALFORMED",
	[VFY_NOT_CTL] = "NOT_CTL",
	[VFY_DIGEST_MISMATCH] = "DIGEST_MISMATCH",
	[VFY_BAD_SIGNATURE] = "BAD_SIGNATURE",
	[VFY_NO_CHAIN] = "NO_CHAIN",
	[VFY_UNTRUSTED_ROOT] = "UNTRUSTED_ROOT",
	[VFY_WRONG_USAGE] = "WRONG_USAGE",
	[VFY_NOT_YET_VALID] = "NOT_YET_VALID",
	[VFY_EXPIRED] = "EXPIRED",
	[VFY_INTERNAL] = "INTERNAL",
};

static const struct {
	const char *name, *cab, *member, *seq;
} kinds[KIND_COUNT] = {
	[KIND_UNKNOWN] = { "unknown", NULL, NULL, NULL },
	[KIND_AUTHROOT] = { "authroot", "authrootstl.cab", "authroot.stl", "authrootseq.txt" },
	[KIND_DISALLOWED] = { "disallowed", "disallowedcertstl.cab", "disallowedcert.stl", NULL },
	[KIND_PINRULES] = { "pinrules", "pinrulesstl.cab", "pinrules.stl", NULL },
};

const char *
vfy_reason_str(enum vfy_reason reason)
{
	if ((unsigned)reason >= VFY_REASON_COUNT || reason_names[reason] == NULL)
		return "INTERNAL";
	return reason_names[reason];
}

const char *
ctl_kind_str(enum ctl_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? kinds[kind].name : "unknown";
}

enum ctl_kind
ctl_kind_parse(const char *name)
{
	int k;

	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++)
		if (strcmp(name, kinds[k].name) == 0)
			return (enum ctl_kind)k;
	return KIND_UNKNOWN;
}

const char *
ctl_kind_cab_name(enum ctl_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? kinds[kind].cab : NULL;
}

const char *
ctl_kind_member_name(enum ctl_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? kinds[kind].member : NULL;
}

const char *
ctl_kind_seq_name(enum ctl_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? kinds[kind].seq : NULL;
}

int
ctl_seq_cmp(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	/* same length: hex digits order the same as their lower-case ASCII */
	c = strcasecmp(a, b);
	return (c > 0) - (c < 0);
}

void
verdict_free(struct verdict *v)
{
	ctl_entries_free(v->entries, v->n_entries);
	free(v->signer);
	free(v->chain_root);
	free(v->out_of_validity);
	memset(v, 0, sizeof(*v));
}

/*
 * verdict.c - names of kinds and reason codes; releasing a verdict.
 */
#include <stdarg.h>
#include <stdio.h>
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
vfy_detail(char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (detail == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
}

const char *
ctl_entry_id_text(const struct ctl_entry *e, char *buf, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, n = e->id_len < CTL_ENTRY_ID_MAX ? e->id_len : CTL_ENTRY_ID_MAX;

	if (len == 0)
		return buf;
	if (e->id_is_text) {
		if (n >= len)
			n = len - 1;
		memcpy(buf, e->id, n);
		buf[n] = '\0';
		return buf;
	}
	for (i = 0; i < n && 2 * i + 2 < len; i++) {
		buf[2 * i] = digits[e->id[i] >> 4];
		buf[2 * i + 1] = digits[e->id[i] & 15];
	}
	buf[2 * i] = '\0';
	return buf;
}

void
verdict_free(struct verdict *v)
{
	ctl_entries_free(v->entries, v->n_entries);
	free(v->signer);
	free(v->chain_root);
	free(v->untrusted_root);
	free(v->out_of_validity);
	memset(v, 0, sizeof(*v));
}

int
vfy_reason_trust_dependent(enum vfy_reason reason)
{
	return reason == VFY_NO_CHAIN || reason == VFY_UNTRUSTED_ROOT;
}

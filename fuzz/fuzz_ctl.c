/*
 * fuzz_ctl.c - libFuzzer: ctl_parse() on hostile DER.
 *
 * The input is the CTL SEQUENCE as it sits inside the SignedData (what
 * fuzz_seeds extracts from forge's files). What parses is walked the way
 * the printers walk it: usages, every entry's identifier and friendly name,
 * and the entries moved out and freed on their own.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/ctl.h"

#define FUZZ_MAX_LEN (1024u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl ctl;
	struct ctl_entry *entries;
	char detail[256], id[CTL_ENTRY_ID_STRLEN];
	size_t i, n;
	volatile size_t sink = 0;	/* keeps the strlen() reads */

	if (size > FUZZ_MAX_LEN)
		return 0;
	if (ctl_parse(data, size, &ctl, detail, sizeof(detail)) != CTL_OK)
		return 0;
	(void)ctl_has_usage(&ctl, OID_ROOT_LIST_SIGNER);
	(void)ctl_has_usage(&ctl, OID_DISALLOWED_LIST);
	for (i = 0; i < ctl.n_entries; i++) {
		const struct ctl_entry *e = &ctl.entries[i];

		if (e->id_len == 0 || e->id_len > CTL_ENTRY_ID_MAX)
			abort();	/* ctl.h: 1..CTL_ENTRY_ID_MAX */
		sink += strlen(ctl_entry_id_text(e, id, sizeof(id)));
		if (e->friendly_name != NULL)
			sink += strlen(e->friendly_name);
	}
	entries = ctl_take_entries(&ctl, &n);
	ctl_free(&ctl);
	ctl_entries_free(entries, n);
	(void)sink;
	return 0;
}

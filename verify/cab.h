/*
 * cab.h - unpack the single member of a Microsoft CAB held in memory.
 *
 * libmspack does the CAB and MSZIP work; this module gives it a memory-only
 * mspack_system, so nothing touches the file system, and bounds every size.
 */
#ifndef CTLMIRROR_CAB_H
#define CTLMIRROR_CAB_H

#include <stddef.h>

/* Verification step 1 (docs/verify.md): the unpacked member may be at most this big. */
#define CAB_MAX_MEMBER (16u * 1024 * 1024)

enum cab_err {
	CAB_OK = 0,
	CAB_ERR_FORMAT,		/* not a CAB, or damaged (libmspack refused it) */
	CAB_ERR_MEMBERS,	/* not exactly one member */
	CAB_ERR_NAME,		/* the member is not named as expected */
	CAB_ERR_TOO_LARGE,	/* the member is larger than the limit */
	CAB_ERR_NOMEM,
};

/* Does buf start like a CAB ("MSCF")? */
int cab_is_cab(const unsigned char *buf, size_t len);

/*
 * Unpacks the only member of the CAB in buf[0..len). If want_name is not
 * NULL the member must carry that name (case-insensitive); otherwise its name
 * is copied to name_out (if not NULL, name_len bytes). At most max bytes are
 * produced. On CAB_OK *out (malloc'd, caller frees) and *out_len are set.
 * detail (if not NULL) gets a sentence on failure.
 */
enum cab_err cab_unpack(const unsigned char *buf, size_t len,
    const char *want_name, size_t max, unsigned char **out, size_t *out_len,
    char *name_out, size_t name_len, char *detail, size_t detail_len);

#endif

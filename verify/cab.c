/*
 * cab.c - CAB unpacking from memory with libmspack.
 *
 * libmspack names files by string; our mspack_system maps two fixed names to
 * memory: "in" is the CAB being read, "out" the buffer the member is written
 * to. Any other name fails to open, so a hostile CAB cannot reach the disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mspack.h>

#include "verify/cab.h"
#include "verify/verdict.h"

struct memfile {
	int writable;
	const unsigned char *data;	/* read side */
	size_t len;
	size_t pos;
	unsigned char *out;		/* write side */
	size_t out_len;
	size_t out_cap;
	size_t out_max;
	int overflow;
};

struct memsys {
	struct mspack_system sys;	/* first, so a mspack_system * is a memsys * */
	struct memfile in;
	struct memfile out;
};

static struct mspack_file *
mem_open(struct mspack_system *self, const char *name, int mode)
{
	struct memsys *ms = (struct memsys *)self;

	if (strcmp(name, "in") == 0 && mode == MSPACK_SYS_OPEN_READ) {
		ms->in.pos = 0;
		return (struct mspack_file *)&ms->in;
	}
	if (strcmp(name, "out") == 0 && mode == MSPACK_SYS_OPEN_WRITE) {
		ms->out.out_len = 0;
		ms->out.overflow = 0;
		return (struct mspack_file *)&ms->out;
	}
	return NULL;
}

static void
mem_close(struct mspack_file *f)
{
	(void)f;
}

static int
mem_read(struct mspack_file *file, void *buf, int bytes)
{
	struct memfile *f = (struct memfile *)file;
	size_t n;

	if (bytes < 0 || f->writable)
		return -1;
	n = f->len - f->pos;
	if ((size_t)bytes < n)
		n = (size_t)bytes;
	memcpy(buf, f->data + f->pos, n);
	f->pos += n;
	return (int)n;
}

static int
mem_write(struct mspack_file *file, void *buf, int bytes)
{
	struct memfile *f = (struct memfile *)file;
	size_t need;

	if (bytes < 0 || !f->writable)
		return -1;
	need = f->out_len + (size_t)bytes;
	if (need > f->out_max) {
		f->overflow = 1;
		return -1;
	}
	if (need > f->out_cap) {
		size_t cap = f->out_cap ? f->out_cap : 65536;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		if (cap > f->out_max)
			cap = f->out_max;
		if ((p = realloc(f->out, cap)) == NULL)
			return -1;
		f->out = p;
		f->out_cap = cap;
	}
	memcpy(f->out + f->out_len, buf, (size_t)bytes);
	f->out_len = need;
	return bytes;
}

static int
mem_seek(struct mspack_file *file, off_t offset, int mode)
{
	struct memfile *f = (struct memfile *)file;
	off_t base;

	if (f->writable)
		return -1;
	switch (mode) {
	case MSPACK_SYS_SEEK_START:
		base = 0;
		break;
	case MSPACK_SYS_SEEK_CUR:
		base = (off_t)f->pos;
		break;
	case MSPACK_SYS_SEEK_END:
		base = (off_t)f->len;
		break;
	default:
		return -1;
	}
	if (offset < -base || base + offset > (off_t)f->len)
		return -1;
	f->pos = (size_t)(base + offset);
	return 0;
}

static off_t
mem_tell(struct mspack_file *file)
{
	struct memfile *f = (struct memfile *)file;

	return f->writable ? (off_t)f->out_len : (off_t)f->pos;
}

static void mem_message(struct mspack_file *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
mem_message(struct mspack_file *file, const char *fmt, ...)
{
	/* libmspack's warnings are informational; the error codes decide. */
	(void)file;
	(void)fmt;
}

static void *
mem_alloc(struct mspack_system *self, size_t bytes)
{
	(void)self;
	return malloc(bytes);
}

static void
mem_free(void *p)
{
	free(p);
}

static void
mem_copy(void *src, void *dst, size_t bytes)
{
	memcpy(dst, src, bytes);
}

int
cab_is_cab(const unsigned char *buf, size_t len)
{
	return len >= 4 && memcmp(buf, "MSCF", 4) == 0;
}

enum cab_err
cab_unpack(const unsigned char *buf, size_t len, const char *want_name,
    size_t max, unsigned char **out, size_t *out_len, char *name_out,
    size_t name_len, char *detail, size_t detail_len)
{
	struct memsys ms;
	struct mscab_decompressor *d = NULL;
	struct mscabd_cabinet *cab = NULL;
	struct mscabd_file *f;
	enum cab_err rc = CAB_ERR_FORMAT;
	int err;

	*out = NULL;
	*out_len = 0;
	memset(&ms, 0, sizeof(ms));
	ms.sys.open = mem_open;
	ms.sys.close = mem_close;
	ms.sys.read = mem_read;
	ms.sys.write = mem_write;
	ms.sys.seek = mem_seek;
	ms.sys.tell = mem_tell;
	ms.sys.message = mem_message;
	ms.sys.alloc = mem_alloc;
	ms.sys.free = mem_free;
	ms.sys.copy = mem_copy;
	ms.in.data = buf;
	ms.in.len = len;
	ms.out.writable = 1;
	ms.out.out_max = max;

	if (!cab_is_cab(buf, len)) {
		vfy_detail(detail, detail_len, "not a CAB file (no MSCF signature)");
		goto out;
	}
	if ((d = mspack_create_cab_decompressor(&ms.sys)) == NULL) {
		rc = CAB_ERR_NOMEM;
		vfy_detail(detail, detail_len, "cannot create a CAB decompressor");
		goto out;
	}
	/* A damaged block is an error, not something to salvage. */
	d->set_param(d, MSCABD_PARAM_SALVAGE, 0);
	d->set_param(d, MSCABD_PARAM_FIXMSZIP, 0);
	d->set_param(d, MSCABD_PARAM_DECOMPBUF, 65536);
	if ((cab = d->open(d, "in")) == NULL) {
		vfy_detail(detail, detail_len, "CAB header is malformed (libmspack error %d)",
		    d->last_error(d));
		goto out;
	}
	if (cab->next != NULL || cab->prevcab != NULL || cab->nextcab != NULL ||
	    (cab->flags & (MSCAB_HDR_PREVCAB | MSCAB_HDR_NEXTCAB))) {
		vfy_detail(detail, detail_len, "CAB is part of a multi-cabinet set");
		goto out;
	}
	f = cab->files;
	if (f == NULL || f->next != NULL) {
		rc = CAB_ERR_MEMBERS;
		vfy_detail(detail, detail_len, "CAB must hold exactly one member, it holds %s",
		    f == NULL ? "none" : "more than one");
		goto out;
	}
	if (want_name != NULL && strcasecmp(f->filename, want_name) != 0) {
		rc = CAB_ERR_NAME;
		vfy_detail(detail, detail_len, "CAB member is named '%.64s', expected '%s'",
		    f->filename, want_name);
		goto out;
	}
	if (f->length > max) {
		rc = CAB_ERR_TOO_LARGE;
		vfy_detail(detail, detail_len, "CAB member is %u bytes, more than the %zu-byte limit",
		    f->length, max);
		goto out;
	}
	/* The header's size is within max: allocate once rather than grow. */
	if (f->length > 0 && (ms.out.out = malloc(f->length)) == NULL) {
		rc = CAB_ERR_NOMEM;
		vfy_detail(detail, detail_len, "out of memory for a %u-byte member", f->length);
		goto out;
	}
	ms.out.out_cap = f->length;
	if ((err = d->extract(d, f, "out")) != MSPACK_ERR_OK) {
		if (ms.out.overflow) {
			rc = CAB_ERR_TOO_LARGE;
			vfy_detail(detail, detail_len, "CAB member unpacks to more than %zu bytes", max);
		} else {
			vfy_detail(detail, detail_len, "CAB data is damaged (libmspack error %d)", err);
		}
		goto out;
	}
	if (ms.out.out_len != f->length) {
		vfy_detail(detail, detail_len, "CAB member unpacked to %zu bytes, header says %u",
		    ms.out.out_len, f->length);
		goto out;
	}
	if (name_out != NULL && name_len > 0)
		snprintf(name_out, name_len, "%s", f->filename);
	*out = ms.out.out;
	*out_len = ms.out.out_len;
	ms.out.out = NULL;
	rc = CAB_OK;
out:
	if (cab != NULL)
		d->close(d, cab);
	if (d != NULL)
		mspack_destroy_cab_decompressor(d);
	free(ms.out.out);
	return rc;
}

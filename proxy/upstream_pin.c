/*
 * upstream_pin.c - a parent's status.json, parsed with json-c within bounds (see upstream_pin.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "proxy/fetch.h"
#include "proxy/upstream_pin.h"
#include "verify/isotime.h"

const char *
upin_strerror(enum upin_err e)
{
	switch (e) {
	case UPIN_OK:
		return "ok";
	case UPIN_TOO_LARGE:
		return "the status document is too large";
	case UPIN_NOT_JSON:
		return "the status document is not JSON";
	default:
		return "the status document is not a ctlmirror status";
	}
}

static enum upin_err __attribute__((format(printf, 4, 5)))
fail(enum upin_err e, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return e;
}

static int
unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits into 32 bytes; 0 if s is not that. */
static int
sha256_of(const char *s, unsigned char out[32])
{
	size_t i;

	if (strlen(s) != 64)
		return 0;
	for (i = 0; i < 32; i++) {
		int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 1;
}

/*
 * The member name of obj as a string: 1 and *out when it is one, 0 when it
 * is absent or null, -1 when it has another type.
 */
static int
str_member(json_object *obj, const char *name, const char **out)
{
	json_object *v;

	*out = NULL;
	if (obj == NULL || !json_object_object_get_ex(obj, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	return 1;
}

/* obj.name as an object: 1, 0 absent or null, -1 another type. */
static int
obj_member(json_object *obj, const char *name, json_object **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return -1;
	*out = v;
	return 1;
}

static enum upin_err
parse_kind(json_object *ko, const char *kname, struct upstream_kind_pin *kp,
    char *err, size_t err_len)
{
	json_object *pinned, *pin, *served;
	const char *s;
	int rc;

	if (!json_object_is_type(ko, json_type_object))
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\" is not an object", kname);
	if (!json_object_object_get_ex(ko, "pinned", &pinned) ||
	    !json_object_is_type(pinned, json_type_boolean))
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\".\"pinned\" is missing or not "
		    "true/false", kname);
	if (obj_member(ko, "pin", &pin) < 0 || obj_member(ko, "served", &served) < 0)
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\".\"pin\" or \"served\" is not "
		    "an object", kname);
	kp->present = 1;
	if ((rc = str_member(served, "sequence", &s)) < 0)
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\".\"served\".\"sequence\" is not "
		    "a string", kname);
	/* only shown in messages: kept when it is plausible, else dropped */
	if (rc > 0 && strlen(s) < sizeof(kp->sequence) && strspn(s, "0123456789abcdefABCDEF") == strlen(s))
		snprintf(kp->sequence, sizeof(kp->sequence), "%s", s);
	if (!json_object_get_boolean(pinned))
		return UPIN_OK;
	kp->pinned = 1;
	/* the pin's own sha256 first; else what is served, which is the pinned version */
	if ((rc = str_member(pin, "sha256", &s)) == 0)
		rc = str_member(served, "sha256", &s);
	if (rc <= 0 || !sha256_of(s, kp->sha256))
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\" is pinned but names no SHA-256 "
		    "(64 hex digits) of the pinned version", kname);
	if ((rc = str_member(pin, "until", &s)) < 0 || (rc > 0 && !isotime_parse(s, &kp->until)))
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\".\"pin\".\"until\" is not a time",
		    kname);
	if ((rc = str_member(pin, "reason", &s)) < 0)
		return fail(UPIN_BAD_SHAPE, err, err_len, "\"%s\".\"pin\".\"reason\" is not a "
		    "string", kname);
	if (rc > 0)
		snprintf(kp->reason, sizeof(kp->reason), "%s", s);
	return UPIN_OK;
}

enum upin_err
upstream_pin_parse(const unsigned char *bytes, size_t len, struct upstream_pins *out,
    char *err, size_t err_len)
{
	struct json_tokener *tok = NULL;
	json_object *root = NULL, *ko;
	enum upin_err e = UPIN_OK;
	size_t used;
	int k;

	memset(out, 0, sizeof(*out));
	if (err_len > 0)
		err[0] = '\0';
	if (len > UPSTREAM_PIN_MAX_BYTES) {
		e = fail(UPIN_TOO_LARGE, err, err_len, "%zu bytes, more than %u", len,
		    UPSTREAM_PIN_MAX_BYTES);
		goto out;
	}
	if ((tok = json_tokener_new_ex(UPSTREAM_PIN_MAX_DEPTH)) == NULL) {
		e = fail(UPIN_NOT_JSON, err, err_len, "out of memory");
		goto out;
	}
	/* len fits an int: it is at most UPSTREAM_PIN_MAX_BYTES */
	root = json_tokener_parse_ex(tok, (const char *)bytes, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		e = fail(UPIN_NOT_JSON, err, err_len, "%s",
		    je == json_tokener_continue ? "the document ends early" :
		    json_tokener_error_desc(je));
		goto out;
	}
	/* one value, then white space at most */
	for (used = json_tokener_get_parse_end(tok); used < len; used++)
		if (strchr(" \t\r\n", bytes[used]) == NULL || bytes[used] == '\0') {
			e = fail(UPIN_NOT_JSON, err, err_len, "bytes after the JSON value (offset %zu)",
			    used);
			goto out;
		}
	if (!json_object_is_type(root, json_type_object)) {
		e = fail(UPIN_BAD_SHAPE, err, err_len, "not a JSON object");
		goto out;
	}
	for (k = KIND_AUTHROOT; k < KIND_COUNT; k++) {
		const char *kname = ctl_kind_str((enum ctl_kind)k);

		if (!json_object_object_get_ex(root, kname, &ko) || ko == NULL)
			continue;
		if ((e = parse_kind(ko, kname, &out->kinds[k], err, err_len)) != UPIN_OK)
			goto out;
	}
out:
	if (e != UPIN_OK)
		memset(out, 0, sizeof(*out));
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return e;
}

int
upstream_pin_url(const char *base, char *out, size_t len)
{
	char origin[FETCH_ORIGIN_MAX];
	int n;

	if (fetch_origin(base, origin, sizeof(origin)) != 0)
		return -1;
	n = snprintf(out, len, "%s%s", origin, UPSTREAM_PIN_PATH);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

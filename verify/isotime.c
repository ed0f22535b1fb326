/*
 * isotime.c - ISO 8601 UTC parsing and formatting with explicit bounds.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "verify/isotime.h"

/* Reads exactly n decimal digits at *p. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return 0;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 1;
}

static int
valid_fields(const struct tm *tm)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 &&
	    tm->tm_mday <= mdays[tm->tm_mon] && tm->tm_hour < 24 &&
	    tm->tm_min < 60 && tm->tm_sec <= 60;
}

int
isotime_parse(const char *text, time_t *t)
{
	struct tm tm;
	const char *p = text;
	int y, mo, d, h = 0, mi = 0, s = 0, off = 0;

	memset(&tm, 0, sizeof(tm));
	if (text == NULL || strlen(text) > 40)
		return 0;
	if (strlen(text) == 15 && text[14] == 'Z') {
		/* compact YYYYMMDDHHMMSSZ, as in the corpus manifest */
		if (!digits(&p, 4, &y) || !digits(&p, 2, &mo) ||
		    !digits(&p, 2, &d) || !digits(&p, 2, &h) ||
		    !digits(&p, 2, &mi) || !digits(&p, 2, &s))
			return 0;
		p++;
	} else {
		if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
		    *p++ != '-' || !digits(&p, 2, &d))
			return 0;
		if (*p == 'T' || *p == 't' || *p == ' ') {
			p++;
			if (!digits(&p, 2, &h) || *p++ != ':' ||
			    !digits(&p, 2, &mi))
				return 0;
			if (*p == ':') {
				p++;
				if (!digits(&p, 2, &s))
					return 0;
				if (*p == '.') {	/* fractions are dropped */
					p++;
					while (isdigit((unsigned char)*p))
						p++;
				}
			}
			if (*p == 'Z' || *p == 'z') {
				p++;
			} else if (*p == '+' || *p == '-') {
				int sign = *p++ == '-' ? -1 : 1, oh, om;

				if (!digits(&p, 2, &oh) || *p++ != ':' ||
				    !digits(&p, 2, &om) || oh > 23 || om > 59)
					return 0;
				off = sign * (oh * 3600 + om * 60);
			}
		}
	}
	if (*p != '\0')
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	if (!valid_fields(&tm))
		return 0;
	*t = timegm(&tm) - off;
	return 1;
}

char *
isotime_format(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "invalid");
	return buf;
}

int
isotime_from_asn1(const ASN1_TIME *at, time_t *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (at == NULL || !ASN1_TIME_to_tm(at, &tm))
		return 0;
	*t = timegm(&tm);
	return 1;
}

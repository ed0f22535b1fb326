/*
 * isotime.h - ISO 8601 UTC times: parse, format, and convert from ASN.1.
 *
 * All times in ctlmirror are time_t seconds since the epoch, UTC. Nothing
 * here reads the clock.
 */
#ifndef CTLMIRROR_ISOTIME_H
#define CTLMIRROR_ISOTIME_H

#include <stddef.h>
#include <time.h>

#include <openssl/asn1.h>

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define ISOTIME_LEN 21

/*
 * Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]" (a space may
 * stand for the T) or the compact "YYYYMMDDHHMMSSZ". Returns 1 and sets *t,
 * or 0 if the text is not such a time.
 */
int isotime_parse(const char *text, time_t *t);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least ISOTIME_LEN bytes). */
char *isotime_format(time_t t, char *buf, size_t len);

/* Converts an ASN.1 UTCTime or GeneralizedTime; returns 1, or 0 if invalid. */
int isotime_from_asn1(const ASN1_TIME *at, time_t *t);

#endif

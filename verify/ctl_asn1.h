/*
 * ctl_asn1.h - OpenSSL ASN.1 templates for the Certificate Trust List.
 *
 * CertificateTrustList ::= SEQUENCE {
 *   version           INTEGER DEFAULT v1,
 *   subjectUsage      SEQUENCE OF OBJECT IDENTIFIER,
 *   listIdentifier    OCTET STRING OPTIONAL,
 *   sequenceNumber    INTEGER OPTIONAL,
 *   ctlThisUpdate     Time,
 *   ctlNextUpdate     Time OPTIONAL,
 *   subjectAlgorithm  AlgorithmIdentifier,
 *   trustedSubjects   SEQUENCE OF TrustedSubject OPTIONAL,
 *   ctlExtensions     [0] EXPLICIT Extensions OPTIONAL }
 * TrustedSubject ::= SEQUENCE {
 *   subjectIdentifier OCTET STRING,
 *   subjectAttributes SET OF Attribute OPTIONAL }
 *
 * Used by ctl.c to decode and by the test forge to encode. Everything else
 * uses the plain struct ctl from ctl.h.
 */
#ifndef CTLMIRROR_CTL_ASN1_H
#define CTLMIRROR_CTL_ASN1_H

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>

typedef struct ctl_entry_asn1_st {
	ASN1_OCTET_STRING *id;
	STACK_OF(X509_ATTRIBUTE) *attrs;
} CTL_ENTRY_ASN1;

DEFINE_STACK_OF(CTL_ENTRY_ASN1)

typedef struct ctl_asn1_st {
	ASN1_INTEGER *version;
	STACK_OF(ASN1_OBJECT) *subject_usage;
	ASN1_OCTET_STRING *list_id;
	ASN1_INTEGER *sequence;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;
	X509_ALGOR *subject_alg;
	STACK_OF(CTL_ENTRY_ASN1) *entries;
	STACK_OF(X509_EXTENSION) *extensions;
} CTL_ASN1;

DECLARE_ASN1_FUNCTIONS(CTL_ENTRY_ASN1)
DECLARE_ASN1_FUNCTIONS(CTL_ASN1)

#endif

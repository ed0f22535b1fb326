/*
 * bench_verify.c - verifications per second of one CTL file, single core.
 *
 * usage: bench_verify FILE ANCHORS_DIR AT [SECONDS] [PIN...]
 * Prints the unpack-only rate and the full-verification rate (unpack, parse,
 * digest, signature, chain, usage, time) as one line each.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/cab.h"
#include "verify/isotime.h"
#include "verify/verify.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(3);
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
load_dir(struct anchors *a, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		fprintf(stderr, "cannot open %s\n", dir);
		exit(3);
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		unsigned char *buf;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf = slurp(path, &len);
		anchors_offer(a, buf, len, NULL);
		free(buf);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	struct anchors a;
	struct vfy_params p;
	struct verdict v;
	unsigned char *buf, *out;
	size_t len, out_len, n;
	double secs = argc > 4 ? strtod(argv[4], NULL) : 3.0, t0, t;
	int i;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_verify FILE ANCHORS_DIR AT [SECONDS] [PIN...]\n");
		return 2;
	}
	buf = slurp(argv[1], &len);
	anchors_init(&a);
	for (i = 5; i < argc; i++)
		anchors_add_pin(&a, argv[i]);
	load_dir(&a, argv[2]);
	memset(&p, 0, sizeof(p));
	p.anchors = &a;
	if (!isotime_parse(argv[3], &p.at)) {
		fprintf(stderr, "bad time %s\n", argv[3]);
		return 2;
	}
	if (vfy_verify(buf, len, &p, &v) != VFY_OK) {
		fprintf(stderr, "%s does not verify: %s %s\n", argv[1],
		    vfy_reason_str(v.reason), v.detail);
		return 1;
	}
	cab_unpack(buf, len, NULL, CAB_MAX_MEMBER, &out, &out_len, NULL, 0, NULL, 0);
	free(out);
	printf("file: %s (%zu bytes packed, %zu bytes unpacked, %zu entries, %s)\n",
	    argv[1], len, out_len, v.n_entries, v.digest_alg);
	verdict_free(&v);

	for (n = 0, t0 = now_s(); (t = now_s() - t0) < secs / 3; n++) {
		cab_unpack(buf, len, NULL, CAB_MAX_MEMBER, &out, &out_len, NULL, 0, NULL, 0);
		free(out);
	}
	printf("unpack only:  %8.0f per second, %.3f ms each (%zu runs)\n",
	    (double)n / t, t * 1000 / (double)n, n);

	for (n = 0, t0 = now_s(); (t = now_s() - t0) < secs; n++) {
		vfy_verify(buf, len, &p, &v);
		verdict_free(&v);
	}
	printf("full verify:  %8.0f per second, %.3f ms each (%zu runs)\n",
	    (double)n / t, t * 1000 / (double)n, n);
	anchors_free(&a);
	free(buf);
	return 0;
}

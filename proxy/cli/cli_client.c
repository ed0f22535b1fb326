/*
 * cli_client.c - `ctlmirror client-setup`: a .reg file or a PowerShell script
 * that points one Windows machine at the mirror and makes it fetch the lists
 * now (docs/clients.md).
 *
 * The URL ends up inside a script run as administrator, so it is checked
 * first (scheme, host, port, the bytes of the path) and escaped for each
 * format all the same. Output is ASCII with CRLF line ends; the .reg file is
 * "Windows Registry Editor Version 5.00" text, which regedit imports from an
 * ANSI (here: ASCII) file as from the UTF-16 one it writes itself.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy/cli/cli.h"

/* wincrypt.h's names (docs/clients.md): where a client keeps its root update state. */
#define AUTOUPDATE_KEY "SOFTWARE\\Microsoft\\SystemCertificates\\AuthRoot\\AutoUpdate"

/* A RootDirURL is a short URL; anything longer is a mistake (or an attack). */
#define CLIENT_URL_MAX 512

enum client_way { CLIENT_ROOTDIR, CLIENT_PROXY };
enum client_format { CLIENT_PS1, CLIENT_REG };

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlmirror client-setup --url URL [--way rootdir|proxy] [--format ps1|reg]\n"
	    "\n"
	    "Prints a script that points one Windows machine at this mirror, to run there\n"
	    "as administrator (or to deploy by group policy):\n"
	    "  --way rootdir  (default) sets the RootDirURL value under\n"
	    "                 HKLM\\" AUTOUPDATE_KEY "\n"
	    "                 to URL, the mirror's flat files, e.g. http://ctlmirror.corp/\n"
	    "  --way proxy    sets the machine's WinHTTP proxy for plain HTTP to URL, the\n"
	    "                 mirror as a proxy, e.g. http://ctlmirror.corp:8080/ (HTTPS stays\n"
	    "                 direct; the mirror answers only for the trust-list hosts)\n"
	    "Both remove the cached list (EncodedCtl, LastSyncTime) so the client fetches\n"
	    "the lists again; the PowerShell script also purges the URL cache\n"
	    "(certutil -urlcache * delete) and resets the chain cache\n"
	    "(certutil -setreg chain\\ChainCacheResyncFiletime @now).\n"
	    "  --format ps1   (default) a PowerShell script\n"
	    "  --format reg   a .reg file (rootdir only: a .reg file cannot run netsh or\n"
	    "                 certutil; its comments say what to run afterwards)\n"
	    "URL: http:// or https://, a host name or address, an optional port and path;\n"
	    "no quotes, spaces, control bytes, user name, query or fragment; at most %d bytes.\n"
	    "Reads no config and no store.\n"
	    "\n"
	    "Exit status: 0 printed; 2 usage error or a URL refused.\n", CLIENT_URL_MAX);
}

/* A byte a URL may carry here: RFC 3986's, less what a script would treat specially. */
static int
url_byte_ok(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c != '\0' && strchr("-._~:/[]@!$&()*+,;=%", c) != NULL;
}

/* host[:port] of an http(s) URL: a DNS name or IPv4 address, or a bracketed IPv6 literal. */
static int
host_ok(const char *p, size_t len, size_t *host_len)
{
	size_t i, n;
	unsigned long port = 0;

	if (len > 0 && p[0] == '[') {
		for (n = 1; n < len && p[n] != ']'; n++)
			if (!isxdigit((unsigned char)p[n]) && p[n] != ':' && p[n] != '.')
				return 0;
		if (n == len || n < 3)
			return 0;
		n++;
	} else {
		for (n = 0; n < len && p[n] != ':'; n++)
			if (!isalnum((unsigned char)p[n]) && p[n] != '-' && p[n] != '.')
				return 0;
		if (n == 0 || n > 253 || p[0] == '.' || p[0] == '-')
			return 0;
	}
	*host_len = n;
	if (n == len)
		return 1;
	if (p[n] != ':' || len - n < 2 || len - n > 6)
		return 0;
	for (i = n + 1; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return 0;
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/*
 * Checks url; for the proxy way also fills proxy with host:port (port 80 when
 * none is given). Prints why and returns -1 when it is refused.
 */
static int
check_url(const char *url, enum client_way way, char *proxy, size_t proxy_len)
{
	const char *why = NULL, *auth, *path;
	size_t len = strlen(url), i, alen, hlen = 0;

	if (len == 0 || len > CLIENT_URL_MAX) {
		why = "is empty or longer than 512 bytes";
		goto out;
	}
	for (i = 0; i < len; i++) {
		if (!url_byte_ok((unsigned char)url[i])) {
			why = "holds a quote, space, control byte, backslash or other byte a URL here may not";
			goto out;
		}
		if (url[i] == '%' && (i + 2 >= len || !isxdigit((unsigned char)url[i + 1]) ||
		    !isxdigit((unsigned char)url[i + 2]))) {
			why = "holds a '%' that is not a %XX escape";
			goto out;
		}
	}
	if (strncasecmp(url, "http://", 7) == 0) {
		auth = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0 && way == CLIENT_ROOTDIR) {
		auth = url + 8;
	} else {
		why = way == CLIENT_PROXY ? "is not http://HOST[:PORT]/ (a proxy is reached over plain HTTP)" :
		    "is not an http:// or https:// URL";
		goto out;
	}
	path = auth + strcspn(auth, "/");
	alen = (size_t)(path - auth);
	if (memchr(auth, '@', alen) != NULL) {
		why = "names a user (user@host): credentials do not belong in a client's registry";
		goto out;
	}
	if (!host_ok(auth, alen, &hlen)) {
		why = "has no valid host name, address or port";
		goto out;
	}
	if (strpbrk(path, "?#") != NULL) {
		why = "has a query or fragment: the client appends file names to the URL";
		goto out;
	}
	if (way == CLIENT_PROXY) {
		if (strcmp(path, "") != 0 && strcmp(path, "/") != 0) {
			why = "has a path: a proxy is a host and port only";
			goto out;
		}
		snprintf(proxy, proxy_len, "%.*s%s", (int)alen, auth, hlen == alen ? ":80" : "");
	}
out:
	if (why != NULL) {
		fprintf(stderr, "ctlmirror client-setup: the URL %s\n", why);
		return -1;
	}
	return 0;
}

/* s as the inside of a .reg string: backslash and double quote escaped. */
static void
put_reg_string(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		putchar(*s);
	}
}

/* s as a PowerShell single-quoted string (verbatim: only the quote doubles). */
static void
put_ps_string(const char *s)
{
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			putchar('\'');
		putchar(*s);
	}
	putchar('\'');
}

/* Lines end CRLF: the files are opened on Windows. */
#define NL "\r\n"

static void
print_reg(const char *url)
{
	printf("Windows Registry Editor Version 5.00" NL
	    NL
	    "; ctlmirror client-setup: root certificate updates from the mirror (RootDirURL)," NL
	    "; and the cached list removed so that the client fetches the lists again." NL
	    "; A .reg file cannot run commands: afterwards run, as administrator," NL
	    ";   certutil -urlcache * delete" NL
	    ";   certutil -setreg chain\\ChainCacheResyncFiletime @now" NL
	    NL
	    "[HKEY_LOCAL_MACHINE\\" AUTOUPDATE_KEY "]" NL
	    "\"RootDirURL\"=\"");
	put_reg_string(url);
	printf("\"" NL
	    "\"EncodedCtl\"=-" NL
	    "\"LastSyncTime\"=-" NL
	    NL);
}

static void
print_ps1(const char *url, enum client_way way, const char *proxy)
{
	printf("# ctlmirror client-setup: root certificate updates from the mirror, then the" NL
	    "# client's cached lists cleared so that it fetches them now." NL
	    "# Run in an elevated Windows PowerShell (or deploy as a start-up script)." NL
	    "#Requires -RunAsAdministrator" NL
	    "$ErrorActionPreference = 'Stop'" NL
	    "$key = 'HKLM:\\" AUTOUPDATE_KEY "'" NL
	    "if (-not (Test-Path -LiteralPath $key)) {" NL
	    "    New-Item -Path $key -Force | Out-Null" NL
	    "}" NL);
	if (way == CLIENT_ROOTDIR) {
		printf("# RootDirURL: the client asks for the same file names directly under it" NL
		    "New-ItemProperty -LiteralPath $key -Name 'RootDirURL' -PropertyType String -Value ");
		put_ps_string(url);
		printf(" -Force | Out-Null" NL);
	} else {
		printf("# WinHTTP's machine proxy, which the certificate update uses: plain HTTP to the" NL
		    "# mirror, HTTPS direct. The mirror answers only for the trust-list hosts: use this" NL
		    "# only where the machine has no other plain-HTTP WinHTTP traffic, else the PAC file." NL
		    "& netsh.exe winhttp set proxy ");
		printf("'proxy-server=http=%s' 'bypass-list=<local>'" NL, proxy);
		printf("if ($LASTEXITCODE -ne 0) { throw \"netsh winhttp set proxy exited $LASTEXITCODE\" }" NL);
	}
	printf("# the cached list and its sync time: without them the client fetches the lists again" NL
	    "foreach ($name in @('EncodedCtl', 'LastSyncTime')) {" NL
	    "    Remove-ItemProperty -LiteralPath $key -Name $name -ErrorAction SilentlyContinue" NL
	    "}" NL
	    "# the URL cache (CryptnetUrlCache) and the chain engine's cached lists" NL
	    "& certutil.exe -urlcache '*' delete | Out-Null" NL
	    "if ($LASTEXITCODE -ne 0) { Write-Warning \"certutil -urlcache * delete exited $LASTEXITCODE\" }" NL
	    "& certutil.exe -setreg 'chain\\ChainCacheResyncFiletime' '@now' | Out-Null" NL
	    "if ($LASTEXITCODE -ne 0) { Write-Warning \"certutil -setreg exited $LASTEXITCODE\" }" NL
	    "Write-Output 'Done: the lists are fetched from the mirror at the next certificate check.'" NL);
}

int
cli_client_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "way", required_argument, NULL, 'w' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum client_way way = CLIENT_ROOTDIR;
	enum client_format format = CLIENT_PS1;
	const char *url = NULL;
	char proxy[300] = "";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'w':
			if (strcmp(optarg, "rootdir") == 0) {
				way = CLIENT_ROOTDIR;
			} else if (strcmp(optarg, "proxy") == 0) {
				way = CLIENT_PROXY;
			} else {
				fprintf(stderr, "ctlmirror client-setup: --way must be rootdir or proxy\n");
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (strcmp(optarg, "ps1") == 0) {
				format = CLIENT_PS1;
			} else if (strcmp(optarg, "reg") == 0) {
				format = CLIENT_REG;
			} else {
				fprintf(stderr, "ctlmirror client-setup: --format must be ps1 or reg\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || url == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (format == CLIENT_REG && way == CLIENT_PROXY) {
		fprintf(stderr, "ctlmirror client-setup: a .reg file cannot set the WinHTTP proxy "
		    "(netsh winhttp set proxy keeps it in an undocumented binary value); use "
		    "--format ps1, or the PAC file at /_ctlmirror/proxy.pac\n");
		return EXIT_USAGE;
	}
	if (check_url(url, way, proxy, sizeof(proxy)) != 0)
		return EXIT_USAGE;
	if (format == CLIENT_REG)
		print_reg(url);
	else
		print_ps1(url, way, proxy);
	return fflush(stdout) == 0 ? 0 : EXIT_IO;
}

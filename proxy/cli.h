/*
 * cli.h - the admin commands of the one `ctlmirror` binary.
 *
 * Each command takes its own argv (argv[0] is the command name) and returns
 * the process exit status:
 *   0  success (for verify: every file verified)
 *   1  the command ran, but what it checked failed (a file did not verify)
 *   2  usage error (unknown option, bad value)
 *   3  an input could not be read, or the environment is unusable
 */
#ifndef CTLMIRROR_CLI_H
#define CTLMIRROR_CLI_H

#define EXIT_VERIFY_FAILED 1
#define EXIT_USAGE 2
#define EXIT_IO 3

int cli_verify(int argc, char **argv);

#endif

/*
 * The output of `smtpstatus bounce` and of the smtpstatus-bounce helper it runs for --offline:
 * one place, so that an answer from the daemon and one parsed here print alike. Neither GMime
 * nor the parser is needed to print, so the CLI links this file without GLib.
 */
#ifndef SMTPSTATUS_BOUNCE_PRINT_H
#define SMTPSTATUS_BOUNCE_PRINT_H

#include <stddef.h>
#include <stdio.h>

#include "smtpstatus.h"

/* Prints a parsed bounce to f: with json, one JSON object (answer_json_bounce(); indented when
 * pretty) and a newline; else a line per recipient and its details indented under it. Returns
 * 0, or -1 when out of memory or the write failed. */
int bounce_print(FILE *f, int json, int pretty, const char *format, const char *reporting_mta,
                 int truncated, const smtpstatus_bounce_recipient *r, size_t n);

/* Prints an error to the output as the CLI does: {"error": {"message": ...}} with json, else
 * "smtpstatus: bounce: MESSAGE" on stderr. */
void bounce_print_error(int json, const char *message);

#endif

/*
 * The arguments of the smtpstatus subcommands, read as what they mean: words joined into one
 * text, standard input for "-", and enhanced codes parsed by the library. Each helper that can
 * fail says why itself (through output.h) and returns an exit status (cli.h), so a subcommand
 * only passes that status on.
 */
#ifndef SMTPSTATUS_CLI_INPUT_H
#define SMTPSTATUS_CLI_INPUT_H

#include <stddef.h>

#include "smtpstatus.h"

/* The words w[0..n) joined by single spaces, in a new string (NULL when out of memory). */
char *join_words(char *const *w, size_t n);

/* The argument words as one text: standard input for a lone "-" (and, when `none_is_stdin`,
 * for no words at all), else the words joined by spaces. Returns 0 with *text (freed by the
 * caller) and *len, or an exit status. Blocks on standard input when it reads it. */
int text_argument(char *const *w, size_t n, int none_is_stdin, char **text, size_t *len);

/* Whether a word is meant as an enhanced code: digits, X and dots, with a dot ("5.1.1",
 * "X.1.1", and the mistyped "5.1" or "5..1"). */
int looks_like_code(const char *w);

/* Parses a code that may be class-free; on error reports it and returns EXIT_NOT_FOUND. */
int parse_code(const char *w, smtpstatus_code *code);

#endif

/*
 * utf8: the length of a well-formed UTF-8 sequence, for the writers that
 * must hand on text (error messages, JSON): a damaged file or a record may
 * hold any bytes.
 */
#ifndef EMBER_BASE_UTF8_H
#define EMBER_BASE_UTF8_H

#include <stddef.h>

/* Bytes of the well-formed UTF-8 sequence of 2-4 bytes at p (end: one past
 * the text), 0 when none starts there (ASCII is the caller's case). No
 * overlong forms, no surrogates, nothing past U+10FFFF. */
size_t em_utf8_len(const unsigned char *p, const unsigned char *end);

#endif

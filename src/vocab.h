/* Internal vocabulary helpers. */
#ifndef RS_VOCAB_H
#define RS_VOCAB_H

#include "revops/revops.h"

extern const char rs_builtin_first_names[], rs_builtin_last_names[], rs_builtin_nouns[],
    rs_builtin_suffixes[], rs_builtin_industries[], rs_builtin_stages[], rs_builtin_regions[];

/* Writes s as the inside of a compact JSON string (UTF-8 kept as is; quote,
 * backslash and control characters escaped). out needs 6 * len bytes.
 * Returns the bytes written. */
size_t rs_json_escape(const char *s, size_t len, char *out);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int rs_utf8_valid(const char *s, size_t len);

#endif

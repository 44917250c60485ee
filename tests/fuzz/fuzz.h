/*
 * fuzz.h - what the fuzz harnesses share.
 *
 * Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput() and
 * nothing else with external linkage.  Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer binary (make fuzz); linked with
 * replay.c instead it is a plain program that feeds it every committed
 * regression input and seed (make check).
 *
 * A harness must not leak, must not keep state between inputs, and must
 * treat every input as hostile: a crash, a sanitizer report or a leak is
 * the finding.
 */
#ifndef VS_FUZZ_H
#define VS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Write size bytes of data to a fresh temporary file and return its path
 * in path (at least 64 bytes), for loaders that only read files.  0 on
 * success; the caller unlinks it.
 */
int fuzz_tmpfile(const uint8_t *data, size_t size, char *path, size_t pathsz);

#endif

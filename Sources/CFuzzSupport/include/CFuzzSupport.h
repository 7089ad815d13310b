/* libFuzzer's driver, for fuzz targets whose `main` is Swift's (SwiftPM renames executables' main). */
#ifndef CFUZZSUPPORT_H
#define CFUZZSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Provided by libclang_rt.fuzzer when linking with -sanitize=fuzzer. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif

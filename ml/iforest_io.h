/* iforest_io: saving and loading a fitted isolation forest as msgpack (format 1). */
#ifndef PAT_ML_IFOREST_IO_H
#define PAT_ML_IFOREST_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ml/iforest.h"

#define IFOREST_FORMAT 1

/* Encode f into a new buffer (mem_free it). */
int iforest_save(const struct iforest *f, uint8_t **data, size_t *len, struct pat_err *err);
/* Decode a forest, checking everything: a truncated, corrupted or other-version model is
 * PAT_EINVAL with a message saying what is wrong, never a forest that could misbehave. */
int iforest_load(struct iforest *f, const uint8_t *data, size_t len, struct pat_err *err);

/* The same, to and from a file (written to a temporary name, then renamed). */
int iforest_save_file(const struct iforest *f, const char *path, struct pat_err *err);
int iforest_load_file(struct iforest *f, const char *path, struct pat_err *err);

#endif

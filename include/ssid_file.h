/*
 * ssid_file: whole files read into memory, for the configuration, the model
 * (the engine does no I/O: it parses buffers) and the mock cluster's
 * bootstrap file.
 */
#ifndef SSID_FILE_H
#define SSID_FILE_H

#include <stddef.h>

#include "ssi_model.h"

/* What any of them may hold at most. */
#define SSID_FILE_MAX (1024 * 1024)

/*
 * Read all of path (a pipe, or a file growing meanwhile, too) into a fresh
 * NUL-terminated buffer (*out, free()) of *len bytes. 0, -EFBIG past max
 * bytes, -ENOMEM or open/read's -errno; *failed (may be NULL) says which
 * step failed: "open" or "read".
 */
int ssid_file_read(const char *path, size_t max, char **out, size_t *len, const char **failed);

/*
 * Load and validate a model from a JSON file (ssi_model_load_buffer). 0,
 * -EINVAL (with *err), or an I/O -errno (err->message names the file).
 */
int ssid_file_load_model(struct ssi_model *m, const char *path, struct ssi_model_error *err);

#endif

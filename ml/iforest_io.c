/* iforest_io: see iforest_io.h. Trees travel as two binary blobs (tree offsets, nodes) in
 * little-endian, so a model is compact and loads with one pass of checks. A node's left child
 * must come after it: that one rule makes every path finite whatever the file says. */
#include "ml/iforest_io.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/le.h"
#include "lib/mem.h"

#define NODE_BYTES 16

static void pack_key(msgpack_packer *pk, const char *key)
{
	msgpack_pack_str(pk, strlen(key));
	msgpack_pack_str_body(pk, key, strlen(key));
}

int iforest_save(const struct iforest *f, uint8_t **data, size_t *len, struct pat_err *err)
{
	size_t starts_len = ((size_t)f->n_trees + 1) * 4, nodes_len = f->n_nodes * NODE_BYTES;
	uint8_t *starts = mem_alloc(starts_len), *nodes = mem_alloc(nodes_len);
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	int rv = 0;

	*data = NULL;
	*len = 0;
	if (starts == NULL || nodes == NULL) {
		mem_free(starts);
		mem_free(nodes);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	for (unsigned t = 0; t <= f->n_trees; t++)
		le_put32(starts + 4 * t, f->tree_start[t]);
	for (size_t i = 0; i < f->n_nodes; i++) {
		uint64_t bits;

		le_put32(nodes + i * NODE_BYTES, (uint32_t)f->nodes[i].feature);
		le_put32(nodes + i * NODE_BYTES + 4, f->nodes[i].left);
		memcpy(&bits, &f->nodes[i].value, 8);
		le_put64(nodes + i * NODE_BYTES + 8, bits);
	}
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	rv |= msgpack_pack_map(&pk, 7);
	pack_key(&pk, "format");
	rv |= msgpack_pack_uint64(&pk, IFOREST_FORMAT);
	pack_key(&pk, "n_cols");
	rv |= msgpack_pack_uint64(&pk, f->n_cols);
	pack_key(&pk, "sample_size");
	rv |= msgpack_pack_uint64(&pk, f->sample_size);
	pack_key(&pk, "n_trees");
	rv |= msgpack_pack_uint64(&pk, f->n_trees);
	pack_key(&pk, "seed");
	rv |= msgpack_pack_uint64(&pk, f->seed);
	pack_key(&pk, "tree_start");
	rv |= msgpack_pack_bin(&pk, starts_len);
	rv |= msgpack_pack_bin_body(&pk, starts, starts_len);
	pack_key(&pk, "nodes");
	rv |= msgpack_pack_bin(&pk, nodes_len);
	rv |= msgpack_pack_bin_body(&pk, nodes, nodes_len);
	mem_free(starts);
	mem_free(nodes);
	if (rv == 0 && (*data = mem_alloc(sbuf.size)) != NULL) {
		memcpy(*data, sbuf.data, sbuf.size);
		*len = sbuf.size;
	}
	msgpack_sbuffer_destroy(&sbuf);
	return *data != NULL ? PAT_OK : err_set(err, PAT_ENOMEM, "out of memory encoding the model");
}

static int bad(struct pat_err *err, const char *what)
{
	return err_set(err, PAT_EINVAL, "not a valid model: %s", what);
}

/* Check one tree's nodes [start, end). */
static int check_tree(const struct iforest *f, uint32_t start, uint32_t end, struct pat_err *err)
{
	for (uint32_t i = start; i < end; i++) {
		const struct iforest_node *n = &f->nodes[i];

		if (!isfinite(n->value))
			return bad(err, "a node value is not a finite number");
		if (n->feature < 0) {
			if (n->feature != -1 || n->value < 0)
				return bad(err, "a malformed leaf");
			continue;
		}
		if ((unsigned)n->feature >= f->n_cols)
			return bad(err, "a split on a column the model does not have");
		if (n->left <= i || n->left + 1 >= end)
			return bad(err, "a split whose children are out of place");
	}
	return PAT_OK;
}

int iforest_load(struct iforest *f, const uint8_t *data, size_t len, struct pat_err *err)
{
	msgpack_unpacked msg;
	size_t off = 0;
	uint64_t format = 0, n_cols = 0, sample = 0, n_trees = 0, seed = 0;
	const msgpack_object_bin *starts = NULL, *nodes = NULL;
	int rv = PAT_OK, found = 0;

	memset(f, 0, sizeof *f);
	msgpack_unpacked_init(&msg);
	if (msgpack_unpack_next(&msg, (const char *)data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    msg.data.type != MSGPACK_OBJECT_MAP) {
		rv = bad(err, "not a msgpack map (truncated or another kind of file)");
		goto out;
	}
	if (off != len) {
		rv = bad(err, "trailing bytes after the model");
		goto out;
	}
	for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
		const msgpack_object *k = &msg.data.via.map.ptr[i].key, *v = &msg.data.via.map.ptr[i].val;
		static const char *const names[] = { "format", "n_cols", "sample_size", "n_trees", "seed" };
		uint64_t *targets[] = { &format, &n_cols, &sample, &n_trees, &seed };
		bool known = false;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		for (int j = 0; j < 5; j++) {
			if (k->via.str.size == strlen(names[j]) && memcmp(k->via.str.ptr, names[j], k->via.str.size) == 0) {
				if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
					rv = bad(err, "a count that is not a number");
					goto out;
				}
				*targets[j] = v->via.u64;
				found |= 1 << j;
				known = true;
			}
		}
		if (known)
			continue;
		if (v->type == MSGPACK_OBJECT_BIN && k->via.str.size == 10 && memcmp(k->via.str.ptr, "tree_start", 10) == 0)
			starts = &v->via.bin, found |= 1 << 5;
		else if (v->type == MSGPACK_OBJECT_BIN && k->via.str.size == 5 && memcmp(k->via.str.ptr, "nodes", 5) == 0)
			nodes = &v->via.bin, found |= 1 << 6;
	}
	if ((found & (1 << 0)) && format != IFOREST_FORMAT) {
		rv = err_set(err, PAT_EINVAL, "model format %llu is not supported (this Pat reads format %d)",
			     (unsigned long long)format, IFOREST_FORMAT);
		goto out;
	}
	if (found != 0x7f) {
		rv = bad(err, "fields are missing");
		goto out;
	}
	if (n_cols == 0 || n_cols > INT32_MAX || n_trees == 0 || n_trees > 1000000 || sample == 0 || sample > UINT32_MAX)
		rv = bad(err, "counts out of range");
	else if (starts->size != (n_trees + 1) * 4 || nodes->size % NODE_BYTES != 0 || nodes->size / NODE_BYTES < n_trees ||
		 nodes->size / NODE_BYTES > UINT32_MAX)
		rv = bad(err, "tree tables of the wrong size");
	if (rv != PAT_OK)
		goto out;
	f->n_cols = (unsigned)n_cols;
	f->n_trees = (unsigned)n_trees;
	f->sample_size = (unsigned)sample;
	f->seed = seed;
	f->n_nodes = nodes->size / NODE_BYTES;
	f->tree_start = mem_alloc((n_trees + 1) * sizeof *f->tree_start);
	f->nodes = mem_alloc(f->n_nodes * sizeof *f->nodes);
	if (f->tree_start == NULL || f->nodes == NULL) {
		rv = err_set(err, PAT_ENOMEM, "out of memory");
		goto out;
	}
	for (uint64_t t = 0; t <= n_trees; t++)
		f->tree_start[t] = le_get32((const uint8_t *)starts->ptr + 4 * t);
	for (size_t i = 0; i < f->n_nodes; i++) {
		const uint8_t *p = (const uint8_t *)nodes->ptr + i * NODE_BYTES;
		uint64_t bits = le_get64(p + 8);

		f->nodes[i].feature = (int32_t)le_get32(p);
		f->nodes[i].left = le_get32(p + 4);
		memcpy(&f->nodes[i].value, &bits, 8);
	}
	if (f->tree_start[0] != 0 || f->tree_start[n_trees] != f->n_nodes) {
		rv = bad(err, "tree offsets do not cover the nodes");
		goto out;
	}
	/* All offsets first, so that no tree's range can reach past the nodes. */
	for (unsigned t = 0; t < n_trees && rv == PAT_OK; t++)
		if (f->tree_start[t + 1] <= f->tree_start[t])
			rv = bad(err, "tree offsets out of order");
	for (unsigned t = 0; t < n_trees && rv == PAT_OK; t++)
		rv = check_tree(f, f->tree_start[t], f->tree_start[t + 1], err);
	f->c_psi = iforest_c((double)f->sample_size);
	if (rv == PAT_OK && iforest_prepare(f) != PAT_OK)
		rv = err_set(err, PAT_ENOMEM, "out of memory");
out:
	msgpack_unpacked_destroy(&msg);
	if (rv != PAT_OK)
		iforest_free(f);
	return rv;
}

int iforest_save_file(const struct iforest *f, const char *path, struct pat_err *err)
{
	char tmp[4096];
	uint8_t *data;
	size_t len;
	FILE *out;
	int rv = iforest_save(f, &data, &len, err);

	if (rv != PAT_OK)
		return rv;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	out = fopen(tmp, "wb");
	if (out == NULL) {
		mem_free(data);
		return err_set_errno(err, PAT_EIO, errno, "cannot write %s", tmp);
	}
	if (fwrite(data, 1, len, out) != len || fflush(out) != 0 || fsync(fileno(out)) != 0) {
		rv = err_set_errno(err, PAT_EIO, errno, "cannot write %s", tmp);
		fclose(out);
		unlink(tmp);
	} else if (fclose(out) != 0 || rename(tmp, path) != 0) {
		rv = err_set_errno(err, PAT_EIO, errno, "cannot write %s", path);
		unlink(tmp);
	}
	mem_free(data);
	return rv;
}

int iforest_load_file(struct iforest *f, const char *path, struct pat_err *err)
{
	FILE *in = fopen(path, "rb");
	struct buf data = BUF_INIT;
	int rv;

	memset(f, 0, sizeof *f);
	if (in == NULL)
		return err_set_errno(err, PAT_EIO, errno, "cannot read %s", path);
	rv = buf_read_stream(&data, in);
	fclose(in);
	if (rv != PAT_OK) {
		buf_free(&data);
		return err_set(err, rv, "cannot read %s: %s", path, rv == PAT_ENOMEM ? "out of memory" : "read error");
	}
	rv = iforest_load(f, (const uint8_t *)buf_str(&data), data.len, err);
	buf_free(&data);
	if (rv != PAT_OK)
		err_prefix(err, "%s", path);
	return rv;
}

/*
 * pv_util.h - helpers the providers shipped with vmsweep share.
 *
 * An implementation detail of our own providers, not part of the plugin
 * ABI: each provider's .so compiles this file (and src/buf.c) in, and
 * providers/provider.map keeps every symbol but vmsweep_provider local,
 * so the copies in several providers and in the core never meet.  A
 * third-party provider needs only provider.h.
 *
 * For the growable buffer, providers use the core's struct vs_buf
 * (buf.h); here are the few things buf.h does not have.
 *
 * Ownership is said per function.  Threading: every function is safe
 * from several threads on different objects; a struct pv_strmap has one
 * owner at a time.
 */
#ifndef VS_PV_UTIL_H
#define VS_PV_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "provider.h"

#pragma GCC visibility push(hidden)

/* Overwrite the buffer's memory, then release it; for buffers that held
 * a secret (a password form, a header with a token).  NULL is fine. */
void pv_buf_release_secret(struct vs_buf *b);

/* strdup that accepts NULL (and returns NULL for it). */
char *pv_strdup(const char *s);
/* Free a string after overwriting it; for passwords and tokens. */
void pv_free_secret(char *s);

/*
 * Copy untrusted text (a VM name, a server's message) into dst for a
 * one-line message: control bytes become '?', and the copy is cut at
 * dstsz - 1 bytes (with "..." when cut, on a UTF-8 character boundary).
 * Returns dst.
 */
const char *pv_clean(char *dst, size_t dstsz, const char *s);
/*
 * pv_clean, except that line breaks and tabs become spaces: for messages
 * whose lines belong together ("...\n-Please stop the VM first.").
 */
const char *pv_clean_ws(char *dst, size_t dstsz, const char *s);

/* Case-insensitive ASCII equality; NULL equals only NULL. */
int pv_streq_ci(const char *a, const char *b);
/* Whether needle occurs in hay, ASCII case ignored; 0 when either is
 * NULL, 1 for an empty needle. */
int pv_contains_ci(const char *hay, const char *needle);

/* FNV-1a of a string: ids and URLs are short and not chosen to collide. */
uint64_t pv_hash(const char *s);

/* A map from string to string (both owned copies); zero it to init. */
struct pv_strmap {
	char **keys, **values;
	size_t n, cap; /* cap is 0 or a power of two */
};
/* Free every key and value and leave an empty map; NULL is fine. */
void pv_strmap_release(struct pv_strmap *m);
/* The value for key, or NULL; *found says whether the key is there. */
const char *pv_strmap_get(const struct pv_strmap *m, const char *key,
			  int *found);
/* Insert or replace (value may be NULL); 0, or VS_ERR out of memory. */
int pv_strmap_put(struct pv_strmap *m, const char *key, const char *value);

/*
 * Ask about one VM whose deletion was requested: 0 with *state set (and
 * vm_err filled for VS_CONFIRM_FAILED), or VS_ERR with e filled when the
 * question could not be asked or answered.
 */
typedef int (*pv_confirm_one_fn)(void *ctx, struct vs_http *http,
				 const struct vs_vm *vm,
				 enum vs_confirm_state *state,
				 struct vs_error *vm_err, struct vs_error *e);

/*
 * confirm() one VM at a time: for vms[idx[i]] (vms[i] when idx is NULL),
 * i < n, set states[] through one.  A VM that could not be asked stays
 * PENDING.  Stops with VS_ERR (err filled) at the first auth or cancelled
 * failure, since no later question can work, or when every question
 * failed (err is the first failure).  Otherwise 0.
 */
int pv_confirm_each(void *ctx, pv_confirm_one_fn one, struct vs_http *http,
		    const struct vs_vm *const *vms, const size_t *idx, size_t n,
		    enum vs_confirm_state *states, struct vs_error *errs,
		    struct vs_error *err);

#pragma GCC visibility pop

#endif

/*
 * plugin.h - loading provider plugins and the services the core gives
 * them.
 *
 * A provider plugin is a shared object vmsweep-<type>.so exporting
 * VS_PROVIDER_SYMBOL (providers/provider.h).  vs_plugin_open() loads one
 * file with dlopen(RTLD_NOW | RTLD_LOCAL) and refuses it, with a one-line
 * message naming the file, when the symbol is missing, the ABI version
 * differs, ops->type does not match the file name or a mandatory
 * operation is NULL.
 *
 * A struct vs_plugin_set searches, in order: the --plugin-dir argument,
 * $VMSWEEP_PLUGIN_DIR, the build tree next to the binary
 * (dirname(/proc/self/exe)/providers) and VS_PLUGINDIR.  The first
 * directory holding vmsweep-<type>.so wins, even when that file is then
 * refused: falling back to an older copy elsewhere would hide the problem.
 *
 * vs_plugin_host() is the services table handed to every provider: HTTP
 * (vs_http_do), logging (vs_log), the process-wide run-cancel flag, an
 * interruptible sleep, RFC 3339 parsing and fan_out: per-item calls run
 * by the runner registered on the caller's struct vs_http
 * (vs_http_set_fan_out; the sweep's pool), or in order on that handle
 * when it has none.  fan_out skips calls after the lowest-index failure
 * seen so far and returns that failure, so its result does not depend on
 * the order the calls ran in.
 *
 * Ownership: a set owns its plugins and their handles; pointers it hands
 * out stay valid until vs_plugin_set_release().  Configurations made by
 * vs_plugin_make_config() borrow their strings from the struct vs_config
 * and own only the extra array.
 *
 * Threading: loading and sets are used by the main thread before and
 * after the workers.  vs_plugin_host() services, vs_plugin_cancel() and
 * vs_plugin_cancelled() are safe from any thread (not from a signal
 * handler).
 */
#ifndef VS_PLUGIN_H
#define VS_PLUGIN_H

#include <stddef.h>

#include "config.h"
#include "provider.h"

struct vs_plugin {
	char *path; /* the file it came from */
	void *handle;
	const struct vs_provider_ops *ops;
};

/*
 * Load the plugin at path and check it.  The type is taken from the file
 * name (vmsweep-<type>.so).  On success *out is a new plugin (free with
 * vs_plugin_free); on failure err names the file and why, and nothing is
 * left loaded.
 */
int vs_plugin_open(struct vs_plugin **out, const char *path,
		   struct vs_error *err);
/* Unload; NULL is fine. */
void vs_plugin_free(struct vs_plugin *p);

struct vs_plugin_set {
	char **dirs; /* search order, duplicates removed */
	size_t n_dirs;
	struct vs_plugin **items; /* loaded so far */
	size_t n;
};

/*
 * Compute the search directories.  plugin_dir is --plugin-dir or NULL.
 * Returns VS_ERR only when out of memory.
 */
int vs_plugin_set_init(struct vs_plugin_set *ps, const char *plugin_dir,
		       struct vs_error *err);
/* Search exactly dirs[0..n) (tests). */
int vs_plugin_set_init_dirs(struct vs_plugin_set *ps, const char *const *dirs,
			    size_t n, struct vs_error *err);
void vs_plugin_set_release(struct vs_plugin_set *ps);

/*
 * The plugin for type, loaded on first use from the first directory that
 * has vmsweep-<type>.so.  *out is owned by the set.  Fails with class
 * config when no directory has it (the message lists the directories) or
 * when the file is refused.
 */
int vs_plugin_set_get(struct vs_plugin_set *ps, const char *type,
		      const struct vs_plugin **out, struct vs_error *err);

/*
 * Load every vmsweep-*.so in the search directories (the first file per
 * type wins, as for vs_plugin_set_get) and call refused() for each file
 * that could not be loaded.  Returns the number refused.
 */
size_t vs_plugin_set_load_all(struct vs_plugin_set *ps,
			      void (*refused)(const char *path,
					      const struct vs_error *err,
					      void *udata),
			      void *udata);

/*
 * Build the configuration handed to ops->open() for provider entry p,
 * after checking p's extra keys against ops->keys (class config,
 * "file:line:col: message").  Run timeouts come from cfg.  Release with
 * vs_plugin_config_release().
 */
int vs_plugin_make_config(struct vs_provider_config *out,
			  const struct vs_provider_ops *ops,
			  const struct vs_config *cfg,
			  const struct vs_config_provider *p,
			  struct vs_error *err);
void vs_plugin_config_release(struct vs_provider_config *pc);

/* The services table for providers; static storage. */
const struct vs_host *vs_plugin_host(void);

/*
 * The process-wide run-cancel flag the host's cancelled() reports.
 * Setting it wakes every sleep_ms() at once.  reset is for tests and for
 * a second run in one process.
 */
void vs_plugin_cancel(void);
int vs_plugin_cancelled(void);
void vs_plugin_reset_cancel(void);
/* The host's sleep: up to ms, 1 when woken by vs_plugin_cancel(). */
int vs_plugin_sleep_ms(long ms);

#endif

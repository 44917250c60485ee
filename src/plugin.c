/*
 * plugin.c - provider plugins: search, dlopen, checks, host services.
 *
 * DESIGN: the run-cancel flag is one process-wide atomic int, written
 * under cancel_mu so that every sleeper waiting on cancel_cv (a
 * CLOCK_MONOTONIC condition variable) is woken by the broadcast; readers
 * on the hot path (cancelled()) only load the atomic.  fan_out's calls
 * run on the sweep's workers (see host_fan_out).  Everything else in this
 * file runs on the main thread.
 */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"

#ifndef VS_PLUGINDIR
#define VS_PLUGINDIR "/usr/local/lib/vmsweep"
#endif

#define PREFIX	 "vmsweep-"
#define SUFFIX	 ".so"
#define TYPE_MAX 64

/* ------------------------------------------------------------------ */
/* Cancellation and sleep.                                              */

static atomic_int cancel_flag;
static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cv;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;

static void cancel_init(void)
{
	pthread_condattr_t ca;

	/* A monotonic clock so that a wall-clock step cannot stretch a
	 * backoff sleep. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cancel_cv, &ca);
	pthread_condattr_destroy(&ca);
}

void vs_plugin_cancel(void)
{
	pthread_once(&cancel_once, cancel_init);
	pthread_mutex_lock(&cancel_mu);
	atomic_store(&cancel_flag, 1);
	pthread_cond_broadcast(&cancel_cv);
	pthread_mutex_unlock(&cancel_mu);
}

int vs_plugin_cancelled(void)
{
	return atomic_load(&cancel_flag);
}

void vs_plugin_reset_cancel(void)
{
	pthread_mutex_lock(&cancel_mu);
	atomic_store(&cancel_flag, 0);
	pthread_mutex_unlock(&cancel_mu);
}

int vs_plugin_sleep_ms(long ms)
{
	struct timespec dl;
	int woken;

	pthread_once(&cancel_once, cancel_init);
	if (ms < 0)
		ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&cancel_mu);
	while (!atomic_load(&cancel_flag)) {
		if (pthread_cond_timedwait(&cancel_cv, &cancel_mu, &dl) ==
		    ETIMEDOUT)
			break;
	}
	woken = atomic_load(&cancel_flag);
	pthread_mutex_unlock(&cancel_mu);
	return woken;
}

static int host_cancelled(void)
{
	return vs_plugin_cancelled();
}

/*
 * The host's fan_out.  The calls run through the runner registered on
 * the caller's handle (the sweep's pool: vs_http_set_fan_out), or in
 * order on that handle when there is none.  Either way each call gets an
 * error of its own; the one with the lowest index is kept, and a call
 * above that index is not started any more (it could not change which
 * error is returned), so the outcome does not depend on the order in
 * which the calls ran.
 */
#define FAN_NONE ((size_t)-1)

struct fan {
	int (*fn)(struct vs_http *http, size_t i, void *udata,
		  struct vs_error *err);
	void *udata;
	atomic_size_t started;
	atomic_size_t failed_at; /* the lowest failed index, or FAN_NONE */
	pthread_mutex_t lock;	 /* err */
	struct vs_error err;	 /* of failed_at */
};

static void fan_call(struct vs_http *http, size_t i, void *arg)
{
	struct fan *f = arg;
	struct vs_error e;

	if (i > atomic_load(&f->failed_at) || vs_plugin_cancelled())
		return;
	atomic_fetch_add(&f->started, 1);
	vs_error_clear(&e);
	if (f->fn(http, i, f->udata, &e) == VS_OK)
		return;
	if (e.cls == VS_EC_NONE)
		vs_error_set(&e, VS_EC_INTERNAL, 0, 0,
			     "call %zu of a fan-out failed without a reason",
			     i);
	pthread_mutex_lock(&f->lock);
	if (i < atomic_load(&f->failed_at)) {
		f->err = e;
		atomic_store(&f->failed_at, i);
	}
	pthread_mutex_unlock(&f->lock);
}

static int host_fan_out(struct vs_http *http, size_t n, unsigned int width,
			int (*fn)(struct vs_http *http, size_t i, void *udata,
				  struct vs_error *err),
			void *udata, struct vs_error *err)
{
	vs_http_fan_out_fn run;
	void *run_udata;
	struct fan f;
	size_t i;
	int rc = VS_OK;

	memset(&f, 0, sizeof(f));
	f.fn = fn;
	f.udata = udata;
	atomic_init(&f.started, 0);
	atomic_init(&f.failed_at, FAN_NONE);
	pthread_mutex_init(&f.lock, NULL);
	run = http ? vs_http_get_fan_out(http, &run_udata) : NULL;
	if (run && n > 1) {
		run(run_udata, http, n, width, fan_call, &f);
	} else {
		for (i = 0; i < n && atomic_load(&f.failed_at) == FAN_NONE &&
			    !vs_plugin_cancelled();
		     i++)
			fan_call(http, i, &f);
	}
	/* The runner returned after every call ended: no lock needed. */
	if (atomic_load(&f.failed_at) != FAN_NONE) {
		if (err && err->cls == VS_EC_NONE)
			*err = f.err;
		rc = VS_ERR;
	} else if (atomic_load(&f.started) < n) {
		rc = vs_error_set(err, VS_EC_CANCELLED, 0, 0,
				  "stopped before all %zu calls ran", n);
	}
	pthread_mutex_destroy(&f.lock);
	return rc;
}

static const struct vs_host host = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.http_do = vs_http_do,
	.http_response_release = vs_http_response_release,
	.http_header = vs_http_header,
	.log = vs_log,
	.log_enabled = vs_log_enabled,
	.cancelled = host_cancelled,
	.sleep_ms = vs_plugin_sleep_ms,
	.parse_time = vs_time_parse,
	.fan_out = host_fan_out,
};

const struct vs_host *vs_plugin_host(void)
{
	return &host;
}

/* ------------------------------------------------------------------ */
/* One plugin file.                                                     */

/*
 * The type a file name declares: "vmsweep-osp.so" gives "osp".  Returns
 * VS_ERR when the name is not of that form.
 */
static int type_from_path(const char *path, char *type, size_t sz)
{
	const char *base = strrchr(path, '/');
	size_t blen, tlen;

	base = base ? base + 1 : path;
	blen = strlen(base);
	if (blen <= strlen(PREFIX) + strlen(SUFFIX) ||
	    strncmp(base, PREFIX, strlen(PREFIX)) != 0 ||
	    strcmp(base + blen - strlen(SUFFIX), SUFFIX) != 0)
		return VS_ERR;
	tlen = blen - strlen(PREFIX) - strlen(SUFFIX);
	if (tlen >= sz)
		return VS_ERR;
	memcpy(type, base + strlen(PREFIX), tlen);
	type[tlen] = '\0';
	return VS_OK;
}

/* A type is a plain word: it becomes part of a file name. */
static int type_valid(const char *type)
{
	const char *p;

	if (!type || !*type || strlen(type) >= TYPE_MAX)
		return 0;
	for (p = type; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return 0;
	return 1;
}

static int check_ops(const struct vs_provider_ops *ops, const char *path,
		     const char *type, struct vs_error *err)
{
	const char *missing = NULL;

	if (ops->abi_version != VS_PROVIDER_ABI_VERSION)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: provider ABI version %u, vmsweep "
				    "expects %u",
				    path, ops->abi_version,
				    VS_PROVIDER_ABI_VERSION);
	if (!ops->type || strcmp(ops->type, type) != 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: provider declares type '%s', the file "
				    "name says '%s'",
				    path, ops->type ? ops->type : "(none)",
				    type);
	if (!ops->open)
		missing = "open";
	else if (!ops->list)
		missing = "list";
	else if (!ops->remove)
		missing = "remove";
	else if (!ops->probe)
		missing = "probe";
	else if (!ops->close)
		missing = "close";
	else if ((ops->caps & VS_CAP_CONFIRM) && !ops->confirm)
		missing = "confirm";
	if (missing)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: provider has no '%s' operation", path,
				    missing);
	return VS_OK;
}

int vs_plugin_open(struct vs_plugin **out, const char *path,
		   struct vs_error *err)
{
	char type[TYPE_MAX];
	struct vs_plugin *p = NULL;
	void *handle = NULL;
	const struct vs_provider_ops *ops;
	const char *dlerr;
	int rc = VS_ERR;

	*out = NULL;
	if (type_from_path(path, type, sizeof(type)) != VS_OK) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: not a provider file name (vmsweep-TYPE.so)",
			     path);
		goto out;
	}
	if (access(path, F_OK) != 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: no such file", path);
		goto out;
	}
	dlerror();
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		dlerr = dlerror();
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: cannot load: %s",
			     path, dlerr ? dlerr : "unknown error");
		goto out;
	}
	ops = (const struct vs_provider_ops *)dlsym(handle, VS_PROVIDER_SYMBOL);
	if (!ops) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: not a vmsweep provider (no symbol '%s')",
			     path, VS_PROVIDER_SYMBOL);
		goto out;
	}
	if (check_ops(ops, path, type, err) != VS_OK)
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	p->handle = handle;
	p->ops = ops;
	handle = NULL;
	*out = p;
	p = NULL;
	rc = VS_OK;
out:
	if (handle)
		dlclose(handle);
	if (p)
		free(p->path);
	free(p);
	return rc;
}

void vs_plugin_free(struct vs_plugin *p)
{
	if (!p)
		return;
	if (p->handle)
		dlclose(p->handle);
	free(p->path);
	free(p);
}

/* ------------------------------------------------------------------ */
/* Sets and search directories.                                         */

static int set_add_dir(struct vs_plugin_set *ps, const char *dir)
{
	char **nd;
	size_t i;

	if (!dir || !*dir)
		return VS_OK;
	for (i = 0; i < ps->n_dirs; i++)
		if (strcmp(ps->dirs[i], dir) == 0)
			return VS_OK;
	nd = realloc(ps->dirs, (ps->n_dirs + 1) * sizeof(*nd));
	if (!nd)
		return VS_ERR;
	ps->dirs = nd;
	if (!(nd[ps->n_dirs] = strdup(dir)))
		return VS_ERR;
	ps->n_dirs++;
	return VS_OK;
}

/* dirname(/proc/self/exe)/providers into out; VS_ERR when unknown. */
static int exe_plugin_dir(char *out, size_t sz)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;
	int w;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return VS_ERR;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return VS_ERR;
	*slash = '\0';
	w = snprintf(out, sz, "%s/providers", exe);
	if (w < 0 || (size_t)w >= sz)
		return VS_ERR;
	return VS_OK;
}

int vs_plugin_set_init_dirs(struct vs_plugin_set *ps, const char *const *dirs,
			    size_t n, struct vs_error *err)
{
	size_t i;

	memset(ps, 0, sizeof(*ps));
	for (i = 0; i < n; i++) {
		if (set_add_dir(ps, dirs[i]) != VS_OK) {
			vs_plugin_set_release(ps);
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		}
	}
	return VS_OK;
}

int vs_plugin_set_init(struct vs_plugin_set *ps, const char *plugin_dir,
		       struct vs_error *err)
{
	char exe_dir[PATH_MAX];
	const char *dirs[4];
	size_t n = 0;

	if (plugin_dir)
		dirs[n++] = plugin_dir;
	if (getenv("VMSWEEP_PLUGIN_DIR"))
		dirs[n++] = getenv("VMSWEEP_PLUGIN_DIR");
	if (exe_plugin_dir(exe_dir, sizeof(exe_dir)) == VS_OK)
		dirs[n++] = exe_dir;
	dirs[n++] = VS_PLUGINDIR;
	return vs_plugin_set_init_dirs(ps, dirs, n, err);
}

void vs_plugin_set_release(struct vs_plugin_set *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		vs_plugin_free(ps->items[i]);
	free(ps->items);
	for (i = 0; i < ps->n_dirs; i++)
		free(ps->dirs[i]);
	free(ps->dirs);
	memset(ps, 0, sizeof(*ps));
}

static const struct vs_plugin *set_find(const struct vs_plugin_set *ps,
					const char *type)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->items[i]->ops->type, type) == 0)
			return ps->items[i];
	return NULL;
}

static int set_push(struct vs_plugin_set *ps, struct vs_plugin *p)
{
	struct vs_plugin **ni;

	ni = realloc(ps->items, (ps->n + 1) * sizeof(*ni));
	if (!ni)
		return VS_ERR;
	ps->items = ni;
	ps->items[ps->n++] = p;
	return VS_OK;
}

/* Load path into the set; the plugin is then owned by the set. */
static int set_load(struct vs_plugin_set *ps, const char *path,
		    const struct vs_plugin **out, struct vs_error *err)
{
	struct vs_plugin *p = NULL;

	if (vs_plugin_open(&p, path, err) != VS_OK)
		return VS_ERR;
	if (set_push(ps, p) != VS_OK) {
		vs_plugin_free(p);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	}
	if (out)
		*out = p;
	return VS_OK;
}

int vs_plugin_set_get(struct vs_plugin_set *ps, const char *type,
		      const struct vs_plugin **out, struct vs_error *err)
{
	struct vs_buf path, tried;
	struct stat st;
	size_t i;
	int rc = VS_ERR;

	vs_buf_init(&path, PATH_MAX);
	vs_buf_init(&tried, 4096);
	*out = NULL;
	if (!type_valid(type)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "invalid provider type '%s'", type ? type : "");
		goto out;
	}
	if ((*out = set_find(ps, type))) {
		rc = VS_OK;
		goto out;
	}
	for (i = 0; i < ps->n_dirs; i++) {
		vs_buf_reset(&path);
		if (vs_buf_addf(&path, "%s/" PREFIX "%s" SUFFIX, ps->dirs[i],
				type) != 0)
			continue;
		vs_buf_addf(&tried, "%s%s", i ? ", " : "", ps->dirs[i]);
		if (stat(path.s, &st) != 0)
			continue;
		rc = set_load(ps, path.s, out, err);
		goto out;
	}
	vs_error_set(err, VS_EC_CONFIG, 0, 0,
		     "no provider plugin for type '%s' (looked for "
		     "vmsweep-%s.so in %s)",
		     type, type, tried.len ? tried.s : "no directory");
out:
	vs_buf_release(&path);
	vs_buf_release(&tried);
	return rc;
}

static int plugin_file_filter(const struct dirent *d)
{
	char type[TYPE_MAX];

	return type_from_path(d->d_name, type, sizeof(type)) == VS_OK;
}

size_t vs_plugin_set_load_all(struct vs_plugin_set *ps,
			      void (*refused)(const char *path,
					      const struct vs_error *err,
					      void *udata),
			      void *udata)
{
	struct vs_buf path;
	struct dirent **names;
	size_t i, refused_n = 0;
	int j, n;

	vs_buf_init(&path, PATH_MAX);
	for (i = 0; i < ps->n_dirs; i++) {
		n = scandir(ps->dirs[i], &names, plugin_file_filter, alphasort);
		if (n < 0)
			continue;
		for (j = 0; j < n; j++) {
			struct vs_error err;
			char type[TYPE_MAX];

			vs_error_clear(&err);
			vs_buf_reset(&path);
			if (type_from_path(names[j]->d_name, type,
					   sizeof(type)) != VS_OK ||
			    set_find(ps, type) ||
			    vs_buf_addf(&path, "%s/%s", ps->dirs[i],
					names[j]->d_name) != 0)
				continue;
			if (set_load(ps, path.s, NULL, &err) != VS_OK) {
				refused_n++;
				if (refused)
					refused(path.s, &err, udata);
			}
		}
		for (j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	vs_buf_release(&path);
	return refused_n;
}

/* ------------------------------------------------------------------ */
/* Provider configuration.                                              */

static const struct vs_key_spec no_keys[] = {{NULL, 0, NULL}};

int vs_plugin_make_config(struct vs_provider_config *out,
			  const struct vs_provider_ops *ops,
			  const struct vs_config *cfg,
			  const struct vs_config_provider *p,
			  struct vs_error *err)
{
	struct vs_kv *extra = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (vs_config_check_provider_keys(
		    cfg, p, ops->keys ? ops->keys : no_keys, err) != VS_OK)
		return VS_ERR;
	if (p->n_extra) {
		extra = calloc(p->n_extra, sizeof(*extra));
		if (!extra)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		for (i = 0; i < p->n_extra; i++) {
			extra[i].key = p->extra[i].key;
			extra[i].value = p->extra[i].value;
		}
	}
	out->name = p->name;
	out->type = p->type;
	out->url = p->url;
	out->username = p->username;
	out->password = p->password;
	out->ca_file = p->ca_file;
	out->insecure = p->insecure;
	out->max_concurrency = p->max_concurrency;
	out->delete_timeout_ms = (long)cfg->delete_timeout_ms;
	out->request_timeout_ms = (long)cfg->request_timeout_ms;
	out->extra = extra;
	out->n_extra = p->n_extra;
	out->config_path = cfg->path;
	out->strict = cfg->strict;
	return VS_OK;
}

void vs_plugin_config_release(struct vs_provider_config *pc)
{
	if (!pc)
		return;
	/* The array is ours; its strings belong to the configuration. */
	free((void *)pc->extra);
	memset(pc, 0, sizeof(*pc));
}

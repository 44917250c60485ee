/*
 * test_plugin.c - the provider loader, the search order, the provider
 * configuration and the host services.
 *
 * The test plugins are built from fake_provider.c into
 * build/asan/testplugins next to build/asan/tests/test_plugin.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "plugin.h"

static char plugdir[PATH_MAX];

static void path_of(char *out, size_t sz, const char *dir, const char *name)
{
	int n = snprintf(out, sz, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < sz);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(from, O_RDONLY);
	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

static void make_tmpdir(char *out, size_t sz)
{
	int n = snprintf(out, sz, "/tmp/vs-test-plugin-XXXXXX");

	assert_true(n > 0 && (size_t)n < sz);
	assert_non_null(mkdtemp(out));
}

static void rm_tree(const char *dir, const char *const *files, size_t n)
{
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		path_of(p, sizeof(p), dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void test_load_fake(void **st)
{
	struct vs_plugin *p = NULL;
	struct vs_error err;
	char path[PATH_MAX];

	(void)st;
	vs_error_clear(&err);
	path_of(path, sizeof(path), plugdir, "vmsweep-fake.so");
	assert_int_equal(vs_plugin_open(&p, path, &err), VS_OK);
	assert_non_null(p);
	assert_int_equal(err.cls, VS_EC_NONE);
	assert_string_equal(p->path, path);
	assert_int_equal(p->ops->abi_version, VS_PROVIDER_ABI_VERSION);
	assert_string_equal(p->ops->type, "fake");
	assert_non_null(p->ops->open);
	assert_non_null(p->ops->list);
	assert_null(p->ops->confirm);
	vs_plugin_free(p);
}

static void test_badabi_refused(void **st)
{
	struct vs_plugin *p = NULL;
	struct vs_error err;
	char path[PATH_MAX], want[PATH_MAX + 64];

	(void)st;
	vs_error_clear(&err);
	path_of(path, sizeof(path), plugdir, "vmsweep-badabi.so");
	assert_int_equal(vs_plugin_open(&p, path, &err), VS_ERR);
	assert_null(p);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	snprintf(want, sizeof(want),
		 "%s: provider ABI version 999, vmsweep expects %u", path,
		 VS_PROVIDER_ABI_VERSION);
	assert_string_equal(err.message, want);
}

static void test_nosym_refused(void **st)
{
	struct vs_plugin *p = NULL;
	struct vs_error err;
	char path[PATH_MAX];

	(void)st;
	vs_error_clear(&err);
	path_of(path, sizeof(path), plugdir, "vmsweep-nosym.so");
	assert_int_equal(vs_plugin_open(&p, path, &err), VS_ERR);
	assert_null(p);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, VS_PROVIDER_SYMBOL));
}

static void test_missing_file(void **st)
{
	struct vs_plugin_set ps;
	const struct vs_plugin *got = (const struct vs_plugin *)1;
	struct vs_plugin *p = NULL;
	struct vs_error err;
	const char *dirs[] = {"/nonexistent/a", plugdir};
	char path[PATH_MAX];

	(void)st;
	vs_error_clear(&err);
	path_of(path, sizeof(path), plugdir, "vmsweep-absent.so");
	assert_int_equal(vs_plugin_open(&p, path, &err), VS_ERR);
	assert_null(p);
	assert_non_null(strstr(err.message, path));

	vs_error_clear(&err);
	assert_int_equal(vs_plugin_set_init_dirs(&ps, dirs, 2, &err), VS_OK);
	assert_int_equal(vs_plugin_set_get(&ps, "absent", &got, &err), VS_ERR);
	assert_null(got);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "vmsweep-absent.so"));
	assert_non_null(strstr(err.message, "/nonexistent/a"));
	assert_non_null(strstr(err.message, plugdir));

	/* A type that is not a plain word never reaches the file system. */
	vs_error_clear(&err);
	assert_int_equal(vs_plugin_set_get(&ps, "../fake", &got, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	vs_plugin_set_release(&ps);
}

static void test_type_must_match_file_name(void **st)
{
	struct vs_plugin *p = NULL;
	struct vs_error err;
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	const char *files[] = {"vmsweep-other.so"};

	(void)st;
	make_tmpdir(dir, sizeof(dir));
	path_of(from, sizeof(from), plugdir, "vmsweep-fake.so");
	path_of(to, sizeof(to), dir, "vmsweep-other.so");
	copy_file(from, to);
	vs_error_clear(&err);
	assert_int_equal(vs_plugin_open(&p, to, &err), VS_ERR);
	assert_null(p);
	assert_non_null(strstr(err.message, to));
	assert_non_null(strstr(err.message, "'fake'"));
	assert_non_null(strstr(err.message, "'other'"));
	rm_tree(dir, files, 1);
}

/* --plugin-dir, then $VMSWEEP_PLUGIN_DIR, then the defaults. */
static void test_search_order(void **st)
{
	struct vs_plugin_set ps;
	const struct vs_plugin *got;
	struct vs_error err;
	char a[PATH_MAX], b[PATH_MAX], empty[PATH_MAX], from[PATH_MAX],
		to[PATH_MAX];
	const char *files[] = {"vmsweep-fake.so"};

	(void)st;
	make_tmpdir(a, sizeof(a));
	make_tmpdir(b, sizeof(b));
	make_tmpdir(empty, sizeof(empty));
	path_of(from, sizeof(from), plugdir, "vmsweep-fake.so");
	path_of(to, sizeof(to), a, "vmsweep-fake.so");
	copy_file(from, to);
	path_of(to, sizeof(to), b, "vmsweep-fake.so");
	copy_file(from, to);

	/* Both: --plugin-dir wins. */
	assert_int_equal(setenv("VMSWEEP_PLUGIN_DIR", b, 1), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_plugin_set_init(&ps, a, &err), VS_OK);
	assert_true(ps.n_dirs >= 3);
	assert_string_equal(ps.dirs[0], a);
	assert_string_equal(ps.dirs[1], b);
	assert_string_equal(ps.dirs[ps.n_dirs - 1], VS_PLUGINDIR);
	assert_int_equal(vs_plugin_set_get(&ps, "fake", &got, &err), VS_OK);
	path_of(to, sizeof(to), a, "vmsweep-fake.so");
	assert_string_equal(got->path, to);
	/* A second get returns the loaded plugin. */
	assert_int_equal(vs_plugin_set_get(&ps, "fake", &got, &err), VS_OK);
	assert_int_equal(ps.n, 1);
	vs_plugin_set_release(&ps);

	/* No --plugin-dir: the environment. */
	assert_int_equal(vs_plugin_set_init(&ps, NULL, &err), VS_OK);
	assert_string_equal(ps.dirs[0], b);
	assert_int_equal(vs_plugin_set_get(&ps, "fake", &got, &err), VS_OK);
	path_of(to, sizeof(to), b, "vmsweep-fake.so");
	assert_string_equal(got->path, to);
	vs_plugin_set_release(&ps);

	/* --plugin-dir without the file: the next directory has it. */
	assert_int_equal(vs_plugin_set_init(&ps, empty, &err), VS_OK);
	assert_int_equal(vs_plugin_set_get(&ps, "fake", &got, &err), VS_OK);
	assert_string_equal(got->path, to);
	vs_plugin_set_release(&ps);

	/* Neither: the build tree next to the binary comes first. */
	assert_int_equal(unsetenv("VMSWEEP_PLUGIN_DIR"), 0);
	assert_int_equal(vs_plugin_set_init(&ps, NULL, &err), VS_OK);
	assert_non_null(strstr(ps.dirs[0], "/providers"));
	assert_int_equal(err.cls, VS_EC_NONE);
	vs_plugin_set_release(&ps);

	rm_tree(a, files, 1);
	rm_tree(b, files, 1);
	rm_tree(empty, files, 0);
}

struct refusals {
	int n;
	int badabi, nosym;
};

static void on_refused(const char *path, const struct vs_error *err,
		       void *udata)
{
	struct refusals *r = udata;

	r->n++;
	assert_non_null(strstr(err->message, path));
	if (strstr(path, "vmsweep-badabi.so"))
		r->badabi++;
	if (strstr(path, "vmsweep-nosym.so"))
		r->nosym++;
}

static void test_load_all(void **st)
{
	struct vs_plugin_set ps;
	struct vs_error err;
	struct refusals r = {0, 0, 0};
	const char *dirs[] = {plugdir, "/nonexistent"};

	(void)st;
	vs_error_clear(&err);
	assert_int_equal(vs_plugin_set_init_dirs(&ps, dirs, 2, &err), VS_OK);
	assert_int_equal(vs_plugin_set_load_all(&ps, on_refused, &r), 2);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.badabi, 1);
	assert_int_equal(r.nosym, 1);
	assert_int_equal(ps.n, 1);
	assert_string_equal(ps.items[0]->ops->type, "fake");
	vs_plugin_set_release(&ps);
}

/* Load a configuration with one provider entry of type fake. */
static void fake_config(struct vs_config *cfg, const char *extra_key,
			const char *extra_value)
{
	char path[] = "/tmp/vs-test-plugin-XXXXXX";
	struct vs_error err;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f,
		"providers:\n"
		"  - name: lab\n"
		"    type: fake\n"
		"    url: https://fake.example.com\n"
		"    max_concurrency: 4\n"
		"    %s: %s\n"
		"run:\n"
		"  delete_timeout: 90s\n",
		extra_key, extra_value);
	assert_int_equal(fclose(f), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_config_load(cfg, path, &err), VS_OK);
	assert_int_equal(cfg->n_providers, 1);
	unlink(path);
}

static void test_config_and_host(void **st)
{
	struct vs_plugin_set ps;
	const struct vs_plugin *pl;
	struct vs_config cfg;
	struct vs_provider_config pc;
	struct vs_vm_list vms = {0};
	struct vs_error err;
	void *state = NULL;
	const char *dirs[] = {plugdir};

	(void)st;
	vs_error_clear(&err);
	fake_config(&cfg, "vms", "5");
	assert_int_equal(vs_plugin_set_init_dirs(&ps, dirs, 1, &err), VS_OK);
	assert_int_equal(vs_plugin_set_get(&ps, "fake", &pl, &err), VS_OK);
	assert_int_equal(vs_plugin_make_config(&pc, pl->ops, &cfg,
					       &cfg.providers[0], &err),
			 VS_OK);
	assert_string_equal(pc.name, "lab");
	assert_int_equal(pc.max_concurrency, 4);
	assert_int_equal(pc.delete_timeout_ms, 90000);
	assert_string_equal(pc.url, "https://fake.example.com");
	assert_string_equal(vs_provider_config_get(&pc, "vms"), "5");
	assert_int_equal(pc.strict, 0);
	assert_int_equal(
		pl->ops->open(&state, &pc, vs_plugin_host(), NULL, &err),
		VS_OK);
	assert_int_equal(pl->ops->list(state, NULL, &vms, &err), VS_OK);
	assert_int_equal(vms.n, 5);
	assert_string_equal(vms.items[4].name, "fake-4");
	pl->ops->close(state, NULL);
	vs_vm_list_release(&vms);
	vs_plugin_config_release(&pc);

	/* --strict reaches the provider. */
	cfg.strict = 1;
	assert_int_equal(vs_plugin_make_config(&pc, pl->ops, &cfg,
					       &cfg.providers[0], &err),
			 VS_OK);
	assert_int_equal(pc.strict, 1);
	vs_plugin_config_release(&pc);
	vs_config_release(&cfg);

	/* A key the plugin does not declare is a configuration error. */
	fake_config(&cfg, "bogus", "1");
	vs_error_clear(&err);
	assert_int_equal(vs_plugin_make_config(&pc, pl->ops, &cfg,
					       &cfg.providers[0], &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "bogus"));
	vs_config_release(&cfg);
	vs_plugin_set_release(&ps);
}

static void *sleeper(void *arg)
{
	int *woken = arg;

	/* Long enough that only the cancel can end it within the test. */
	*woken = vs_plugin_sleep_ms(60000);
	return NULL;
}

static void test_cancel_wakes_sleep(void **st)
{
	const struct vs_host *h = vs_plugin_host();
	pthread_t t;
	int woken = -1;

	(void)st;
	vs_plugin_reset_cancel();
	assert_int_equal(h->abi_version, VS_PROVIDER_ABI_VERSION);
	assert_int_equal(h->cancelled(), 0);
	assert_int_equal(h->sleep_ms(1), 0);
	assert_int_equal(pthread_create(&t, NULL, sleeper, &woken), 0);
	vs_plugin_cancel();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(woken, 1);
	assert_int_equal(h->cancelled(), 1);
	assert_int_equal(h->sleep_ms(60000), 1);
	vs_plugin_reset_cancel();
	assert_int_equal(h->cancelled(), 0);
}

static void test_host_parse_time(void **st)
{
	const struct vs_host *h = vs_plugin_host();
	int64_t t = 0;

	(void)st;
	assert_int_equal(h->parse_time("2024-05-01T04:01:32Z", &t), 0);
	assert_int_equal(t, 1714536092);
	assert_int_not_equal(h->parse_time("yesterday", &t), 0);
}

/* ------------------------------------------------------------------ */
/* fan_out.                                                             */

struct fan_rec {
	struct vs_http *want; /* the handle every call must get */
	int calls[64];
	size_t order[64], n_order;
	long fail[2];	/* indices that fail; -1 none */
	long cancel_at; /* index that cancels the run; -1 none */
	int bad;
};

static int rec_fn(struct vs_http *http, size_t i, void *udata,
		  struct vs_error *err)
{
	struct fan_rec *r = udata;

	if (http != r->want || i >= 64)
		r->bad++;
	r->calls[i]++;
	r->order[r->n_order++] = i;
	if ((long)i == r->cancel_at)
		vs_plugin_cancel();
	if ((long)i == r->fail[0] || (long)i == r->fail[1])
		return vs_error_set(err, VS_EC_SERVER, 500, 0, "lab: call %zu",
				    i);
	return VS_OK;
}

static void rec_init(struct fan_rec *r, struct vs_http *want)
{
	memset(r, 0, sizeof(*r));
	r->want = want;
	r->fail[0] = r->fail[1] = r->cancel_at = -1;
}

/* Without a runner: in order on the caller's handle. */
static void test_fan_out_in_order(void **st)
{
	const struct vs_host *h = vs_plugin_host();
	struct fan_rec r;
	struct vs_error err;
	size_t i;

	(void)st;
	vs_plugin_reset_cancel();
	rec_init(&r, NULL);
	vs_error_clear(&err);
	assert_int_equal(h->fan_out(NULL, 20, 4, rec_fn, &r, &err), VS_OK);
	assert_int_equal(r.n_order, 20);
	for (i = 0; i < 20; i++)
		assert_int_equal(r.order[i], i);
	assert_int_equal(h->fan_out(NULL, 0, 0, rec_fn, &r, &err), VS_OK);

	/* The first failure ends it and is returned. */
	rec_init(&r, NULL);
	r.fail[0] = 5;
	r.fail[1] = 9;
	assert_int_equal(h->fan_out(NULL, 20, 0, rec_fn, &r, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_SERVER);
	assert_string_equal(err.message, "lab: call 5");
	assert_int_equal(r.n_order, 6);

	/* Cancelled by call 3: the rest are skipped. */
	rec_init(&r, NULL);
	r.cancel_at = 3;
	vs_error_clear(&err);
	assert_int_equal(h->fan_out(NULL, 20, 0, rec_fn, &r, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CANCELLED);
	assert_int_equal(r.n_order, 4);
	assert_int_equal(r.bad, 0);
	vs_plugin_reset_cancel();
}

/* A runner that runs the calls backwards, as a pool might. */
static unsigned int seen_width;

static size_t backwards(void *udata, struct vs_http *h, size_t n,
			unsigned int width,
			void (*call)(struct vs_http *http, size_t i, void *arg),
			void *arg)
{
	size_t i;

	(void)udata;
	seen_width = width;
	for (i = n; i-- > 0;)
		call(h, i, arg);
	return n;
}

static void test_fan_out_runner(void **st)
{
	const struct vs_host *h = vs_plugin_host();
	struct vs_http_shared *sh;
	struct vs_http *http;
	struct fan_rec r;
	struct vs_error err;
	size_t i;

	(void)st;
	vs_plugin_reset_cancel();
	vs_error_clear(&err);
	sh = vs_http_shared_new(NULL, &err);
	assert_non_null(sh);
	http = vs_http_new(sh, &err);
	assert_non_null(http);
	vs_http_set_fan_out(http, backwards, NULL);

	rec_init(&r, http);
	assert_int_equal(h->fan_out(http, 30, 7, rec_fn, &r, &err), VS_OK);
	assert_int_equal(seen_width, 7);
	for (i = 0; i < 30; i++) {
		assert_int_equal(r.calls[i], 1);
		assert_int_equal(r.order[i], 29 - i);
	}

	/* The lowest failed index wins even though it ran last. */
	rec_init(&r, http);
	r.fail[0] = 25;
	r.fail[1] = 4;
	assert_int_equal(h->fan_out(http, 30, 0, rec_fn, &r, &err), VS_ERR);
	assert_string_equal(err.message, "lab: call 4");
	for (i = 0; i < 30; i++)
		assert_int_equal(r.calls[i], 1);

	/* Cancelled midway: what did not start is reported cancelled. */
	rec_init(&r, http);
	r.cancel_at = 20;
	vs_error_clear(&err);
	assert_int_equal(h->fan_out(http, 30, 0, rec_fn, &r, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CANCELLED);
	for (i = 0; i < 30; i++)
		assert_int_equal(r.calls[i], i >= 20);
	assert_int_equal(r.bad, 0);
	vs_plugin_reset_cancel();
	vs_http_free(http);
	vs_http_shared_free(sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_fake),
		cmocka_unit_test(test_badabi_refused),
		cmocka_unit_test(test_nosym_refused),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_type_must_match_file_name),
		cmocka_unit_test(test_search_order),
		cmocka_unit_test(test_load_all),
		cmocka_unit_test(test_config_and_host),
		cmocka_unit_test(test_cancel_wakes_sleep),
		cmocka_unit_test(test_host_parse_time),
		cmocka_unit_test(test_fan_out_in_order),
		cmocka_unit_test(test_fan_out_runner),
	};
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	/* build/asan/tests/test_plugin -> build/asan/testplugins */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return 1;
	*slash = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return 1;
	*slash = '\0';
	if (snprintf(plugdir, sizeof(plugdir) - 16, "%s", exe) < 0)
		return 1;
	memcpy(plugdir + strlen(plugdir), "/testplugins", 13);
	unsetenv("VMSWEEP_PLUGIN_DIR");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

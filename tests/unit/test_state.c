/*
 * test_state.c - the state store: first-seen ages by policy and across
 * runs, failing closed on a missing, locked, corrupt or too new store,
 * pruning, and the journal: durable started marks from many threads,
 * outcomes, a run rebuilt finished or killed, failing runs, history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

#define T0   1893456000 /* 2030-01-01T00:00:00Z */
#define HOUR 3600

static char dir[64], db[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vs-state-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/state.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct vs_state *open_db(int64_t busy_ms, struct vs_error *err)
{
	struct vs_state_opts o = {db, busy_ms, 30LL * 24 * HOUR * 1000, 0};

	vs_error_clear(err);
	return vs_state_open(&o, err);
}

static struct vs_state *must_open(void)
{
	struct vs_error err;
	struct vs_state *st = open_db(1000, &err);

	if (!st)
		fail_msg("%s", err.message);
	return st;
}

/* A listing: names "vm-<i>", created when created >= 0. */
static void listing(struct vs_vm_list *l, size_t n, int64_t created)
{
	char b[32];
	size_t i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < n; i++) {
		struct vs_vm *vm = vs_vm_list_push(l);

		snprintf(b, sizeof(b), "vm-%zu", i);
		vm->id = strdup(b);
		vm->name = strdup(b);
		if (created >= 0) {
			vm->created = created;
			vm->age_source = VS_AGE_CREATED;
		}
	}
}

/*
 * One SQL integer from a second connection, as another process sees it;
 * -1 when it cannot be read.  No cmocka assertion: threads call it.
 */
static long long peek(const char *sql)
{
	sqlite3 *c = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_open(db, &c) == SQLITE_OK) {
		sqlite3_busy_timeout(c, 5000);
		if (sqlite3_prepare_v2(c, sql, -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	sqlite3_close(c);
	return v;
}

static void test_open_schema(void **state)
{
	struct vs_state *st;
	struct vs_error err;
	sqlite3 *c;

	(void)state;
	st = must_open();
	vs_state_free(st);
	assert_int_equal(peek("PRAGMA user_version"), VS_STATE_SCHEMA_VERSION);
	/* Opening again (migrated already) changes nothing. */
	st = must_open();
	vs_state_free(st);
	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(c, "PRAGMA user_version = 99", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(c);
	assert_null(open_db(100, &err));
	assert_non_null(strstr(err.message, "schema version 99 is newer"));
	assert_non_null(strstr(err.message, db));
}

static void test_no_create(void **state)
{
	struct vs_state_opts o = {db, 100, 1000, 1};
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_null(vs_state_open(&o, &err));
	assert_non_null(strstr(err.message, "No such file"));
	assert_int_equal(access(db, F_OK), -1);
}

static void test_first_seen_across_runs(void **state)
{
	struct vs_state *st;
	struct vs_vm_list l;
	size_t i;

	(void)state;
	st = must_open();
	listing(&l, 3, -1);
	assert_int_equal(
		vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0), 0);
	for (i = 0; i < l.n; i++) {
		assert_int_equal(l.items[i].age_source, VS_AGE_FIRST_SEEN);
		assert_int_equal(l.items[i].created, T0);
	}
	vs_vm_list_release(&l);
	vs_state_free(st);

	/* A later process: the first sighting stays, a new VM starts now. */
	st = must_open();
	listing(&l, 4, -1);
	assert_int_equal(vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l,
					  T0 + 5 * HOUR),
			 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(l.items[i].created, T0);
	assert_int_equal(l.items[3].created, T0 + 5 * HOUR);
	vs_vm_list_release(&l);
	/* Another provider's VM of the same id is another VM. */
	listing(&l, 1, -1);
	vs_state_observe(st, "vc2", VS_AGE_POLICY_AUTO, 0, &l, T0 + 6 * HOUR);
	assert_int_equal(l.items[0].created, T0 + 6 * HOUR);
	vs_vm_list_release(&l);
	vs_state_free(st);
	assert_int_equal(peek("SELECT last_seen FROM seen WHERE provider = "
			      "'vc' AND vm_id = 'vm-0'"),
			 T0 + 5 * HOUR);
}

static void test_policies(void **state)
{
	struct vs_state *st;
	struct vs_vm_list l;

	(void)state;
	st = must_open();
	/* auto: the platform's time when the VM has one. */
	listing(&l, 2, T0 - 100 * HOUR);
	l.items[1].created = VS_TIME_UNKNOWN;
	l.items[1].age_source = VS_AGE_NONE;
	vs_state_observe(st, "osp", VS_AGE_POLICY_AUTO, VS_CAP_CREATED, &l, T0);
	assert_int_equal(l.items[0].age_source, VS_AGE_CREATED);
	assert_int_equal(l.items[0].created, T0 - 100 * HOUR);
	assert_int_equal(l.items[1].age_source, VS_AGE_FIRST_SEEN);
	assert_int_equal(l.items[1].created, T0);
	vs_vm_list_release(&l);

	/* first_seen: always vmsweep's record. */
	listing(&l, 1, T0 - 100 * HOUR);
	vs_state_observe(st, "osp", VS_AGE_POLICY_FIRST_SEEN, VS_CAP_CREATED,
			 &l, T0 + HOUR);
	assert_int_equal(l.items[0].age_source, VS_AGE_FIRST_SEEN);
	assert_int_equal(l.items[0].created, T0);
	vs_vm_list_release(&l);

	/* created: never a first-seen age. */
	listing(&l, 2, T0 - 100 * HOUR);
	l.items[1].created = VS_TIME_UNKNOWN;
	l.items[1].age_source = VS_AGE_NONE;
	vs_state_observe(st, "osp", VS_AGE_POLICY_CREATED, VS_CAP_CREATED, &l,
			 T0 + HOUR);
	assert_int_equal(l.items[0].age_source, VS_AGE_CREATED);
	assert_int_equal(l.items[1].age_source, VS_AGE_NONE);
	assert_int_equal(l.items[1].created, VS_TIME_UNKNOWN);
	vs_vm_list_release(&l);
	vs_state_free(st);
}

static void assert_all_unknown(const struct vs_vm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		assert_int_equal(l->items[i].age_source, VS_AGE_NONE);
		assert_int_equal(l->items[i].created, VS_TIME_UNKNOWN);
	}
}

static void test_no_store_fails_closed(void **state)
{
	struct vs_vm_list l;

	(void)state;
	listing(&l, 2, -1);
	assert_int_equal(
		vs_state_observe(NULL, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0),
		VS_ERR);
	assert_all_unknown(&l);
	vs_vm_list_release(&l);
}

static void test_locked_fails_closed(void **state)
{
	struct vs_state *st;
	struct vs_vm_list l;
	struct vs_error err;
	sqlite3 *c;

	(void)state;
	st = open_db(50, &err);
	assert_non_null(st);
	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
			 SQLITE_OK);
	listing(&l, 2, -1);
	assert_int_equal(
		vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0),
		VS_ERR);
	assert_all_unknown(&l);
	vs_vm_list_release(&l);
	/* Once failed, the store is not asked again for this run. */
	sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
	listing(&l, 2, -1);
	assert_int_equal(
		vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0),
		VS_ERR);
	assert_all_unknown(&l);
	vs_vm_list_release(&l);
	sqlite3_close(c);
	vs_state_free(st);
	assert_int_equal(peek("SELECT count(*) FROM seen"), 0);
}

static void test_corrupt_is_refused_and_kept(void **state)
{
	static const char junk[] = "this is not a database, it is junk bytes "
				   "that fill more than one header of SQLite "
				   "and then some more junk bytes to be sure.";
	struct vs_error err;
	char back[sizeof(junk)];
	FILE *f;

	(void)state;
	f = fopen(db, "w");
	assert_non_null(f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	assert_null(open_db(100, &err));
	assert_non_null(strstr(err.message, db));
	assert_non_null(strstr(err.message, "not a database"));
	assert_null(strchr(err.message, '\n'));
	f = fopen(db, "r");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(junk));
	fclose(f);
	assert_memory_equal(back, junk, sizeof(junk));
}

static void test_prune(void **state)
{
	struct vs_state *st;
	struct vs_vm_list l;

	(void)state;
	st = must_open();
	listing(&l, 2, -1);
	vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0);
	vs_vm_list_release(&l);
	/* vm-1 is gone; 31 days later only vm-0 is remembered. */
	listing(&l, 1, -1);
	vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l,
			 T0 + 31 * 24 * HOUR);
	assert_int_equal(l.items[0].created, T0);
	vs_vm_list_release(&l);
	vs_state_free(st);
	assert_int_equal(peek("SELECT count(*) FROM seen"), 1);
	assert_int_equal(peek("SELECT count(*) FROM seen WHERE vm_id = "
			      "'vm-1'"),
			 0);
}

/* A listing of the given ids, none with a creation time. */
static void listing_of(struct vs_vm_list *l, const char *const *ids, size_t n)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < n; i++) {
		struct vs_vm *vm = vs_vm_list_push(l);

		vm->id = strdup(ids[i]);
		vm->name = strdup(ids[i]);
	}
}

static long long last_seen_of(const char *provider, const char *id)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT last_seen FROM seen WHERE provider = '%s' AND "
		 "vm_id = '%s'",
		 provider, id);
	return peek(sql);
}

static void test_first_seen_merge(void **state)
{
	static const char *const before[] = {"c", "a", "e", "g"};
	static const char *const other[] = {"b", "d"};
	/* Unordered, a VM twice, ids between and past the records. */
	static const char *const ids[] = {"e", "b", "e", "a", "h", "f"};
	static const int64_t want[] = {T0, T0 + 2 * HOUR, T0,
				       T0, T0 + 2 * HOUR, T0 + 2 * HOUR};
	struct vs_state *st;
	struct vs_vm_list l;
	size_t i;

	(void)state;
	st = must_open();
	listing_of(&l, before, 4);
	assert_int_equal(
		vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0), 0);
	vs_vm_list_release(&l);
	/* Another provider's records of other ids are not ours. */
	listing_of(&l, other, 2);
	assert_int_equal(vs_state_observe(st, "vc0", VS_AGE_POLICY_AUTO, 0, &l,
					  T0 + HOUR),
			 0);
	vs_vm_list_release(&l);

	listing_of(&l, ids, 6);
	assert_int_equal(vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l,
					  T0 + 2 * HOUR),
			 0);
	for (i = 0; i < l.n; i++) {
		assert_int_equal(l.items[i].age_source, VS_AGE_FIRST_SEEN);
		assert_int_equal(l.items[i].created, want[i]);
	}
	vs_vm_list_release(&l);

	/* A clock gone back: first sightings and last_seen stay. */
	listing_of(&l, ids, 2);
	assert_int_equal(vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l,
					  T0 + HOUR),
			 0);
	assert_int_equal(l.items[0].created, T0);
	assert_int_equal(l.items[1].created, T0 + 2 * HOUR);
	vs_vm_list_release(&l);
	/* An empty listing records nothing and still succeeds. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l,
					  T0 + 3 * HOUR),
			 0);
	vs_state_free(st);

	assert_int_equal(last_seen_of("vc", "e"), T0 + 2 * HOUR);
	assert_int_equal(last_seen_of("vc", "b"), T0 + 2 * HOUR);
	assert_int_equal(last_seen_of("vc", "c"), T0);
	assert_int_equal(last_seen_of("vc0", "b"), T0 + HOUR);
	assert_int_equal(peek("SELECT first_seen FROM seen WHERE provider = "
			      "'vc0' AND vm_id = 'b'"),
			 T0 + HOUR);
	assert_int_equal(peek("SELECT count(*) FROM seen"), 9);
}

/* A version 1 store: the same tables and an index on seen.last_seen. */
static void test_migrate_v1(void **state)
{
	static const char *const ids[] = {"vm-0", "vm-1"};
	struct vs_state *st;
	struct vs_vm_list l;
	sqlite3 *c;

	(void)state;
	st = must_open();
	vs_state_free(st);
	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			c,
			"CREATE INDEX seen_last ON seen (last_seen);"
			"INSERT INTO seen VALUES ('vc', 'vm-0', 1893452400,"
			" 1893452400);"
			"PRAGMA user_version = 1",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(c);

	st = must_open();
	assert_int_equal(peek("PRAGMA user_version"), 2);
	assert_int_equal(peek("SELECT count(*) FROM sqlite_master WHERE "
			      "name = 'seen_last'"),
			 0);
	listing_of(&l, ids, 2);
	assert_int_equal(
		vs_state_observe(st, "vc", VS_AGE_POLICY_AUTO, 0, &l, T0), 0);
	assert_int_equal(l.items[0].created, T0 - HOUR);
	assert_int_equal(l.items[1].created, T0);
	vs_vm_list_release(&l);
	vs_state_free(st);
	assert_int_equal(last_seen_of("vc", "vm-0"), T0);
}

/* ------------------------------------------------------------------ */
/* The journal.                                                         */

/* A run of n planned VMs on provider "vc", one kept VM. */
static void make_run(struct vs_report *r, const char *id, size_t n,
		     int64_t started_ms, int dry)
{
	struct vs_vm_list l;
	struct vs_report_provider *p;
	struct vs_report_vm *v;
	size_t i;

	vs_report_init(r);
	r->run_id = strdup(id);
	r->dry_run = dry;
	r->created_ms = started_ms;
	r->version = strdup("0.1.0");
	r->config_path = strdup("/etc/vmsweep/vmsweep.yaml");
	p = vs_report_add_provider(r, "vc", "vmware");
	p->listed = (long)n + 1;
	listing(&l, n + 1, -1);
	for (i = 0; i < n; i++) {
		l.items[i].created = T0;
		l.items[i].age_source = VS_AGE_FIRST_SEEN;
		v = vs_report_add_vm(r, "vc", &l.items[i], 0);
		assert_non_null(v);
		assert_int_equal(vs_report_vm_add_rule(v, "ci"), 0);
		v->reason = strdup("rule 'ci': name matches test_*");
	}
	assert_non_null(vs_report_add_kept(r, "vc", &l.items[n], "too young"));
	vs_vm_list_release(&l);
}

struct marker {
	struct vs_state *st;
	struct vs_report *r;
	size_t from, to;
	int durable; /* every mark was on disk when its call returned */
};

static void *mark_started(void *arg)
{
	struct marker *m = arg;
	char sql[128];
	size_t i;

	m->durable = 1;
	for (i = m->from; i < m->to; i++) {
		struct vs_report_vm *v = &m->r->vms[i];

		v->attempts = 1;
		v->started_ms = (int64_t)T0 * 1000 + (int64_t)i;
		if (vs_state_vm_started(m->st, i, v) != 0)
			m->durable = 0;
		snprintf(sql, sizeof(sql),
			 "SELECT state = 'started' FROM run_vms WHERE idx = "
			 "%zu",
			 i);
		if (peek(sql) != 1)
			m->durable = 0;
		v->outcome = i % 5 == 0 ? VS_OUT_FAILED : VS_OUT_DELETED;
		v->finished_ms = v->started_ms + 10;
		if (v->outcome == VS_OUT_FAILED)
			vs_error_set(&v->error, VS_EC_SERVER, 500, 1,
				     "boom %zu", i);
		/* Half of them end before the run is killed. */
		if (i % 2 == 0)
			vs_state_vm_ended(m->st, i, v);
	}
	return NULL;
}

#define N_THREADS 8
#define N_VMS	  200

/* A run killed after its started marks: the journal alone tells. */
static void test_killed_run_rebuilt(void **state)
{
	struct vs_state *st;
	struct vs_report r, back;
	struct vs_state_run info;
	struct marker m[N_THREADS];
	pthread_t t[N_THREADS];
	struct vs_error err;
	long dead;
	size_t i;

	(void)state;
	/* Above any pid_max: a process that surely does not run. */
	dead = 2147483600;

	st = must_open();
	make_run(&r, "abc123", N_VMS + 10, (int64_t)T0 * 1000, 0);
	assert_int_equal(vs_state_run_begin(st, &r, dead), 0);
	for (i = 0; i < N_THREADS; i++) {
		m[i].st = st;
		m[i].r = &r;
		m[i].from = i * N_VMS / N_THREADS;
		m[i].to = (i + 1) * N_VMS / N_THREADS;
		assert_int_equal(
			pthread_create(&t[i], NULL, mark_started, &m[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_true(m[i].durable);
	}
	/* Killed: no vs_state_run_end(); the queued outcomes may or may not
	 * have been written.  Free without ending (the writer drains). */
	vs_state_free(st);

	st = must_open();
	vs_error_clear(&err);
	assert_int_equal(vs_state_load_run(st, NULL, &back, &info, &err), 0);
	assert_string_equal(back.run_id, "abc123");
	assert_int_equal(info.status, VS_RUN_UNFINISHED);
	assert_int_equal(back.n_vms, N_VMS + 10);
	assert_int_equal(back.n_kept, 1);
	assert_string_equal(back.kept[0].reason, "too young");
	assert_int_equal(back.n_providers, 1);
	assert_int_equal(back.providers[0].listed, N_VMS + 11);
	for (i = 0; i < back.n_vms; i++) {
		const struct vs_report_vm *v = &back.vms[i];

		assert_string_equal(v->id, r.vms[i].id);
		assert_int_equal(v->n_rules, 1);
		assert_string_equal(v->rules[0], "ci");
		assert_int_equal(v->age_source, VS_AGE_FIRST_SEEN);
		if (i >= N_VMS) {
			assert_int_equal(v->outcome, VS_OUT_NOT_ATTEMPTED);
		} else if (i % 2 == 0) {
			assert_int_equal(v->outcome, r.vms[i].outcome);
			if (v->outcome == VS_OUT_FAILED) {
				assert_int_equal(v->error.cls, VS_EC_SERVER);
				assert_int_equal(v->error.http_status, 500);
			}
		} else {
			/* Started, outcome never recorded. */
			assert_int_equal(v->outcome, VS_OUT_REQUESTED);
			assert_non_null(
				strstr(v->error.message, "delete started"));
		}
	}
	vs_report_release(&back);

	/* The same run finished properly: the report's outcomes. */
	for (i = N_VMS; i < r.n_vms; i++) {
		r.vms[i].outcome = VS_OUT_NOT_ATTEMPTED;
		vs_error_set(&r.vms[i].error, VS_EC_CANCELLED, 0, 1,
			     "not attempted: run interrupted");
	}
	vs_state_free(st);
	vs_report_release(&r);
}

static void finished_run(struct vs_state *st, const char *id, int64_t at_ms,
			 int fail, int flag_after, struct vs_report *r)
{
	make_run(r, id, 2, at_ms, 0);
	assert_int_equal(vs_state_run_begin(st, r, (long)getpid()), 0);
	r->vms[0].outcome = fail ? VS_OUT_FAILED : VS_OUT_DELETED;
	r->vms[0].attempts = 1;
	if (fail)
		vs_error_set(&r->vms[0].error, VS_EC_CONFLICT, 409, 0,
			     "locked");
	r->vms[1].outcome = VS_OUT_DELETED;
	r->finished_ms = at_ms + 1000;
	vs_state_flag_failing(st, r, flag_after);
	assert_int_equal(vs_state_run_end(st, r), 0);
}

static void test_failing_runs_and_history(void **state)
{
	struct vs_state *st;
	struct vs_report r, back;
	struct vs_state_run *runs = NULL, info;
	struct vs_error err;
	size_t n = 0;

	(void)state;
	st = must_open();
	finished_run(st, "r1", (int64_t)T0 * 1000, 1, 3, &r);
	assert_int_equal(r.vms[0].failing_runs, 0);
	vs_report_release(&r);
	finished_run(st, "r2", (int64_t)(T0 + HOUR) * 1000, 1, 3, &r);
	assert_int_equal(r.vms[0].failing_runs, 0);
	vs_report_release(&r);
	finished_run(st, "r3", (int64_t)(T0 + 2 * HOUR) * 1000, 1, 3, &r);
	assert_int_equal(r.vms[0].failing_runs, 3);
	assert_int_equal(r.vms[1].failing_runs, 0);
	vs_report_release(&r);
	/* A success breaks the streak. */
	finished_run(st, "r4", (int64_t)(T0 + 3 * HOUR) * 1000, 0, 3, &r);
	vs_report_release(&r);
	finished_run(st, "r5", (int64_t)(T0 + 4 * HOUR) * 1000, 1, 2, &r);
	assert_int_equal(r.vms[0].failing_runs, 0);
	vs_report_release(&r);

	vs_error_clear(&err);
	assert_int_equal(vs_state_load_run(st, "r3", &back, &info, &err), 0);
	assert_int_equal(info.status, VS_RUN_FINISHED);
	assert_int_equal(back.vms[0].failing_runs, 3);
	assert_int_equal(back.vms[0].outcome, VS_OUT_FAILED);
	assert_string_equal(back.vms[0].error.message, "locked");
	assert_int_equal(back.finished_ms,
			 (int64_t)(T0 + 2 * HOUR) * 1000 + 1000);
	vs_report_release(&back);
	assert_int_equal(vs_state_load_run(st, "nope", &back, NULL, &err),
			 VS_STATE_NO_RUN);
	assert_non_null(strstr(err.message, "no run 'nope'"));

	assert_int_equal(vs_state_list_runs(st, 3, &runs, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(runs[0].id, "r5");
	assert_string_equal(runs[2].id, "r3");
	assert_int_equal(runs[0].outcomes[VS_OUT_FAILED], 1);
	assert_int_equal(runs[0].outcomes[VS_OUT_DELETED], 1);
	assert_int_equal(runs[0].n_vms, 2);
	assert_int_equal(runs[0].n_kept, 1);
	assert_int_equal(runs[2].flagged, 1);
	free(runs);
	vs_state_free(st);
}

/* Two stores (as two processes would) write at once; all lands. */
static void *observer(void *arg)
{
	const char *prov = arg;
	struct vs_vm_list l;
	struct vs_error err;
	struct vs_state *st;
	int k;

	void *bad = NULL;

	/* No cmocka assertion in a thread: report back instead. */
	/* A wait bounded by the other's whole loop, even on a busy box. */
	st = open_db(60000, &err);
	if (!st)
		return (void *)1;
	for (k = 0; k < 10; k++) {
		listing(&l, 50, -1);
		if (vs_state_observe(st, prov, VS_AGE_POLICY_AUTO, 0, &l,
				     T0 + k) != 0 ||
		    l.items[0].created != T0)
			bad = (void *)1;
		vs_vm_list_release(&l);
	}
	vs_state_free(st);
	return bad;
}

static void test_two_writers(void **state)
{
	pthread_t a, b;
	void *ra, *rb;

	(void)state;
	vs_state_free(must_open());
	pthread_create(&a, NULL, observer, (void *)"p1");
	pthread_create(&b, NULL, observer, (void *)"p2");
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	assert_null(ra);
	assert_null(rb);
	assert_int_equal(peek("SELECT count(*) FROM seen"), 100);
	assert_int_equal(peek("SELECT max(last_seen) FROM seen"), T0 + 9);
}

static void test_default_path(void **state)
{
	struct vs_config cfg;
	struct vs_buf b;
	struct vs_error err;
	char want[256];

	(void)state;
	vs_config_init(&cfg);
	vs_buf_init(&b, 0);
	vs_error_clear(&err);
	unsetenv("STATE_DIRECTORY");
	setenv("XDG_STATE_HOME", dir, 1);
	assert_int_equal(vs_state_path_for(&cfg, 1, &b, &err), 0);
	snprintf(want, sizeof(want), "%s/vmsweep/state.db", dir);
	assert_string_equal(b.s, want);
	snprintf(want, sizeof(want), "%s/vmsweep", dir);
	assert_int_equal(access(want, F_OK), 0);

	vs_buf_reset(&b);
	setenv("STATE_DIRECTORY", "/var/lib/vmsweep:/var/lib/other", 1);
	assert_int_equal(vs_state_path_for(&cfg, 0, &b, &err), 0);
	assert_string_equal(b.s, "/var/lib/vmsweep/state.db");

	vs_buf_reset(&b);
	unsetenv("STATE_DIRECTORY");
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(vs_state_path_for(&cfg, 0, &b, &err), 0);
	assert_string_equal(b.s, "/home/someone/.local/state/vmsweep/state.db");

	vs_buf_reset(&b);
	cfg.state_path = strdup("rel/state.db");
	assert_int_equal(vs_state_path_for(&cfg, 0, &b, &err), 0);
	assert_string_equal(b.s, "rel/state.db");
	vs_buf_release(&b);
	vs_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_schema, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_create, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_seen_across_runs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_store_fails_closed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_fails_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_corrupt_is_refused_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_seen_merge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_killed_run_rebuilt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failing_runs_and_history,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_default_path, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

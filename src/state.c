/*
 * state.c - the state store: first-seen ages and the run journal.
 *
 * DESIGN: one SQLite connection per store, used under db_mu by the owner
 * thread (open, observe, run begin and end, reads) and by the journal's
 * writer thread (batches).  Workers never touch it: they append rows to
 * a queue under mu, and a started mark's worker then waits on `done`
 * until seq_durable reaches its row's sequence number.
 *
 *   worker:  lock mu; row.seq = ++seq_next; append; signal wake;
 *            [started: while (seq_durable < seq && !jfailed) wait done]
 *   writer:  lock mu; wait for rows; unless someone waits or the batch
 *            is full, wait up to BATCH_DELAY for more; take them all;
 *            unlock; commit them in one transaction; lock; seq_durable =
 *            last seq taken; broadcast done.
 *
 * While the writer commits, new marks queue up and go together in the
 * next transaction, so N workers cost far fewer than N fsyncs.
 *
 * The schema (docs/state.md) is versioned by PRAGMA user_version and
 * migrated inside a BEGIN IMMEDIATE transaction that re-reads the
 * version, so two processes opening a new file at once migrate it once.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#ifndef VS_VERSION
#define VS_VERSION "0.0.0"
#endif

#define TAG	 "state"
#define DB_NAME	 "state.db"
#define PATH_CAP 4096

/* One queued journal row. */
struct jrow {
	struct jrow *next;
	uint64_t seq;
	int started; /* 1: a started mark; 0: an outcome */
	size_t idx;
	enum vs_outcome outcome;
	int attempts, rounds_failed;
	int64_t started_ms, finished_ms;
	struct vs_error error;
};

struct vs_state {
	char *path;
	sqlite3 *db;
	pthread_mutex_t db_mu; /* every use of db */
	int64_t retention_ms;
	int64_t busy_timeout_ms, busy_since_ms; /* busy_wait(), under db_mu */
	int ages_failed; /* first-seen ages unknown from now on (warned) */

	/* The journal of the current run.  jfailed and the queue under mu. */
	char *run_id;
	int journal_on; /* run_begin succeeded; owner thread only */
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the writer: rows queued, or stop */
	pthread_cond_t done; /* waiters: seq_durable moved, or jfailed */
	struct jrow *head, *tail;
	size_t n_queued, n_waiting;
	uint64_t seq_next, seq_durable;
	int64_t first_queued_ms; /* monotonic, of the oldest queued row */
	int stop, jfailed, jwarned;
	pthread_t writer;
	int writer_running;
	size_t n_commits, n_rows; /* the writer's, for the debug log */
};

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

static int db_fail(struct vs_error *err, const struct vs_state *st,
		   const char *what)
{
	return vs_error_set(err, VS_EC_CONFIG, 0, 0,
			    "state store '%s': %s: %s (code %d)", st->path,
			    what, sqlite3_errmsg(st->db),
			    sqlite3_extended_errcode(st->db));
}

static int exec(struct vs_state *st, const char *sql, struct vs_error *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(err, st, sql);
	return 0;
}

static int prepare(struct vs_state *st, const char *sql, sqlite3_stmt **out,
		   struct vs_error *err)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return db_fail(err, st, "cannot prepare a statement");
	}
	return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void bind_time(sqlite3_stmt *s, int i, int64_t v, int64_t none)
{
	if (v == none)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

static void rollback(struct vs_state *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Where the store is.                                                  */

int vs_state_path_for(const struct vs_config *cfg, int create,
		      struct vs_buf *out, struct vs_error *err)
{
	struct vs_buf dir;
	int ours, rc = VS_ERR;

	vs_buf_init(&dir, PATH_CAP);
	if (cfg && cfg->state_path) {
		if (vs_buf_adds(out, cfg->state_path) != 0)
			goto toolong;
		rc = 0;
		goto out;
	}
	switch (vs_paths_state_dir(&dir, &ours)) {
	case 0:
		break;
	case VS_PATHS_NONE:
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "no place for the state store (none of "
			     "STATE_DIRECTORY, XDG_STATE_HOME, HOME is set); "
			     "set state.path");
		goto out;
	default:
		goto toolong;
	}
	if (create && ours && vs_paths_mkdirs(dir.s, "state", err) != 0)
		goto out;
	if (vs_buf_addf(out, "%s/%s", dir.s, DB_NAME) != 0)
		goto toolong;
	rc = 0;
	goto out;
toolong:
	vs_error_set(err, VS_EC_CONFIG, 0, 0,
		     "the state store path is too long");
out:
	vs_buf_release(&dir);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Opening and the schema.                                              */

/* Version 1.  Times are Unix seconds (seen) or milliseconds (*_ms). */
static const char schema_v1[] =
	"CREATE TABLE seen ("
	" provider TEXT NOT NULL, vm_id TEXT NOT NULL,"
	" first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	" PRIMARY KEY (provider, vm_id)) WITHOUT ROWID;"
	"CREATE INDEX seen_last ON seen (last_seen);"
	"CREATE TABLE runs ("
	" id TEXT PRIMARY KEY, mode TEXT NOT NULL,"
	" started_ms INTEGER NOT NULL, finished_ms INTEGER,"
	" pid INTEGER NOT NULL, version TEXT, config_path TEXT,"
	" retry_of TEXT);"
	"CREATE INDEX runs_started ON runs (started_ms);"
	"CREATE TABLE run_providers ("
	" run_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" name TEXT NOT NULL, type TEXT NOT NULL, listed INTEGER NOT NULL,"
	" error_class TEXT, error_message TEXT,"
	" PRIMARY KEY (run_id, idx)) WITHOUT ROWID;"
	"CREATE TABLE run_vms ("
	" run_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" provider TEXT NOT NULL, vm_id TEXT NOT NULL, name TEXT NOT NULL,"
	" created INTEGER, age_source TEXT NOT NULL, rules TEXT NOT NULL,"
	" reason TEXT,"
	" state TEXT NOT NULL DEFAULT 'planned',"
	" outcome TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
	" rounds_failed INTEGER NOT NULL DEFAULT 0,"
	" started_ms INTEGER, finished_ms INTEGER,"
	" error_class TEXT, http_status INTEGER, error_message TEXT,"
	" retryable INTEGER, failing_runs INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (run_id, idx)) WITHOUT ROWID;"
	"CREATE INDEX run_vms_vm ON run_vms (provider, vm_id);"
	"CREATE TABLE run_kept ("
	" run_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" provider TEXT NOT NULL, vm_id TEXT NOT NULL, name TEXT NOT NULL,"
	" reason TEXT, PRIMARY KEY (run_id, idx)) WITHOUT ROWID;";

/*
 * Version 2: no index on seen.last_seen.  Every listing moves each of
 * its VMs in that index, which cost more than the rest of recording
 * them; the prune reads the whole table instead, a few hundred
 * instructions a record (docs/performance.md).
 */
static const char schema_v2[] = "DROP INDEX IF EXISTS seen_last;";

/* Migrations: migrations[v] takes version v to v + 1. */
static const char *const migrations[] = {schema_v1, schema_v2};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
		       VS_STATE_SCHEMA_VERSION,
	       "a migration per schema version");

static int user_version(struct vs_state *st, int *v, struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (prepare(st, "PRAGMA user_version", &s, err))
		return VS_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_fail(err, st, "cannot read the schema version");
	return 0;
}

static int migrate(struct vs_state *st, struct vs_error *err)
{
	char sql[64];
	int v = 0, rc = VS_ERR;

	if (user_version(st, &v, err))
		return VS_ERR;
	if (v == VS_STATE_SCHEMA_VERSION)
		return 0;
	if (v > VS_STATE_SCHEMA_VERSION)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "state store '%s': schema version %d is "
				    "newer than this vmsweep knows (%d); use "
				    "a newer vmsweep or another state.path",
				    st->path, v, VS_STATE_SCHEMA_VERSION);
	if (exec(st, "BEGIN IMMEDIATE", err))
		return VS_ERR;
	/* Another process may have migrated it meanwhile. */
	if (user_version(st, &v, err))
		goto out;
	for (; v < VS_STATE_SCHEMA_VERSION; v++) {
		if (exec(st, migrations[v], err))
			goto out;
		vs_log(VS_LOG_DEBUG, TAG, "%s: schema version %d", st->path,
		       v + 1);
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 VS_STATE_SCHEMA_VERSION);
	if (exec(st, sql, err) || exec(st, "COMMIT", err))
		goto out;
	rc = 0;
out:
	if (rc)
		rollback(st);
	return rc;
}

static int wal_mode(struct vs_state *st, struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = VS_ERR;

	if (prepare(st, "PRAGMA journal_mode = WAL", &s, err))
		return VS_ERR;
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_fail(err, st, "cannot switch to WAL mode");
		goto out;
	}
	if (strcmp(col_str(s, 0), "wal") != 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "state store '%s': journal mode is '%s', not "
			     "WAL",
			     st->path, col_str(s, 0));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * Wait for another process's lock by polling every 2 ms up to the busy
 * timeout.  SQLite's own handler backs off to 100 ms sleeps, and next to
 * a process that commits often (a run's journal) a waiter then rarely
 * finds the lock free.  Runs under db_mu, in the thread using st->db.
 */
static int busy_wait(void *arg, int count)
{
	struct vs_state *st = arg;
	int64_t now = vs_time_mono_ms();

	if (count == 0)
		st->busy_since_ms = now;
	if (now - st->busy_since_ms >= st->busy_timeout_ms)
		return 0;
	usleep(2000);
	return 1;
}

/* Open st->db on path and bring it and the file to what we need. */
static int setup(struct vs_state *st, const char *path, int64_t busy_ms,
		 struct vs_error *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;

	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		if (st->db)
			return db_fail(err, st, "cannot open");
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	}
	sqlite3_extended_result_codes(st->db, 1);
	st->busy_timeout_ms = busy_ms;
	sqlite3_busy_handler(st->db, busy_wait, st);
	if (wal_mode(st, err) || exec(st, "PRAGMA synchronous = FULL", err) ||
	    migrate(st, err))
		return VS_ERR;
	return 0;
}

/*
 * A new store is made whole under a temporary name (mode 0600; SQLite
 * gives the -wal and -shm files the same) and then linked into place.
 * Two processes that set up one new file at once could otherwise each
 * hold a lock the other's switch to WAL needs, and SQLite gives up on
 * that without waiting.  The loser of the link uses the winner's file.
 */
static int create_fresh(struct vs_state *st, const struct vs_state_opts *o,
			struct vs_error *err)
{
	struct vs_buf tmp;
	char eb[128];
	int fd, rc = VS_ERR;

	vs_buf_init(&tmp, PATH_CAP);
	if (vs_buf_addf(&tmp, "%s.new-XXXXXX", o->path) != 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "the state store path is too long");
		goto out;
	}
	fd = mkstemp(tmp.s);
	if (fd < 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "state store '%s': %s",
			     o->path, strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	close(fd);
	if (setup(st, tmp.s, o->busy_timeout_ms, err) != 0)
		goto out;
	/* Closing the only connection checkpoints and removes the WAL. */
	if (sqlite3_close(st->db) != SQLITE_OK) {
		db_fail(err, st, "cannot close the new store");
		goto out;
	}
	st->db = NULL;
	if (link(tmp.s, o->path) != 0 && errno != EEXIST) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "state store '%s': %s",
			     o->path, strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	rc = 0;
out:
	if (st->db) {
		sqlite3_close(st->db);
		st->db = NULL;
	}
	unlink(tmp.s);
	vs_buf_release(&tmp);
	return rc;
}

struct vs_state *vs_state_open(const struct vs_state_opts *o,
			       struct vs_error *err)
{
	struct vs_state *st = NULL;
	char eb[128];
	pthread_condattr_t ca;

	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(o->path))) {
		free(st);
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->db_mu, NULL);
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&st->done, NULL);
	st->retention_ms = o->retention_ms;

	if (access(o->path, F_OK) != 0) {
		if (errno != ENOENT || o->no_create) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "state store '%s': %s", o->path,
				     strerror_r(errno, eb, sizeof(eb)));
			goto fail;
		}
		if (create_fresh(st, o, err) != 0)
			goto fail;
	}
	if (setup(st, o->path, o->busy_timeout_ms, err) != 0)
		goto fail;
	return st;
fail:
	vs_state_free(st);
	return NULL;
}

struct vs_state *vs_state_open_config(const struct vs_config *cfg)
{
	struct vs_state_opts o;
	struct vs_state *st = NULL;
	struct vs_error err;
	struct vs_buf path;

	vs_error_clear(&err);
	vs_buf_init(&path, PATH_CAP);
	if (vs_state_path_for(cfg, 1, &path, &err) == 0) {
		memset(&o, 0, sizeof(o));
		o.path = path.s;
		o.busy_timeout_ms = cfg->state_busy_timeout_ms;
		o.retention_ms = cfg->state_retention_ms;
		st = vs_state_open(&o, &err);
	}
	if (!st)
		vs_log(VS_LOG_WARN, TAG,
		       "%s; first-seen ages are unknown and no journal is "
		       "kept",
		       err.message);
	vs_buf_release(&path);
	return st;
}

struct vs_state *vs_state_open_existing(const struct vs_config *cfg,
					struct vs_error *err)
{
	struct vs_state_opts o;
	struct vs_state *st = NULL;
	struct vs_buf path;

	vs_buf_init(&path, PATH_CAP);
	if (vs_state_path_for(cfg, 0, &path, err) == 0) {
		memset(&o, 0, sizeof(o));
		o.path = path.s;
		o.busy_timeout_ms = cfg->state_busy_timeout_ms;
		o.retention_ms = cfg->state_retention_ms;
		o.no_create = 1;
		st = vs_state_open(&o, err);
	}
	vs_buf_release(&path);
	return st;
}

static void writer_stop(struct vs_state *st);

void vs_state_free(struct vs_state *st)
{
	if (!st)
		return;
	writer_stop(st);
	while (st->head) {
		struct jrow *n = st->head->next;

		free(st->head);
		st->head = n;
	}
	if (st->db)
		sqlite3_close(st->db);
	pthread_cond_destroy(&st->done);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->db_mu);
	free(st->run_id);
	free(st->path);
	free(st);
}

const char *vs_state_path(const struct vs_state *st)
{
	return st->path;
}

/* ------------------------------------------------------------------ */
/* First seen.                                                          */

static const char *vm_id_or_empty(const struct vs_vm *vm)
{
	return vm->id ? vm->id : "";
}

static int seen_order_cmp(const void *a, const void *b, void *ctx)
{
	const struct vs_vm *items = ctx;

	return strcmp(vm_id_or_empty(&items[*(const size_t *)a]),
		      vm_id_or_empty(&items[*(const size_t *)b]));
}

/* What recording a listed VM writes. */
enum seen_op {
	SEEN_KEEP,   /* nothing: recorded, last_seen not older than now */
	SEEN_UPDATE, /* recorded: last_seen becomes now */
	SEEN_INSERT, /* new: first_seen and last_seen are now */
};

/*
 * Read the provider's records in key order (the primary key's BINARY
 * collation orders bytes as strcmp does) and merge them with the
 * listing, order[] being its indexes in id order: first[] gets each
 * VM's first sighting, op[k] what recording order[k] writes.  A VM
 * listed twice is written once.
 */
static int scan_seen(struct vs_state *st, sqlite3_stmt *sel,
		     const struct vs_vm_list *vms, const size_t *order,
		     int64_t now, int64_t *first, unsigned char *op,
		     struct vs_error *err)
{
	const char *row = NULL, *prev = NULL;
	int64_t row_first = 0, row_last = 0;
	int rc = SQLITE_ROW;
	size_t k;

	for (k = 0; k < vms->n; k++) {
		const char *id = vm_id_or_empty(&vms->items[order[k]]);

		if (prev && strcmp(prev, id) == 0) {
			first[order[k]] = first[order[k - 1]];
			op[k] = SEEN_KEEP;
			continue;
		}
		prev = id;
		while (rc == SQLITE_ROW && (!row || strcmp(row, id) < 0)) {
			rc = sqlite3_step(sel);
			if (rc != SQLITE_ROW) {
				row = NULL;
				break;
			}
			row = (const char *)sqlite3_column_text(sel, 0);
			row_first = sqlite3_column_int64(sel, 1);
			row_last = sqlite3_column_int64(sel, 2);
			if (!row)
				return db_fail(err, st,
					       "cannot read first-seen times");
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_fail(err, st, "cannot read first-seen times");
		if (row && strcmp(row, id) == 0) {
			first[order[k]] = row_first;
			op[k] = row_last < now ? SEEN_UPDATE : SEEN_KEEP;
		} else {
			first[order[k]] = now;
			op[k] = SEEN_INSERT;
		}
	}
	return 0;
}

/* Record vms at now; first[i] gets VM i's first sighting. */
static int record_seen(struct vs_state *st, const char *provider,
		       const struct vs_vm_list *vms, int64_t now,
		       int64_t *first, struct vs_error *err)
{
	/*
	 * One ordered read of the provider's records, then a plain insert
	 * or update per VM that needs one.  An upsert per VM with
	 * RETURNING cost four times as many instructions: SQLite collects
	 * RETURNING rows in a temporary table that each step opens and
	 * closes (docs/performance.md).  The transaction holds the write
	 * lock from BEGIN IMMEDIATE, so what the read finds stays true.
	 */
	static const char select[] =
		"SELECT vm_id, first_seen, last_seen FROM seen "
		"WHERE provider = ?1 ORDER BY vm_id";
	static const char insert[] =
		"INSERT INTO seen (provider, vm_id, first_seen, last_seen) "
		"VALUES (?1, ?2, ?3, ?3)";
	static const char update[] = "UPDATE seen SET last_seen = ?3 "
				     "WHERE provider = ?1 AND vm_id = ?2";
	sqlite3_stmt *sel = NULL, *ins = NULL, *upd = NULL, *prune = NULL;
	size_t i, k, *order = NULL;
	unsigned char *op = NULL;
	int rc = VS_ERR;

	/*
	 * Write in id order: ids (UUIDs) come in no order, and a random
	 * page of the table per row made SQLite spill its cache through
	 * the WAL, seconds of writes for 100,000 VMs
	 * (docs/performance.md).
	 */
	order = malloc((vms->n ? vms->n : 1) * sizeof(*order));
	op = malloc(vms->n ? vms->n : 1);
	if (!order || !op) {
		free(order);
		free(op);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "state store: out of memory");
	}
	for (i = 0; i < vms->n; i++)
		order[i] = i;
	qsort_r(order, vms->n, sizeof(*order), seen_order_cmp, vms->items);
	if (exec(st, "BEGIN IMMEDIATE", err))
		goto out;
	if (prepare(st, select, &sel, err) || prepare(st, insert, &ins, err) ||
	    prepare(st, update, &upd, err) ||
	    prepare(st, "DELETE FROM seen WHERE last_seen < ?1", &prune, err))
		goto out;
	bind_text(sel, 1, provider);
	if (scan_seen(st, sel, vms, order, now, first, op, err))
		goto out;
	sqlite3_reset(sel);
	bind_text(ins, 1, provider);
	sqlite3_bind_int64(ins, 3, now);
	bind_text(upd, 1, provider);
	sqlite3_bind_int64(upd, 3, now);
	for (k = 0; k < vms->n; k++) {
		sqlite3_stmt *s = op[k] == SEEN_INSERT ? ins : upd;

		if (op[k] == SEEN_KEEP)
			continue;
		sqlite3_bind_text(s, 2, vm_id_or_empty(&vms->items[order[k]]),
				  -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot record first-seen times");
			goto out;
		}
		sqlite3_reset(s);
	}
	sqlite3_bind_int64(prune, 1, now - st->retention_ms / 1000);
	if (sqlite3_step(prune) != SQLITE_DONE) {
		db_fail(err, st, "cannot prune first-seen times");
		goto out;
	}
	if (exec(st, "COMMIT", err))
		goto out;
	rc = 0;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_finalize(prune);
	free(order);
	free(op);
	if (rc)
		rollback(st);
	return rc;
}

int vs_state_observe(struct vs_state *st, const char *provider,
		     enum vs_age_policy policy, unsigned int caps,
		     struct vs_vm_list *vms, int64_t now)
{
	struct vs_error err;
	int64_t *first = NULL;
	size_t i;
	int rc = VS_ERR;

	vs_error_clear(&err);
	if (policy == VS_AGE_POLICY_CREATED && !(caps & VS_CAP_CREATED))
		vs_log(VS_LOG_WARN, provider,
		       "age_source is created, but this provider's plugin "
		       "gives no creation times: age rules select nothing "
		       "here");
	first = calloc(vms->n ? vms->n : 1, sizeof(*first));
	if (st && !st->ages_failed && first) {
		pthread_mutex_lock(&st->db_mu);
		rc = record_seen(st, provider, vms, now, first, &err);
		pthread_mutex_unlock(&st->db_mu);
		if (rc) {
			st->ages_failed = 1;
			vs_log(VS_LOG_WARN, TAG,
			       "%s; first-seen ages are unknown for this run",
			       err.message);
		}
	}
	for (i = 0; i < vms->n; i++) {
		struct vs_vm *vm = &vms->items[i];
		int has_created = vm->age_source == VS_AGE_CREATED &&
				  vm->created != VS_TIME_UNKNOWN;

		if (policy == VS_AGE_POLICY_CREATED ||
		    (policy == VS_AGE_POLICY_AUTO && has_created)) {
			if (!has_created) {
				vm->created = VS_TIME_UNKNOWN;
				vm->age_source = VS_AGE_NONE;
			}
			continue;
		}
		vm->created = rc == 0 ? first[i] : VS_TIME_UNKNOWN;
		vm->age_source = rc == 0 ? VS_AGE_FIRST_SEEN : VS_AGE_NONE;
	}
	free(first);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The journal: writes.                                                 */

static void journal_warn(struct vs_state *st, const char *msg)
{
	int first;

	pthread_mutex_lock(&st->mu);
	first = !st->jwarned;
	st->jwarned = 1;
	pthread_mutex_unlock(&st->mu);
	if (first)
		vs_log(VS_LOG_WARN, TAG,
		       "%s; the run goes on without a journal", msg);
}

static const char *err_class_or_null(const struct vs_error *e)
{
	return e->cls == VS_EC_NONE ? NULL : vs_err_class_name(e->cls);
}

/* Bind a VM's outcome to ?1..?10 of the outcome update. */
static void bind_outcome(sqlite3_stmt *s, enum vs_outcome outcome, int attempts,
			 int rounds_failed, int64_t started_ms,
			 int64_t finished_ms, const struct vs_error *e)
{
	bind_text(s, 1,
		  outcome == VS_OUT_NONE ? NULL : vs_outcome_name(outcome));
	sqlite3_bind_int(s, 2, attempts);
	sqlite3_bind_int(s, 3, rounds_failed);
	bind_time(s, 4, started_ms, 0);
	bind_time(s, 5, finished_ms, 0);
	bind_text(s, 6, err_class_or_null(e));
	if (e->cls != VS_EC_NONE && e->http_status)
		sqlite3_bind_int(s, 7, e->http_status);
	else
		sqlite3_bind_null(s, 7);
	bind_text(s, 8, e->cls != VS_EC_NONE ? e->message : NULL);
	if (e->cls != VS_EC_NONE)
		sqlite3_bind_int(s, 9, e->retryable);
	else
		sqlite3_bind_null(s, 9);
}

#define SQL_OUTCOME                                                        \
	"UPDATE run_vms SET state = CASE WHEN ?1 IS NULL THEN state ELSE " \
	"'ended' END, outcome = ?1, attempts = ?2, rounds_failed = ?3, "   \
	"started_ms = ?4, finished_ms = ?5, error_class = ?6, "            \
	"http_status = ?7, error_message = ?8, retryable = ?9, "           \
	"failing_runs = ?10 WHERE run_id = ?11 AND idx = ?12"
#define SQL_STARTED                                             \
	"UPDATE run_vms SET state = 'started', attempts = ?1, " \
	"started_ms = ?2 WHERE run_id = ?3 AND idx = ?4"

/* Commit one batch of rows.  db_mu held. */
static int write_batch(struct vs_state *st, const struct jrow *rows,
		       struct vs_error *err)
{
	sqlite3_stmt *out = NULL, *mark = NULL;
	const struct jrow *r;
	int rc = VS_ERR;

	if (exec(st, "BEGIN IMMEDIATE", err))
		return VS_ERR;
	if (prepare(st, SQL_OUTCOME, &out, err) ||
	    prepare(st, SQL_STARTED, &mark, err))
		goto out;
	for (r = rows; r; r = r->next) {
		sqlite3_stmt *s = r->started ? mark : out;

		if (r->started) {
			sqlite3_bind_int(s, 1, r->attempts);
			bind_time(s, 2, r->started_ms, 0);
			bind_text(s, 3, st->run_id);
			sqlite3_bind_int64(s, 4, (sqlite3_int64)r->idx);
		} else {
			bind_outcome(s, r->outcome, r->attempts,
				     r->rounds_failed, r->started_ms,
				     r->finished_ms, &r->error);
			sqlite3_bind_int(s, 10, 0);
			bind_text(s, 11, st->run_id);
			sqlite3_bind_int64(s, 12, (sqlite3_int64)r->idx);
		}
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot write the journal");
			goto out;
		}
		sqlite3_reset(s);
	}
	if (exec(st, "COMMIT", err))
		goto out;
	rc = 0;
out:
	sqlite3_finalize(out);
	sqlite3_finalize(mark);
	if (rc)
		rollback(st);
	return rc;
}

static void free_rows(struct jrow *r)
{
	while (r) {
		struct jrow *n = r->next;

		free(r);
		r = n;
	}
}

static void *writer_main(void *arg)
{
	struct vs_state *st = arg;
	struct vs_error err;
	struct jrow *batch;
	struct timespec ts;
	uint64_t last;
	int64_t due;
	int rc;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->head && !st->stop)
			pthread_cond_wait(&st->wake, &st->mu);
		if (!st->head)
			break;
		/* Wait for more rows unless someone waits for these. */
		due = st->first_queued_ms + VS_STATE_BATCH_DELAY_MS;
		while (!st->stop && !st->n_waiting &&
		       st->n_queued < VS_STATE_BATCH_ROWS &&
		       vs_time_mono_ms() < due) {
			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000L;
			pthread_cond_timedwait(&st->wake, &st->mu, &ts);
		}
		batch = st->head;
		last = st->tail->seq;
		st->n_rows += st->n_queued;
		st->n_commits++;
		st->head = st->tail = NULL;
		st->n_queued = 0;
		rc = st->jfailed;
		pthread_mutex_unlock(&st->mu);

		vs_error_clear(&err);
		if (!rc) {
			pthread_mutex_lock(&st->db_mu);
			rc = write_batch(st, batch, &err);
			pthread_mutex_unlock(&st->db_mu);
			if (rc)
				journal_warn(st, err.message);
		}
		free_rows(batch);

		pthread_mutex_lock(&st->mu);
		if (rc)
			st->jfailed = 1;
		else
			st->seq_durable = last;
		pthread_cond_broadcast(&st->done);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* Drain the queue and join the writer; harmless when none runs. */
static void writer_stop(struct vs_state *st)
{
	if (!st->writer_running)
		return;
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->writer, NULL);
	st->writer_running = 0;
	vs_log(VS_LOG_DEBUG, TAG, "journal: %zu rows in %zu commits",
	       st->n_rows, st->n_commits);
}

/* Append row; returns its sequence number, or 0 when the journal is off
 * (row freed).  With wait, returns only once it is durable (or 0). */
static uint64_t enqueue(struct vs_state *st, struct jrow *row, int wait)
{
	uint64_t seq = 0;

	pthread_mutex_lock(&st->mu);
	if (st->jfailed || st->stop || !st->writer_running) {
		pthread_mutex_unlock(&st->mu);
		free(row);
		return 0;
	}
	row->seq = seq = ++st->seq_next;
	if (!st->head) {
		st->head = row;
		st->first_queued_ms = vs_time_mono_ms();
	} else {
		st->tail->next = row;
	}
	st->tail = row;
	st->n_queued++;
	if (wait)
		st->n_waiting++;
	pthread_cond_signal(&st->wake);
	if (wait) {
		while (st->seq_durable < seq && !st->jfailed)
			pthread_cond_wait(&st->done, &st->mu);
		st->n_waiting--;
		if (st->seq_durable < seq)
			seq = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return seq;
}

int vs_state_vm_started(struct vs_state *st, size_t idx,
			const struct vs_report_vm *v)
{
	struct jrow *row;

	if (!st)
		return VS_ERR;
	row = calloc(1, sizeof(*row));
	if (!row)
		return VS_ERR;
	row->started = 1;
	row->idx = idx;
	row->attempts = v->attempts;
	row->started_ms = v->started_ms;
	return enqueue(st, row, 1) ? 0 : VS_ERR;
}

void vs_state_vm_ended(struct vs_state *st, size_t idx,
		       const struct vs_report_vm *v)
{
	struct jrow *row;

	if (!st)
		return;
	row = calloc(1, sizeof(*row));
	if (!row)
		return;
	row->idx = idx;
	row->outcome = v->outcome;
	row->attempts = v->attempts;
	row->rounds_failed = v->rounds_failed;
	row->started_ms = v->started_ms;
	row->finished_ms = v->finished_ms;
	row->error = v->error;
	enqueue(st, row, 0);
}

static char *rules_json(const struct vs_report_vm *v)
{
	json_t *a = json_array();
	char *s = NULL;
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < v->n_rules; i++)
		if (json_array_append_new(a, json_string(v->rules[i])))
			goto out;
	s = json_dumps(a, JSON_COMPACT);
out:
	json_decref(a);
	return s;
}

/* The run, its providers, planned and kept VMs.  db_mu held. */
static int write_run(struct vs_state *st, const struct vs_report *r, long pid,
		     struct vs_error *err)
{
	static const char *const prune[] = {
		"DELETE FROM run_vms WHERE run_id IN (SELECT id FROM runs "
		"WHERE started_ms < ?1)",
		"DELETE FROM run_kept WHERE run_id IN (SELECT id FROM runs "
		"WHERE started_ms < ?1)",
		"DELETE FROM run_providers WHERE run_id IN (SELECT id FROM "
		"runs WHERE started_ms < ?1)",
		"DELETE FROM runs WHERE started_ms < ?1",
	};
	sqlite3_stmt *s = NULL;
	char *rules = NULL;
	size_t i;
	int rc = VS_ERR;

	if (exec(st, "BEGIN IMMEDIATE", err))
		return VS_ERR;
	for (i = 0; i < sizeof(prune) / sizeof(prune[0]); i++) {
		if (prepare(st, prune[i], &s, err))
			goto out;
		sqlite3_bind_int64(s, 1, r->created_ms - st->retention_ms);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot prune old runs");
			goto out;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	if (prepare(st,
		    "INSERT INTO runs (id, mode, started_ms, pid, version, "
		    "config_path, retry_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		    "?7)",
		    &s, err))
		goto out;
	bind_text(s, 1, r->run_id);
	bind_text(s, 2, r->dry_run ? "dry_run" : "real");
	sqlite3_bind_int64(s, 3, r->created_ms);
	sqlite3_bind_int64(s, 4, pid);
	bind_text(s, 5, r->version);
	bind_text(s, 6, r->config_path);
	bind_text(s, 7, r->retry_of);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_fail(err, st, "cannot record the run");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;

	if (prepare(st,
		    "INSERT INTO run_providers VALUES (?1, ?2, ?3, ?4, ?5, "
		    "?6, ?7)",
		    &s, err))
		goto out;
	bind_text(s, 1, r->run_id);
	for (i = 0; i < r->n_providers; i++) {
		const struct vs_report_provider *p = &r->providers[i];

		sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
		bind_text(s, 3, p->name);
		bind_text(s, 4, p->type ? p->type : "");
		sqlite3_bind_int64(s, 5, p->listed);
		bind_text(s, 6, err_class_or_null(&p->error));
		bind_text(s, 7,
			  p->error.cls != VS_EC_NONE ? p->error.message : NULL);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot record the providers");
			goto out;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	s = NULL;

	if (prepare(st,
		    "INSERT INTO run_vms (run_id, idx, provider, vm_id, name, "
		    "created, age_source, rules, reason) VALUES (?1, ?2, ?3, "
		    "?4, ?5, ?6, ?7, ?8, ?9)",
		    &s, err))
		goto out;
	bind_text(s, 1, r->run_id);
	for (i = 0; i < r->n_vms; i++) {
		const struct vs_report_vm *v = &r->vms[i];

		free(rules);
		rules = rules_json(v);
		if (!rules) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "out of memory");
			goto out;
		}
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
		bind_text(s, 3, v->provider);
		bind_text(s, 4, v->id);
		bind_text(s, 5, v->name ? v->name : "");
		bind_time(s, 6, v->created, VS_TIME_UNKNOWN);
		bind_text(s, 7,
			  v->age_source == VS_AGE_CREATED      ? "created"
			  : v->age_source == VS_AGE_FIRST_SEEN ? "first_seen"
							       : "unknown");
		bind_text(s, 8, rules);
		bind_text(s, 9, v->reason);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot record the plan");
			goto out;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	s = NULL;

	if (prepare(st, "INSERT INTO run_kept VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		    &s, err))
		goto out;
	bind_text(s, 1, r->run_id);
	for (i = 0; i < r->n_kept; i++) {
		const struct vs_report_kept *k = &r->kept[i];

		sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
		bind_text(s, 3, k->provider);
		bind_text(s, 4, k->id);
		bind_text(s, 5, k->name ? k->name : "");
		bind_text(s, 6, k->reason);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot record the kept VMs");
			goto out;
		}
		sqlite3_reset(s);
	}
	if (exec(st, "COMMIT", err))
		goto out;
	rc = 0;
out:
	free(rules);
	sqlite3_finalize(s);
	if (rc)
		rollback(st);
	return rc;
}

int vs_state_run_begin(struct vs_state *st, const struct vs_report *r, long pid)
{
	struct vs_error err;
	int rc;

	if (!st || !r->run_id)
		return VS_ERR;
	if (st->journal_on && strcmp(st->run_id, r->run_id) == 0)
		return 0;
	vs_error_clear(&err);
	free(st->run_id);
	st->run_id = strdup(r->run_id);
	if (!st->run_id) {
		journal_warn(st, "out of memory");
		return VS_ERR;
	}
	pthread_mutex_lock(&st->db_mu);
	rc = write_run(st, r, pid, &err);
	pthread_mutex_unlock(&st->db_mu);
	if (rc) {
		journal_warn(st, err.message);
		return VS_ERR;
	}
	st->stop = 0;
	st->jfailed = 0;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		journal_warn(st, "cannot start the journal's writer thread");
		return VS_ERR;
	}
	st->writer_running = 1;
	st->journal_on = 1;
	return 0;
}

size_t vs_state_flag_failing(struct vs_state *st, struct vs_report *r,
			     int flag_after)
{
	sqlite3_stmt *s = NULL;
	struct vs_error err;
	size_t i, flagged = 0;
	int n;

	if (!st || flag_after <= 0 || !r->run_id)
		return 0;
	vs_error_clear(&err);
	pthread_mutex_lock(&st->db_mu);
	if (prepare(st,
		    "SELECT v.outcome FROM run_vms v JOIN runs r ON r.id = "
		    "v.run_id WHERE v.provider = ?1 AND v.vm_id = ?2 AND "
		    "r.id <> ?3 AND r.mode = ?4 ORDER BY r.started_ms DESC "
		    "LIMIT ?5",
		    &s, &err))
		goto out;
	bind_text(s, 3, r->run_id);
	bind_text(s, 4, r->dry_run ? "dry_run" : "real");
	sqlite3_bind_int(s, 5, flag_after - 1);
	for (i = 0; i < r->n_vms; i++) {
		struct vs_report_vm *v = &r->vms[i];

		if (v->outcome != VS_OUT_FAILED)
			continue;
		bind_text(s, 1, v->provider);
		bind_text(s, 2, v->id);
		n = 1;
		while (sqlite3_step(s) == SQLITE_ROW &&
		       strcmp(col_str(s, 0), "failed") == 0)
			n++;
		sqlite3_reset(s);
		if (n >= flag_after) {
			v->failing_runs = n;
			flagged++;
		}
	}
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->db_mu);
	if (err.cls != VS_EC_NONE)
		journal_warn(st, err.message);
	return flagged;
}

/* Every VM's final row and the run's end.  db_mu held. */
static int write_end(struct vs_state *st, const struct vs_report *r,
		     struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = VS_ERR;

	if (exec(st, "BEGIN IMMEDIATE", err))
		return VS_ERR;
	if (prepare(st, SQL_OUTCOME, &s, err))
		goto out;
	for (i = 0; i < r->n_vms; i++) {
		const struct vs_report_vm *v = &r->vms[i];

		bind_outcome(s, v->outcome, v->attempts, v->rounds_failed,
			     v->started_ms, v->finished_ms, &v->error);
		sqlite3_bind_int(s, 10, v->failing_runs);
		bind_text(s, 11, st->run_id);
		sqlite3_bind_int64(s, 12, (sqlite3_int64)i);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_fail(err, st, "cannot write the journal");
			goto out;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (prepare(st, "UPDATE runs SET finished_ms = ?1 WHERE id = ?2", &s,
		    err))
		goto out;
	sqlite3_bind_int64(s, 1,
			   r->finished_ms ? r->finished_ms : vs_time_now_ms());
	bind_text(s, 2, st->run_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_fail(err, st, "cannot record the end of the run");
		goto out;
	}
	if (exec(st, "COMMIT", err))
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	if (rc)
		rollback(st);
	return rc;
}

int vs_state_run_end(struct vs_state *st, const struct vs_report *r)
{
	struct vs_error err;
	int rc;

	if (!st || !st->journal_on)
		return VS_ERR;
	writer_stop(st);
	st->journal_on = 0;
	if (st->jfailed)
		return VS_ERR;
	vs_error_clear(&err);
	pthread_mutex_lock(&st->db_mu);
	rc = write_end(st, r, &err);
	pthread_mutex_unlock(&st->db_mu);
	if (rc)
		journal_warn(st, err.message);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading the journal.                                                 */

const char *vs_state_run_status_name(enum vs_state_run_status s)
{
	switch (s) {
	case VS_RUN_FINISHED:
		return "finished";
	case VS_RUN_RUNNING:
		return "running";
	case VS_RUN_UNFINISHED:
		break;
	}
	return "unfinished";
}

static enum vs_state_run_status run_status(int64_t finished_ms, long pid)
{
	if (finished_ms)
		return VS_RUN_FINISHED;
	/* A live pid may be another process by now; it is a hint. */
	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		return VS_RUN_RUNNING;
	return VS_RUN_UNFINISHED;
}

#define SQL_RUN_COLS "id, mode, started_ms, finished_ms, pid"

static void run_from_row(sqlite3_stmt *s, struct vs_state_run *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", col_str(s, 0));
	info->dry_run = strcmp(col_str(s, 1), "dry_run") == 0;
	info->started_ms = sqlite3_column_int64(s, 2);
	info->finished_ms = sqlite3_column_int64(s, 3);
	info->pid = (long)sqlite3_column_int64(s, 4);
	info->status = run_status(info->finished_ms, info->pid);
}

/*
 * The outcome a journaled VM row stands for: its outcome once ended;
 * for a run that did not finish, requested when it was started and
 * not_attempted when never; NONE (planned) while the run goes on.
 */
static enum vs_outcome row_outcome(const char *state, const char *outcome,
				   enum vs_state_run_status status)
{
	enum vs_outcome o = VS_OUT_NONE;

	if (outcome && *outcome && vs_outcome_parse(outcome, &o) == 0 &&
	    strcmp(state, "started") != 0)
		return o;
	if (status == VS_RUN_RUNNING)
		return VS_OUT_NONE;
	if (strcmp(state, "started") == 0)
		return VS_OUT_REQUESTED;
	return VS_OUT_NOT_ATTEMPTED;
}

/* Per-run counts for the history.  db_mu held. */
static int count_run(struct vs_state *st, struct vs_state_run *info,
		     struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = VS_ERR;
	enum vs_outcome o;

	if (prepare(st,
		    "SELECT state, outcome, count(*), sum(failing_runs > 0) "
		    "FROM run_vms WHERE run_id = ?1 GROUP BY 1, 2",
		    &s, err))
		return VS_ERR;
	bind_text(s, 1, info->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		long n = (long)sqlite3_column_int64(s, 2);

		o = row_outcome(col_str(s, 0),
				(const char *)sqlite3_column_text(s, 1),
				info->status);
		info->outcomes[o] += n;
		info->n_vms += n;
		info->flagged += (long)sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(err, st, "cannot read the journal");
	if (prepare(st, "SELECT count(*) FROM run_kept WHERE run_id = ?1", &s,
		    err))
		return VS_ERR;
	bind_text(s, 1, info->id);
	if (sqlite3_step(s) == SQLITE_ROW)
		info->n_kept = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

int vs_state_list_runs(struct vs_state *st, size_t limit,
		       struct vs_state_run **runs, size_t *n,
		       struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	struct vs_state_run *out = NULL, *grown;
	size_t k = 0, alloc = 0;
	int rc = VS_ERR, step;

	*runs = NULL;
	*n = 0;
	pthread_mutex_lock(&st->db_mu);
	if (prepare(st,
		    "SELECT " SQL_RUN_COLS " FROM runs ORDER BY started_ms "
		    "DESC, rowid DESC LIMIT ?1",
		    &s, err))
		goto out;
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			grown = realloc(out, alloc * sizeof(*out));
			if (!grown) {
				vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					     "out of memory");
				goto out;
			}
			out = grown;
		}
		run_from_row(s, &out[k++]);
	}
	if (step != SQLITE_DONE) {
		db_fail(err, st, "cannot read the journal");
		goto out;
	}
	for (size_t i = 0; i < k; i++)
		if (count_run(st, &out[i], err))
			goto out;
	*runs = out;
	*n = k;
	out = NULL;
	rc = 0;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->db_mu);
	free(out);
	return rc;
}

static int load_vms(struct vs_state *st, struct vs_report *r,
		    const struct vs_state_run *info, struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	struct vs_report_vm *v;
	struct vs_vm id;
	json_t *rules;
	size_t j;
	int step, rc = VS_ERR;
	const char *src;

	if (prepare(st,
		    "SELECT provider, vm_id, name, created, age_source, rules, "
		    "reason, state, outcome, attempts, rounds_failed, "
		    "started_ms, finished_ms, error_class, http_status, "
		    "error_message, retryable, failing_runs FROM run_vms "
		    "WHERE run_id = ?1 ORDER BY idx",
		    &s, err))
		return VS_ERR;
	bind_text(s, 1, info->id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&id, 0, sizeof(id));
		id.id = (char *)col_str(s, 1);
		id.name = (char *)col_str(s, 2);
		id.created = sqlite3_column_type(s, 3) == SQLITE_NULL
				     ? VS_TIME_UNKNOWN
				     : sqlite3_column_int64(s, 3);
		src = col_str(s, 4);
		id.age_source = strcmp(src, "created") == 0 ? VS_AGE_CREATED
				: strcmp(src, "first_seen") == 0
					? VS_AGE_FIRST_SEEN
					: VS_AGE_NONE;
		v = vs_report_add_vm(r, col_str(s, 0), &id, (size_t)-1);
		if (!v)
			goto nomem;
		v->vm = NULL;
		rules = json_loads(col_str(s, 5), 0, NULL);
		for (j = 0; json_is_array(rules) && j < json_array_size(rules);
		     j++) {
			const char *rn =
				json_string_value(json_array_get(rules, j));

			if (rn && vs_report_vm_add_rule(v, rn)) {
				json_decref(rules);
				goto nomem;
			}
		}
		json_decref(rules);
		v->reason = col_dup(s, 6);
		v->outcome = row_outcome(
			col_str(s, 7), (const char *)sqlite3_column_text(s, 8),
			info->status);
		v->attempts = sqlite3_column_int(s, 9);
		v->rounds_failed = sqlite3_column_int(s, 10);
		v->started_ms = sqlite3_column_int64(s, 11);
		v->finished_ms = sqlite3_column_int64(s, 12);
		v->failing_runs = sqlite3_column_int(s, 17);
		vs_error_clear(&v->error);
		if (sqlite3_column_type(s, 13) != SQLITE_NULL &&
		    vs_err_class_parse(col_str(s, 13), &v->error.cls) == 0) {
			v->error.http_status = sqlite3_column_int(s, 14);
			v->error.retryable = sqlite3_column_int(s, 16);
			snprintf(v->error.message, sizeof(v->error.message),
				 "%s", col_str(s, 15));
		}
		if (strcmp(col_str(s, 7), "started") == 0 &&
		    v->outcome == VS_OUT_REQUESTED) {
			vs_error_clear(&v->error);
			vs_error_set(&v->error, VS_EC_CANCELLED, 0, 1,
				     "delete started (attempt %d); the run "
				     "ended before its outcome was recorded",
				     v->attempts);
		} else if (v->outcome == VS_OUT_NOT_ATTEMPTED &&
			   v->error.cls == VS_EC_NONE) {
			vs_error_set(&v->error, VS_EC_CANCELLED, 0, 0,
				     "not attempted: the run ended before it "
				     "was started");
		}
	}
	if (step != SQLITE_DONE) {
		db_fail(err, st, "cannot read the journal");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
out:
	sqlite3_finalize(s);
	return rc;
}

static int load_rest(struct vs_state *st, struct vs_report *r,
		     const struct vs_state_run *info, struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	struct vs_report_provider *p;
	struct vs_vm id;
	int step, rc = VS_ERR;

	if (prepare(st,
		    "SELECT name, type, listed, error_class, error_message "
		    "FROM run_providers WHERE run_id = ?1 ORDER BY idx",
		    &s, err))
		return VS_ERR;
	bind_text(s, 1, info->id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		p = vs_report_add_provider(r, col_str(s, 0), col_str(s, 1));
		if (!p)
			goto nomem;
		p->listed = (long)sqlite3_column_int64(s, 2);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
		    vs_err_class_parse(col_str(s, 3), &p->error.cls) == 0)
			snprintf(p->error.message, sizeof(p->error.message),
				 "%s", col_str(s, 4));
	}
	sqlite3_finalize(s);
	s = NULL;
	if (step != SQLITE_DONE) {
		db_fail(err, st, "cannot read the journal");
		goto out;
	}
	if (prepare(st,
		    "SELECT provider, vm_id, name, reason FROM run_kept "
		    "WHERE run_id = ?1 ORDER BY idx",
		    &s, err))
		goto out;
	bind_text(s, 1, info->id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&id, 0, sizeof(id));
		id.id = (char *)col_str(s, 1);
		id.name = (char *)col_str(s, 2);
		if (!vs_report_add_kept(r, col_str(s, 0), &id, col_str(s, 3)))
			goto nomem;
	}
	if (step != SQLITE_DONE) {
		db_fail(err, st, "cannot read the journal");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
out:
	sqlite3_finalize(s);
	return rc;
}

int vs_state_load_run(struct vs_state *st, const char *id, struct vs_report *r,
		      struct vs_state_run *info, struct vs_error *err)
{
	sqlite3_stmt *s = NULL;
	struct vs_state_run run;
	int step, rc = VS_ERR;

	vs_report_init(r);
	pthread_mutex_lock(&st->db_mu);
	if (prepare(st,
		    id ? "SELECT " SQL_RUN_COLS
			 ", version, config_path, retry_of FROM runs WHERE "
			 "id = ?1"
		       : "SELECT " SQL_RUN_COLS
			 ", version, config_path, retry_of FROM runs ORDER "
			 "BY started_ms DESC, rowid DESC LIMIT 1",
		    &s, err))
		goto out;
	if (id)
		bind_text(s, 1, id);
	step = sqlite3_step(s);
	if (step == SQLITE_DONE) {
		if (id)
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "state store '%s' has no run '%s'",
				     st->path, id);
		else
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "state store '%s' has no run yet",
				     st->path);
		rc = VS_STATE_NO_RUN;
		goto out;
	}
	if (step != SQLITE_ROW) {
		db_fail(err, st, "cannot read the journal");
		goto out;
	}
	run_from_row(s, &run);
	r->run_id = col_dup(s, 0);
	r->version = col_dup(s, 5);
	r->config_path = col_dup(s, 6);
	r->retry_of = col_dup(s, 7);
	r->dry_run = run.dry_run;
	r->created_ms = run.started_ms;
	r->finished_ms = run.finished_ms;
	if (!r->run_id) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	if (load_rest(st, r, &run, err) || load_vms(st, r, &run, err) ||
	    count_run(st, &run, err))
		goto out;
	vs_report_tally(r);
	if (info)
		*info = run;
	rc = 0;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->db_mu);
	if (rc) {
		vs_report_release(r);
		vs_report_init(r);
	}
	return rc;
}

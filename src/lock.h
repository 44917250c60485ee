/*
 * lock.h - the run lock: one deleting run at a time.
 *
 * A run holds an exclusive flock(2) on a lock file for as long as it
 * deletes.  The kernel drops the lock when the holder exits, however it
 * exits, so a lock left by a dead or killed process never blocks the next
 * run: the file's content (the holder's pid and start time) is only
 * informational, for the message a second run prints.  The file is never
 * removed (removing a locked file lets two runs lock two different files
 * of the same name).
 *
 * The default place is the first of $RUNTIME_DIRECTORY (set by systemd's
 * RuntimeDirectory=, first entry), $XDG_RUNTIME_DIR, $STATE_DIRECTORY
 * (systemd's StateDirectory=), $XDG_STATE_HOME/vmsweep and
 * $HOME/.local/state/vmsweep (the runtime directory of paths.h), then
 * "vmsweep.lock" in it.  The last two are created (mode 0700) when
 * missing.
 *
 * Ownership: vs_lock_acquire() returns a heap object the caller frees
 * with vs_lock_free(), which releases the lock.  Its descriptor is
 * O_CLOEXEC, so a child process never inherits the lock.
 *
 * Threading: a struct vs_lock belongs to one thread; the functions keep
 * no global state and may run in several threads on different objects.
 */
#ifndef VS_LOCK_H
#define VS_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

/* vs_lock_acquire(): another process holds the lock. */
#define VS_LOCK_BUSY (-2)

struct vs_lock;

/*
 * Write the default lock path (see above) into buf.  Creates the state
 * directory when that is the one chosen.  Returns VS_ERR with err filled
 * (class config) when no directory can be found or made, or the path
 * does not fit.
 */
int vs_lock_default_path(char *buf, size_t sz, struct vs_error *err);

/*
 * Take the lock on path without waiting, creating the file (0644, no
 * symbolic link followed, a regular file only) when needed, and record
 * this process's pid and the current time in it.  Returns:
 *   0             *out holds the lock
 *   VS_LOCK_BUSY  another open file holds it; err (class locked) says
 *                 "another run holds the lock PATH (pid N, started
 *                 TIME)", or "(holder unknown)" when the content cannot
 *                 be read
 *   VS_ERR        the file cannot be opened or locked (class config)
 * *out is NULL unless 0 is returned.
 */
int vs_lock_acquire(const char *path, struct vs_lock **out,
		    struct vs_error *err);

/* Release the lock and free; NULL is fine.  The file stays. */
void vs_lock_free(struct vs_lock *lock);

/* The path given to vs_lock_acquire() (owned by the lock). */
const char *vs_lock_path(const struct vs_lock *lock);

/*
 * Read the holder recorded in the file at path: *pid and *started (Unix
 * seconds).  Returns VS_ERR when the file is missing or its content is
 * not "pid N started TIME".  Does not tell whether the holder still runs.
 */
int vs_lock_read_holder(const char *path, long *pid, int64_t *started);

#endif

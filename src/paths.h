/*
 * paths.h - where vmsweep keeps its files when the configuration does
 * not say: the state directory and the runtime directory.
 *
 * A variable counts only when it holds an absolute path; a relative one
 * is ignored, as if unset.  For the variables systemd sets from a unit's
 * StateDirectory= and RuntimeDirectory=, which may list several
 * directories separated by ':', the first entry is the one used.
 *
 * The state directory is the first of
 *   $STATE_DIRECTORY          (systemd made it)
 *   $XDG_STATE_HOME/vmsweep   (ours to create)
 *   $HOME/.local/state/vmsweep (ours to create)
 * The runtime directory is the first of $RUNTIME_DIRECTORY and
 * $XDG_RUNTIME_DIR (both made by someone else), else the state directory.
 *
 * Neither lookup creates anything: a caller about to write there calls
 * vs_paths_mkdirs() when *ours came back 1.
 *
 * Ownership: the functions append to a caller-owned buffer and keep
 * nothing.  Threading: they read the environment and keep no state, so
 * they are safe from several threads as long as no thread changes the
 * environment meanwhile.
 */
#ifndef VS_PATHS_H
#define VS_PATHS_H

#include "buf.h"
#include "provider.h"

/* vs_paths_*_dir(): none of the variables names a directory. */
#define VS_PATHS_NONE (-2)

/*
 * Append the state directory (see above) to out, without a trailing
 * '/'.  *ours is set to 1 when it is one vmsweep must create itself, 0
 * when systemd made it.  Returns 0, VS_PATHS_NONE when no variable
 * names one, or VS_ERR when out cannot take the path (its cap, or out of
 * memory; out is then unchanged).  The caller words the error: only it
 * knows which setting would avoid the lookup.
 */
int vs_paths_state_dir(struct vs_buf *out, int *ours);

/* The same for the runtime directory (see above). */
int vs_paths_runtime_dir(struct vs_buf *out, int *ours);

/*
 * Make dir and its missing parents, mode 0700 for what it creates;
 * existing ones are fine.  On failure returns VS_ERR with err filled
 * (class config): "cannot create the WHAT directory 'PREFIX': REASON",
 * where what is a word such as "state" or "lock".
 */
int vs_paths_mkdirs(const char *dir, const char *what, struct vs_error *err);

#endif

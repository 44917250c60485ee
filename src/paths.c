/*
 * paths.c - the state and runtime directories from the environment.
 *
 * The lock and the state store both default to these directories; one
 * lookup keeps the two from drifting apart, so that a unit's
 * StateDirectory= puts the lock next to the store it guards.
 */
#include "paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The variable's value when it is an absolute path, else NULL. */
static const char *env_dir(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

int vs_paths_state_dir(struct vs_buf *out, int *ours)
{
	const char *v;
	int rc;

	*ours = 1;
	if ((v = env_dir("STATE_DIRECTORY")) != NULL) {
		*ours = 0;
		rc = vs_buf_add(out, v, strcspn(v, ":"));
	} else if ((v = env_dir("XDG_STATE_HOME")) != NULL) {
		rc = vs_buf_addf(out, "%s/vmsweep", v);
	} else if ((v = env_dir("HOME")) != NULL) {
		rc = vs_buf_addf(out, "%s/.local/state/vmsweep", v);
	} else {
		*ours = 0;
		return VS_PATHS_NONE;
	}
	return rc ? VS_ERR : 0;
}

int vs_paths_runtime_dir(struct vs_buf *out, int *ours)
{
	const char *v;
	int rc;

	*ours = 0;
	if ((v = env_dir("RUNTIME_DIRECTORY")) != NULL)
		rc = vs_buf_add(out, v, strcspn(v, ":"));
	else if ((v = env_dir("XDG_RUNTIME_DIR")) != NULL)
		rc = vs_buf_adds(out, v);
	else
		return vs_paths_state_dir(out, ours);
	return rc ? VS_ERR : 0;
}

int vs_paths_mkdirs(const char *dir, const char *what, struct vs_error *err)
{
	char eb[128];
	char *p, *copy = strdup(dir);
	int rc = VS_ERR;

	if (!copy)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	/* Each prefix ending at a '/' in turn, then the whole path. */
	for (p = copy + 1;; p++) {
		char c;

		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "cannot create the %s directory '%s': %s",
				     what, copy,
				     strerror_r(errno, eb, sizeof(eb)));
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

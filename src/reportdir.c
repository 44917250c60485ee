/*
 * reportdir.c - find and prune the reports of report.dir.
 *
 * scandir() rather than readdir(): it is reentrant, sorts for us and
 * filters by our name pattern before anything is kept.
 */
#include "reportdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define TAG "reports"

static int digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int vs_reportdir_match(const char *name, int64_t *time)
{
	/* vmsweep-20251125T174044Z-4f2a9c1e.json */
	static const char pre[] = "vmsweep-", suf[] = ".json";
	const char *p = name, *id;
	char iso[32];
	size_t len = strlen(name), n;
	int64_t t;

	if (len < sizeof(pre) - 1 + 16 + 1 + 1 + sizeof(suf) - 1 ||
	    strncmp(p, pre, sizeof(pre) - 1) != 0 ||
	    strcmp(name + len - (sizeof(suf) - 1), suf) != 0)
		return 0;
	p += sizeof(pre) - 1;
	if (!digits(p, 8) || p[8] != 'T' || !digits(p + 9, 6) || p[15] != 'Z' ||
	    p[16] != '-')
		return 0;
	id = p + 17;
	n = (size_t)(name + len - (sizeof(suf) - 1) - id);
	if (n == 0 || n > 64 || strspn(id, "0123456789abcdef") != n)
		return 0;
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", p, p + 4,
		 p + 6, p + 9, p + 11, p + 13);
	if (vs_time_parse(iso, &t) != 0)
		return 0;
	if (time)
		*time = t;
	return 1;
}

static int name_filter(const struct dirent *d)
{
	return vs_reportdir_match(d->d_name, NULL);
}

/* The matching regular files of dir, oldest first; -1 with err set. */
static int scan(const char *dir, struct dirent ***list, struct vs_error *err)
{
	char eb[128];
	int n;

	n = scandir(dir, list, name_filter, alphasort);
	if (n < 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "cannot read report directory '%s': %s",
				    dir, strerror_r(errno, eb, sizeof(eb)));
	return n;
}

static int is_regular(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static void free_list(struct dirent **list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int vs_reportdir_latest(const char *dir, struct vs_buf *path,
			struct vs_error *err)
{
	struct dirent **list = NULL;
	int n, i, dfd = -1, ret = VS_ERR;

	n = scan(dir, &list, err);
	if (n < 0)
		return VS_ERR;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = n - 1; i >= 0 && dfd >= 0; i--)
		if (is_regular(dfd, list[i]->d_name))
			break;
	if (dfd < 0 || i < 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "no report in '%s' (report.dir)", dir);
		goto out;
	}
	if (vs_buf_addf(path, "%s/%s", dir, list[i]->d_name)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "report path in '%s' too long", dir);
		goto out;
	}
	ret = VS_OK;
out:
	if (dfd >= 0)
		close(dfd);
	free_list(list, n);
	return ret;
}

int vs_reportdir_prune(const char *dir, long keep, int64_t keep_age_ms,
		       int64_t now, size_t *removed, struct vs_error *err)
{
	struct dirent **list = NULL;
	char eb[128];
	int64_t t;
	long newer = 0;
	size_t gone = 0;
	int n, i, dfd = -1, ret = VS_OK;

	if (removed)
		*removed = 0;
	if (keep <= 0 && keep_age_ms < 0)
		return VS_OK;
	n = scan(dir, &list, err);
	if (n < 0)
		return VS_ERR;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = vs_error_set(err, VS_EC_CONFIG, 0, 0,
				   "cannot read report directory '%s': %s", dir,
				   strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	/* Newest first: the first keep regular files stay. */
	for (i = n - 1; i >= 0; i--) {
		const char *name = list[i]->d_name;
		int old;

		if (!is_regular(dfd, name) || !vs_reportdir_match(name, &t))
			continue;
		newer++;
		old = (keep > 0 && newer > keep) ||
		      (keep_age_ms >= 0 && t < now - keep_age_ms / 1000);
		if (!old)
			continue;
		if (unlinkat(dfd, name, 0) != 0) {
			vs_log(VS_LOG_WARN, TAG, "cannot remove '%s/%s': %s",
			       dir, name, strerror_r(errno, eb, sizeof(eb)));
			ret = vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					   "cannot remove '%s/%s'", dir, name);
			continue;
		}
		vs_log(VS_LOG_DEBUG, TAG, "pruned old report %s/%s", dir, name);
		gone++;
	}
out:
	if (dfd >= 0)
		close(dfd);
	free_list(list, n);
	if (removed)
		*removed = gone;
	return ret;
}

/*
 * log: PowerMTA-style log lines to stderr and/or a file (see log.h).
 *
 * The state is process-wide on purpose: logging is the one facility
 * every thread may use.  Each line is formatted into a local buffer and
 * written with a single write(2), so lines from different threads do not
 * interleave.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static struct {
	enum log_level	 level;
	int		 fd;		/* log-file, or -1 */
	bool		 to_stderr;
	char		 path[4096];
} log_state = { LOG_LEVEL_INFO, -1, true, "" };

void
log_init(enum log_level level)
{
	log_state.level = level;
	log_state.to_stderr = true;
}

int
log_open(const char *path, bool keep_stderr)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd == -1)
		return -1;
	if (log_state.fd != -1)
		close(log_state.fd);
	log_state.fd = fd;
	log_state.to_stderr = keep_stderr;
	snprintf(log_state.path, sizeof(log_state.path), "%s", path);
	return 0;
}

int
log_reopen(void)
{
	if (log_state.path[0] == '\0')
		return 0;
	return log_open(log_state.path, log_state.to_stderr);
}

void
log_close(void)
{
	if (log_state.fd != -1)
		close(log_state.fd);
	log_state.fd = -1;
	log_state.to_stderr = true;
}

static void log_write(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_write(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[8192];
	struct tm tm;
	time_t now;
	size_t n;
	int r;

	if (level > log_state.level)
		return;
	now = time(NULL);
	localtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S ", &tm);
	r = vsnprintf(line + n, sizeof(line) - n - 2, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r < sizeof(line) - n - 2 ? (size_t)r : sizeof(line) - n - 3;
	if (errnum != 0) {
		r = snprintf(line + n, sizeof(line) - n - 1, ": %s",
		    strerror(errnum));
		if (r > 0)
			n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r :
			    sizeof(line) - n - 2;
	}
	line[n++] = '\n';
	if (log_state.fd != -1 && write(log_state.fd, line, n) == -1) {
		/* nowhere better to report it */
	}
	if (log_state.to_stderr && write(STDERR_FILENO, line, n) == -1) {
		/* nothing to do */
	}
}

void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	log_write(level, 0, fmt, ap);
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	int saved = errno;					\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_write(level, with_errno ? saved : 0, fmt, ap);	\
	va_end(ap);						\
	errno = saved;						\
}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

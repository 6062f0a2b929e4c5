/*
 * log: the daemon's log.  Lines look like PowerMTA's,
 * "YYYY-MM-DD HH:MM:SS text", in local time, written with one write(2)
 * each to stderr (foreground/--debug) or to the log-file.
 *
 * fatal()/fatalx() end the process (the first appends strerror(errno));
 * warn() appends strerror(errno), warnx() does not.  Never log passwords,
 * AUTH data or key material.
 */
#ifndef TERN_LIB_LOG_H
#define TERN_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Log to stderr at the given verbosity (the default before log_open). */
void	log_init(enum log_level level);
/* Also (or instead, if !keep_stderr) append to PATH.  0, or -1 with errno. */
int	log_open(const char *path, bool keep_stderr);
void	log_close(void);
/* Re-open the file after rotation. */
int	log_reopen(void);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_vlog(enum log_level level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif

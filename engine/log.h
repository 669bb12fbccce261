/* log: one line per event on stderr, with a level, filtered by --log-level.
 *
 * "ringexecd: LEVEL: text". Never writes to stdout (that carries only the
 * URL line). Shared by every part; holds only the chosen level.
 */
#ifndef RINGEXEC_LOG_H
#define RINGEXEC_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Parse "error"|"warn"|"info"|"debug". 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

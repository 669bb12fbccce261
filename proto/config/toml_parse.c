/* toml_parse: a strict reader for the TOML 1.0 that codex config files
 * use: toml_parse() builds the tree (toml.c's tables, in one arena per
 * document); an error carries its 1-based line.
 * Must not: accept what TOML 1.0 refuses, or know JSON or the protocol.
 */
#include "toml_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "uri.h"

/* ---- parser ---- */

struct toml_parser {
	struct toml_doc *d;
	const char *p, *end;
	int line;
	struct toml_error *err;
	struct toml_node *cur;		/* table that key/values go into */
	struct buf scratch;		/* string decoding */
};

struct toml_key {
	const char *s;			/* decoded segment (arena) */
	size_t n;
};

#define TOML_MAX_KEYS TOML_MAX_DEPTH

static int toml_fail(struct toml_parser *P, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int toml_fail(struct toml_parser *P, const char *fmt, ...)
{
	if (P->err->msg[0])
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(P->err->msg, sizeof(P->err->msg), fmt, ap);
	va_end(ap);
	P->err->line = P->line;
	return -1;
}

static int toml_oom(struct toml_parser *P)
{
	return toml_fail(P, "out of memory");
}

static bool toml_eof(const struct toml_parser *P)
{
	return P->p >= P->end;
}

static int toml_peek(const struct toml_parser *P, size_t k)
{
	return P->p + k < P->end ? (unsigned char)P->p[k] : -1;
}

static void toml_skip_ws(struct toml_parser *P)
{
	while (!toml_eof(P) && (*P->p == ' ' || *P->p == '\t'))
		P->p++;
}

/* At a newline ("\n" or "\r\n")? Its length, else 0. */
static size_t toml_at_newline(const struct toml_parser *P)
{
	if (toml_peek(P, 0) == '\n')
		return 1;
	if (toml_peek(P, 0) == '\r' && toml_peek(P, 1) == '\n')
		return 2;
	return 0;
}

static bool toml_is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static const char *toml_char_name(int c, char *tmp, size_t n)
{
	if (c < 0)
		return "end of file";
	if (c == '\n')
		return "a newline";
	if (c < 0x20 || c == 0x7f || c >= 0x80)
		snprintf(tmp, n, "byte 0x%02x", (unsigned)c);
	else
		snprintf(tmp, n, "`%c`", c);
	return tmp;
}

/* A comment from '#' to the end of the line, if there is one. */
static int toml_skip_comment(struct toml_parser *P)
{
	if (toml_peek(P, 0) != '#')
		return 0;
	while (!toml_eof(P) && *P->p != '\n') {
		if (*P->p == '\r' && toml_peek(P, 1) == '\n')
			break;
		if (toml_is_control((unsigned char)*P->p))
			return toml_fail(P, "control character 0x%02x in a comment",
					 (unsigned)(unsigned char)*P->p);
		P->p++;
	}
	return 0;
}

/* Spaces, a comment, then a newline or the end of the file. */
static int toml_end_of_line(struct toml_parser *P, const char *after)
{
	toml_skip_ws(P);
	if (toml_skip_comment(P) < 0)
		return -1;
	if (toml_eof(P))
		return 0;
	size_t nl = toml_at_newline(P);
	if (!nl) {
		char tmp[16];
		return toml_fail(P, "expected a newline after %s, found %s", after,
				 toml_char_name(toml_peek(P, 0), tmp, sizeof(tmp)));
	}
	P->p += nl;
	P->line++;
	return 0;
}

/* Whitespace, newlines and comments (inside arrays). */
static int toml_skip_blank(struct toml_parser *P)
{
	for (;;) {
		toml_skip_ws(P);
		if (toml_skip_comment(P) < 0)
			return -1;
		size_t nl = toml_at_newline(P);
		if (!nl)
			return 0;
		P->p += nl;
		P->line++;
	}
}

/* Every byte valid UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static int toml_check_utf8(struct toml_parser *P)
{
	const unsigned char *s = (const unsigned char *)P->p, *e = (const unsigned char *)P->end;
	int line = 1;
	while (s < e) {
		unsigned c = *s;
		size_t n;
		uint32_t cp, min;
		if (c == '\n')
			line++;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if ((size_t)(e - s) < n)
			goto bad;
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		s += n;
	}
	return 0;
bad:
	P->line = line;
	return toml_fail(P, "invalid UTF-8");
}

static int toml_put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	return buf_append(b, u, n);
}

/* An escape after '\' in a basic string (P->p at the letter). */
static int toml_escape(struct toml_parser *P)
{
	int c = toml_peek(P, 0);
	char ch;
	switch (c) {
	case 'b': ch = '\b'; break;
	case 't': ch = '\t'; break;
	case 'n': ch = '\n'; break;
	case 'f': ch = '\f'; break;
	case 'r': ch = '\r'; break;
	case '"': ch = '"'; break;
	case '\\': ch = '\\'; break;
	case 'u':
	case 'U': {
		size_t digits = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (size_t i = 1; i <= digits; i++) {
			int v = uri_hexval(toml_peek(P, i));
			if (v < 0)
				return toml_fail(P, "\\%c needs %zu hex digits", c, digits);
			cp = cp << 4 | (uint32_t)v;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return toml_fail(P, "\\%c%.*s is not a Unicode scalar value", c, (int)digits,
					 P->p + 1);
		P->p += 1 + digits;
		return toml_put_utf8(&P->scratch, cp) < 0 ? toml_oom(P) : 0;
	}
	default: {
		char tmp[16];
		return toml_fail(P, "invalid escape \\%s in a string",
				 c == '\n' ? "followed by a newline" : toml_char_name(c, tmp, sizeof(tmp)));
	}
	}
	P->p++;
	return buf_append(&P->scratch, &ch, 1) < 0 ? toml_oom(P) : 0;
}

/* A quote of the string's kind at P->p: the end of the string (1), quotes
 * that belong to a multi-line string's text (0), or -1 on error. */
static int toml_string_quote(struct toml_parser *P, char q, bool multi)
{
	if (!multi) {
		P->p++;
		return 1;
	}
	size_t run = 0;
	while (toml_peek(P, run) == q)
		run++;
	size_t kept = run >= 3 ? run - 3 : run;
	if (run > 5)
		return toml_fail(P, "too many quotes closing a multi-line string");
	if (buf_append(&P->scratch, P->p, kept) < 0)
		return toml_oom(P);
	P->p += run;
	return run >= 3;
}

/* In a multi-line basic string, after a '\': a line-ending backslash eats
 * the newline and the blanks after it (true). False (P->p unchanged) when
 * it is an escape. */
static bool toml_string_line_end(struct toml_parser *P)
{
	const char *save = P->p;
	toml_skip_ws(P);
	if (!toml_at_newline(P)) {
		P->p = save;
		return false;
	}
	for (;;) {
		toml_skip_ws(P);
		size_t k = toml_at_newline(P);
		if (!k)
			return true;
		P->p += k;
		P->line++;
	}
}

/* The opening quotes (P->p at the first): true for a multi-line string. */
static int toml_string_open(struct toml_parser *P, char q, bool multiline_ok, bool *multi)
{
	*multi = toml_peek(P, 1) == q && toml_peek(P, 2) == q;
	if (!*multi) {
		P->p++;
		return 0;
	}
	if (!multiline_ok)
		return toml_fail(P, "a multi-line string cannot be a key");
	P->p += 3;
	size_t nl = toml_at_newline(P);	/* a newline right after the quotes is dropped */
	if (nl) {
		P->p += nl;
		P->line++;
	}
	return 0;
}

/* A string of any of the four kinds (P->p at its first quote); the decoded
 * bytes are in P->scratch. multiline_ok: not a key. */
static int toml_string(struct toml_parser *P, bool multiline_ok)
{
	char q = *P->p;
	bool basic = q == '"', multi;
	int start_line = P->line;
	buf_reset(&P->scratch);
	if (toml_string_open(P, q, multiline_ok, &multi) < 0)
		return -1;
	for (;;) {
		if (toml_eof(P)) {
			P->line = start_line;
			return toml_fail(P, "unterminated string");
		}
		int c = (unsigned char)*P->p;
		if (c == q) {
			int r = toml_string_quote(P, q, multi);
			if (r != 0)
				return r < 0 ? -1 : 0;
			continue;
		}
		size_t nl = toml_at_newline(P);
		if (nl) {
			if (!multi)
				return toml_fail(P, "newline in a single-line string");
			if (buf_append(&P->scratch, "\n", 1) < 0)
				return toml_oom(P);
			P->p += nl;
			P->line++;
			continue;
		}
		if (toml_is_control(c))
			return toml_fail(P, "control character 0x%02x in a string", (unsigned)c);
		if (c == '\\' && basic) {
			P->p++;
			if (multi && toml_string_line_end(P))
				continue;
			if (toml_escape(P) < 0)
				return -1;
			continue;
		}
		if (buf_append(&P->scratch, P->p, 1) < 0)
			return toml_oom(P);
		P->p++;
	}
}

/* One key segment: bare, "basic" or 'literal'. */
static int toml_key_segment(struct toml_parser *P, struct toml_key *k)
{
	int c = toml_peek(P, 0);
	if (c == '"' || c == '\'') {
		if (toml_string(P, false) < 0)
			return -1;
		k->s = toml_memdup(P->d, P->scratch.data ? P->scratch.data : "", P->scratch.len);
		k->n = P->scratch.len;
		return k->s ? 0 : toml_oom(P);
	}
	const char *s = P->p;
	while (!toml_eof(P) && toml_is_bare((unsigned char)*P->p))
		P->p++;
	if (P->p == s) {
		char tmp[16];
		return toml_fail(P, "expected a key, found %s", toml_char_name(c, tmp, sizeof(tmp)));
	}
	k->s = s;
	k->n = (size_t)(P->p - s);
	return 0;
}

/* A dotted key: segments separated by '.', blanks allowed around the dots. */
static int toml_key(struct toml_parser *P, struct toml_key *keys, size_t *n)
{
	*n = 0;
	for (;;) {
		if (*n == TOML_MAX_KEYS)
			return toml_fail(P, "key has more than %d parts", TOML_MAX_KEYS);
		if (toml_key_segment(P, &keys[(*n)++]) < 0)
			return -1;
		toml_skip_ws(P);
		if (toml_peek(P, 0) != '.')
			return 0;
		P->p++;
		toml_skip_ws(P);
	}
}

static int toml_key_text(const struct toml_key *keys, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		int w = snprintf(out + o, cap - o, "%s%.*s", i ? "." : "", (int)keys[i].n, keys[i].s);
		if (w < 0)
			break;
		o += (size_t)w < cap - o ? (size_t)w : cap - o - 1;
	}
	return 0;
}

static int toml_value(struct toml_parser *P, struct toml_node *v);

/* Digits of a base with '_' only between two digits. Returns the count, -1 on a misplaced '_'. */
static int toml_digits(const char *s, size_t n, int base, uint64_t *val, bool *overflow)
{
	uint64_t v = 0;
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			if (i == 0 || i + 1 == n || s[i - 1] == '_')
				return -1;
			continue;
		}
		int d = uri_hexval((unsigned char)s[i]);
		if (d < 0 || d >= base)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			*overflow = true;
		v = v * (uint64_t)base + (uint64_t)d;
		count++;
	}
	*val = v;
	return count;
}

static int toml_integer(struct toml_parser *P, const char *t, size_t n, struct toml_node *v)
{
	bool neg = false, overflow = false;
	int base = 10;
	uint64_t u = 0;
	const char *s = t;
	if (n && (*s == '+' || *s == '-')) {
		neg = *s == '-';
		s++;
	}
	size_t len = n - (size_t)(s - t);
	if (s == t && len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		s += 2;
		len -= 2;
	} else if (len > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		return toml_fail(P, "invalid number `%.*s` (no sign before 0x, 0o, 0b)", (int)n, t);
	} else if (len > 1 && s[0] == '0') {
		return toml_fail(P, "leading zeros are not allowed in `%.*s`", (int)n, t);
	}
	if (len == 0 || toml_digits(s, len, base, &u, &overflow) <= 0)
		return toml_fail(P, "invalid number `%.*s`", (int)n, t);
	if (overflow || u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return toml_fail(P, "integer `%.*s` does not fit in 64 bits", (int)n, t);
	v->kind = TOML_INTEGER;
	v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int toml_float(struct toml_parser *P, const char *t, size_t n, struct toml_node *v)
{
	const char *s = t, *e = t + n;
	bool neg = false;
	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	v->kind = TOML_FLOAT;
	if ((size_t)(e - s) == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
		v->f = s[0] == 'i' ? INFINITY : NAN;
		if (neg)
			v->f = -v->f;
		return 0;
	}
	/* int part, then [.frac] and [e[sign]exp], at least one of the two. */
	const char *ip = s;
	while (s < e && *s != '.' && *s != 'e' && *s != 'E')
		s++;
	size_t ilen = (size_t)(s - ip);
	uint64_t dummy;
	bool of = false;
	if (ilen == 0 || toml_digits(ip, ilen, 10, &dummy, &of) <= 0 || (ilen > 1 && ip[0] == '0'))
		goto bad;
	bool has_frac = false, has_exp = false;
	if (s < e && *s == '.') {
		const char *fp = ++s;
		while (s < e && *s != 'e' && *s != 'E')
			s++;
		if (toml_digits(fp, (size_t)(s - fp), 10, &dummy, &of) <= 0)
			goto bad;
		has_frac = true;
	}
	if (s < e) {
		s++;
		if (s < e && (*s == '+' || *s == '-'))
			s++;
		if (toml_digits(s, (size_t)(e - s), 10, &dummy, &of) <= 0)
			goto bad;
		has_exp = true;
	}
	if (!has_frac && !has_exp)
		goto bad;
	char tmp[128];
	size_t o = 0;
	if (n >= sizeof(tmp))
		return toml_fail(P, "float `%.40s...` is too long", t);
	for (size_t i = 0; i < n; i++)
		if (t[i] != '_')
			tmp[o++] = t[i];
	tmp[o] = '\0';
	v->f = strtod(tmp, NULL);
	return 0;
bad:
	return toml_fail(P, "invalid number `%.*s`", (int)n, t);
}

/* Exactly k decimal digits at s. */
static bool toml_ndigits(const char *s, const char *e, size_t k, int *out)
{
	int v = 0;
	if ((size_t)(e - s) < k)
		return false;
	for (size_t i = 0; i < k; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Does a date or a time start here? */
static bool toml_datetime_ahead(const struct toml_parser *P)
{
	int d;
	return (toml_ndigits(P->p, P->end, 4, &d) && toml_peek(P, 4) == '-') ||
	       (toml_ndigits(P->p, P->end, 2, &d) && toml_peek(P, 2) == ':');
}

/* hh:mm:ss[.frac] at P->p, appended normalised to out. */
static int toml_time(struct toml_parser *P, struct buf *out)
{
	int h, m, s;
	if (!toml_ndigits(P->p, P->end, 2, &h) || toml_peek(P, 2) != ':' ||
	    !toml_ndigits(P->p + 3, P->end, 2, &m) || toml_peek(P, 5) != ':' ||
	    !toml_ndigits(P->p + 6, P->end, 2, &s))
		return toml_fail(P, "invalid time (expected hh:mm:ss)");
	if (h > 23 || m > 59 || s > 60)
		return toml_fail(P, "time %02d:%02d:%02d out of range", h, m, s);
	P->p += 8;
	char t[32];
	int n = snprintf(t, sizeof(t), "%02d:%02d:%02d", h, m, s);
	if (toml_peek(P, 0) == '.') {
		char frac[10] = "000000000";
		size_t k = 0;
		P->p++;
		while (!toml_eof(P) && *P->p >= '0' && *P->p <= '9') {
			if (k < 9)
				frac[k] = *P->p;
			k++;
			P->p++;
		}
		if (k == 0)
			return toml_fail(P, "invalid time: no digits after `.`");
		size_t keep = 9;
		while (keep && frac[keep - 1] == '0')
			keep--;
		if (keep)
			n += snprintf(t + n, sizeof(t) - (size_t)n, ".%.*s", (int)keep, frac);
	}
	return buf_append(out, t, (size_t)n) < 0 ? toml_oom(P) : 0;
}

static int toml_datetime(struct toml_parser *P, struct toml_node *v)
{
	struct buf *b = &P->scratch;
	buf_reset(b);
	int y, mo, d;
	if (toml_peek(P, 2) == ':') {
		if (toml_time(P, b) < 0)
			return -1;
		goto done;
	}
	if (!toml_ndigits(P->p, P->end, 4, &y) || toml_peek(P, 4) != '-' ||
	    !toml_ndigits(P->p + 5, P->end, 2, &mo) || toml_peek(P, 7) != '-' ||
	    !toml_ndigits(P->p + 8, P->end, 2, &d))
		return toml_fail(P, "invalid date (expected YYYY-MM-DD)");
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return toml_fail(P, "date %04d-%02d-%02d out of range", y, mo, d);
	char t[40];
	snprintf(t, sizeof(t), "%04d-%02d-%02d", y, mo, d);
	if (buf_append(b, t, 10) < 0)
		return toml_oom(P);
	P->p += 10;
	int sep = toml_peek(P, 0), hh;
	if (!(sep == 'T' || sep == 't' || (sep == ' ' && toml_ndigits(P->p + 1, P->end, 2, &hh) &&
					   toml_peek(P, 3) == ':')))
		goto done;
	P->p++;
	if (buf_append(b, "T", 1) < 0)
		return toml_oom(P);
	if (toml_time(P, b) < 0)
		return -1;
	int oc = toml_peek(P, 0);
	if (oc == 'Z' || oc == 'z') {
		P->p++;
		if (buf_append(b, "Z", 1) < 0)
			return toml_oom(P);
	} else if (oc == '+' || oc == '-') {
		int oh, om;
		if (!toml_ndigits(P->p + 1, P->end, 2, &oh) || toml_peek(P, 3) != ':' ||
		    !toml_ndigits(P->p + 4, P->end, 2, &om) || oh > 23 || om > 59)
			return toml_fail(P, "invalid time offset");
		P->p += 6;
		snprintf(t, sizeof(t), "%c%02d:%02d", oh || om ? oc : '+', oh, om);
		if (buf_append(b, t, 6) < 0)
			return toml_oom(P);
	}
done:
	v->kind = TOML_DATETIME;
	v->str = toml_memdup(P->d, b->data, b->len);
	v->str_len = b->len;
	return v->str ? 0 : toml_oom(P);
}

/* A bool, number or date: the maximal run of token bytes. */
static int toml_scalar(struct toml_parser *P, struct toml_node *v)
{
	if (toml_datetime_ahead(P))
		return toml_datetime(P, v);
	const char *t = P->p;
	while (!toml_eof(P) && (toml_is_bare((unsigned char)*P->p) || *P->p == '+' || *P->p == '.'))
		P->p++;
	size_t n = (size_t)(P->p - t);
	if (n == 0) {
		char tmp[16];
		return toml_fail(P, "expected a value, found %s",
				 toml_char_name(toml_peek(P, 0), tmp, sizeof(tmp)));
	}
	if (n == 4 && memcmp(t, "true", 4) == 0) {
		v->kind = TOML_BOOL;
		v->b = true;
		return 0;
	}
	if (n == 5 && memcmp(t, "false", 5) == 0) {
		v->kind = TOML_BOOL;
		return 0;
	}
	const char *s = t + (n && (*t == '+' || *t == '-'));
	size_t sl = n - (size_t)(s - t);
	if (sl == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0))
		return toml_float(P, t, n, v);
	if (sl == 0 || s[0] < '0' || s[0] > '9') {
		bool word = sl && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
		return toml_fail(P, "invalid value `%.*s`%s", (int)(n > 60 ? 60 : n), t,
				 word ? " (strings need quotes)" : "");
	}
	bool prefixed = sl > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b');
	if (!prefixed && (memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n)))
		return toml_float(P, t, n, v);
	return toml_integer(P, t, n, v);
}

/* Put a value at a dotted key in table t (key/value lines and inline tables). */
static struct toml_node *toml_assign(struct toml_parser *P, struct toml_node *t,
				     const struct toml_key *keys, size_t n)
{
	char name[256];
	for (size_t i = 0; i + 1 < n; i++) {
		struct toml_node *c = toml_get(t, keys[i].s, keys[i].n);
		if (!c) {
			if (t->depth + 1 > TOML_MAX_DEPTH) {
				toml_fail(P, "tables nested deeper than %d", TOML_MAX_DEPTH);
				return NULL;
			}
			c = toml_add(P->d, t, TOML_TABLE, keys[i].s, keys[i].n);
			if (!c) {
				toml_oom(P);
				return NULL;
			}
			c->flags = TOML_F_DOTTED;
		} else if (c->kind != TOML_TABLE || !(c->flags & TOML_F_DOTTED) ||
			   (c->flags & TOML_F_INLINE)) {
			toml_key_text(keys, i + 1, name, sizeof(name));
			toml_fail(P, "cannot add keys to `%s` here: it is already defined", name);
			return NULL;
		}
		t = c;
	}
	if (toml_get(t, keys[n - 1].s, keys[n - 1].n)) {
		toml_key_text(keys, n, name, sizeof(name));
		toml_fail(P, "duplicate key `%s`", name);
		return NULL;
	}
	if (t->depth + 1 > TOML_MAX_DEPTH) {
		toml_fail(P, "tables nested deeper than %d", TOML_MAX_DEPTH);
		return NULL;
	}
	struct toml_node *v = toml_add(P->d, t, TOML_BOOL, keys[n - 1].s, keys[n - 1].n);
	if (!v)
		toml_oom(P);
	return v;
}

static int toml_array(struct toml_parser *P, struct toml_node *a)
{
	a->kind = TOML_ARRAY;
	P->p++;
	for (;;) {
		if (toml_skip_blank(P) < 0)
			return -1;
		if (toml_peek(P, 0) == ']')
			break;
		if (a->depth + 1 > TOML_MAX_DEPTH)
			return toml_fail(P, "values nested deeper than %d", TOML_MAX_DEPTH);
		struct toml_node *v = toml_add(P->d, a, TOML_BOOL, NULL, 0);
		if (!v)
			return toml_oom(P);
		if (toml_value(P, v) < 0 || toml_skip_blank(P) < 0)
			return -1;
		int c = toml_peek(P, 0);
		if (c == ',') {
			P->p++;
			continue;
		}
		if (c != ']') {
			char tmp[16];
			return toml_fail(P, "expected `,` or `]` in an array, found %s",
					 toml_char_name(c, tmp, sizeof(tmp)));
		}
		break;
	}
	P->p++;
	a->flags |= TOML_F_INLINE;
	return 0;
}

static int toml_inline_table(struct toml_parser *P, struct toml_node *t)
{
	t->kind = TOML_TABLE;
	P->p++;
	toml_skip_ws(P);
	if (toml_peek(P, 0) == '}') {
		P->p++;
		t->flags |= TOML_F_INLINE;
		return 0;
	}
	for (;;) {
		struct toml_key keys[TOML_MAX_KEYS];
		size_t n;
		toml_skip_ws(P);
		if (toml_key(P, keys, &n) < 0)
			return -1;
		if (toml_peek(P, 0) != '=')
			return toml_fail(P, "expected `=` after a key in an inline table");
		P->p++;
		toml_skip_ws(P);
		struct toml_node *v = toml_assign(P, t, keys, n);
		if (!v || toml_value(P, v) < 0)
			return -1;
		toml_skip_ws(P);
		int c = toml_peek(P, 0);
		if (c == ',') {
			P->p++;
			toml_skip_ws(P);
			if (toml_peek(P, 0) == '}')
				return toml_fail(P, "trailing comma in an inline table");
			continue;
		}
		if (c != '}') {
			char tmp[16];
			return toml_fail(P, "expected `,` or `}` in an inline table, found %s",
					 toml_char_name(c, tmp, sizeof(tmp)));
		}
		P->p++;
		break;
	}
	/* Close the table and everything dotted keys made inside it. */
	t->flags |= TOML_F_INLINE;
	struct toml_node *stack[TOML_MAX_DEPTH + 1];
	int sp = 0;
	stack[sp++] = t;
	while (sp) {
		struct toml_node *x = stack[--sp];
		for (struct toml_node *c = x->first; c; c = c->next)
			if (c->kind == TOML_TABLE && (c->flags & TOML_F_DOTTED) && sp <= TOML_MAX_DEPTH) {
				c->flags |= TOML_F_INLINE;
				stack[sp++] = c;
			}
	}
	return 0;
}

/* A value into v (kind and payload); P->p at its first byte. */
static int toml_value(struct toml_parser *P, struct toml_node *v)
{
	int c = toml_peek(P, 0);
	if (c == '"' || c == '\'') {
		if (toml_string(P, true) < 0)
			return -1;
		v->kind = TOML_STRING;
		v->str = toml_memdup(P->d, P->scratch.data ? P->scratch.data : "", P->scratch.len);
		v->str_len = P->scratch.len;
		return v->str ? 0 : toml_oom(P);
	}
	if (c == '[')
		return toml_array(P, v);
	if (c == '{')
		return toml_inline_table(P, v);
	return toml_scalar(P, v);
}

/* [a.b] or [[a.b]] (P->p at the first '['). */
static int toml_header(struct toml_parser *P)
{
	bool aot = toml_peek(P, 1) == '[';
	struct toml_key keys[TOML_MAX_KEYS];
	size_t n;
	char name[256];
	P->p += aot ? 2 : 1;
	toml_skip_ws(P);
	if (toml_key(P, keys, &n) < 0)
		return -1;
	if (toml_peek(P, 0) != ']' || (aot && toml_peek(P, 1) != ']'))
		return toml_fail(P, "expected `%s` to close a table header", aot ? "]]" : "]");
	P->p += aot ? 2 : 1;
	toml_key_text(keys, n, name, sizeof(name));
	if (n >= TOML_MAX_DEPTH)
		return toml_fail(P, "tables nested deeper than %d", TOML_MAX_DEPTH);

	struct toml_node *t = P->d->root;
	for (size_t i = 0; i + 1 < n; i++) {
		struct toml_node *c = toml_get(t, keys[i].s, keys[i].n);
		if (!c) {
			if (t->depth + 1 > TOML_MAX_DEPTH)
				return toml_fail(P, "tables nested deeper than %d", TOML_MAX_DEPTH);
			c = toml_add(P->d, t, TOML_TABLE, keys[i].s, keys[i].n);
			if (!c)
				return toml_oom(P);
			c->flags = TOML_F_IMPLICIT;
		} else if (c->kind == TOML_ARRAY && (c->flags & TOML_F_AOT)) {
			c = c->last;
		} else if (c->kind != TOML_TABLE || (c->flags & TOML_F_INLINE)) {
			toml_key_text(keys, i + 1, name, sizeof(name));
			return toml_fail(P, "`%s` is not a table", name);
		}
		t = c;
	}
	const struct toml_key *k = &keys[n - 1];
	struct toml_node *c = toml_get(t, k->s, k->n);
	if (t->depth + 2 > TOML_MAX_DEPTH)
		return toml_fail(P, "tables nested deeper than %d", TOML_MAX_DEPTH);
	if (aot) {
		if (!c) {
			c = toml_add(P->d, t, TOML_ARRAY, k->s, k->n);
			if (!c)
				return toml_oom(P);
			c->flags = TOML_F_AOT;
		} else if (c->kind != TOML_ARRAY || !(c->flags & TOML_F_AOT)) {
			return toml_fail(P, "`%s` is already defined and is not an array of tables",
					 name);
		}
		t = toml_add(P->d, c, TOML_TABLE, NULL, 0);
		if (!t)
			return toml_oom(P);
	} else if (!c) {
		t = toml_add(P->d, t, TOML_TABLE, k->s, k->n);
		if (!t)
			return toml_oom(P);
	} else if (c->kind == TOML_TABLE && (c->flags & TOML_F_IMPLICIT)) {
		t = c;
	} else {
		return toml_fail(P, "table `%s` is already defined", name);
	}
	t->flags = TOML_F_DEFINED;
	P->cur = t;
	return toml_end_of_line(P, "a table header");
}

struct toml_doc *toml_parse(const char *text, size_t len, struct toml_error *err)
{
	struct toml_parser P = { .p = text, .end = text + len, .line = 1, .err = err };
	err->line = 0;
	err->msg[0] = '\0';
	P.d = calloc(1, sizeof(*P.d));
	if (!P.d) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	P.d->root = toml_alloc(P.d, sizeof(*P.d->root));
	if (!P.d->root) {
		toml_oom(&P);
		goto fail;
	}
	P.d->root->kind = TOML_TABLE;
	P.d->root->flags = TOML_F_DEFINED;
	P.cur = P.d->root;
	if (toml_check_utf8(&P) < 0)
		goto fail;
	/* A UTF-8 byte order mark is allowed at the start. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		P.p += 3;
	while (!toml_eof(&P)) {
		toml_skip_ws(&P);
		if (toml_skip_comment(&P) < 0)
			goto fail;
		if (toml_eof(&P))
			break;
		size_t nl = toml_at_newline(&P);
		if (nl) {
			P.p += nl;
			P.line++;
			continue;
		}
		if (*P.p == '[') {
			if (toml_header(&P) < 0)
				goto fail;
			continue;
		}
		struct toml_key keys[TOML_MAX_KEYS];
		size_t n;
		if (toml_key(&P, keys, &n) < 0)
			goto fail;
		if (toml_peek(&P, 0) != '=') {
			char tmp[16];
			toml_fail(&P, "expected `=` after a key, found %s",
				  toml_char_name(toml_peek(&P, 0), tmp, sizeof(tmp)));
			goto fail;
		}
		P.p++;
		toml_skip_ws(&P);
		struct toml_node *v = toml_assign(&P, P.cur, keys, n);
		if (!v || toml_value(&P, v) < 0 || toml_end_of_line(&P, "a value") < 0)
			goto fail;
	}
	buf_free(&P.scratch);
	return P.d;
fail:
	buf_free(&P.scratch);
	toml_free(P.d);
	return NULL;
}

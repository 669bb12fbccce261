/* jsonw: compact JSON written straight into a growable buffer (see jsonw.h). */
#include "jsonw.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"

void jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void jw_put(struct jw *w, const void *p, size_t n)
{
	if (!w->failed && buf_append(w->b, p, n) < 0)
		w->failed = true;
}

static void jw_putc(struct jw *w, char c)
{
	jw_put(w, &c, 1);
}

/* Called before every value and key: the comma that separates it. */
static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth - 1])
			jw_putc(w, ',');
		w->need_comma[w->depth - 1] = true;
	}
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	jw_putc(w, c);
	if (w->depth == JW_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->need_comma[w->depth++] = false;
}

static void jw_close(struct jw *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	jw_putc(w, c);
}

void jw_obj_open(struct jw *w) { jw_open(w, '{'); }
void jw_obj_close(struct jw *w) { jw_close(w, '}'); }
void jw_arr_open(struct jw *w) { jw_open(w, '['); }
void jw_arr_close(struct jw *w) { jw_close(w, ']'); }

/* The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
 * form, no surrogate, at most U+10FFFF) at s[0..n), s[0] >= 0x80; 0: none. */
static size_t jw_utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		   : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (!len || n < len)
		return 0;
	uint32_t cp = s[0] & (0x7f >> len);
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	return cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

/* A JSON string of s[0..n). JSON is UTF-8 (RFC 8259): a byte that starts no
 * well-formed sequence (text quoted from bad input, say) is written as
 * U+FFFD, so that whatever a string holds, the message stays valid. */
static void jw_escaped(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	if (w->failed || buf_reserve(w->b, n + 2) < 0) {
		w->failed = true;
		return;
	}
	jw_putc(w, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t len = jw_utf8_len((const unsigned char *)s + i, n - i);
			if (len) {
				i += len - 1;
				continue;
			}
			jw_put(w, s + run, i - run);
			jw_put(w, "\\ufffd", 6);
			run = i + 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': jw_put(w, "\\\"", 2); break;
		case '\\': jw_put(w, "\\\\", 2); break;
		case '\n': jw_put(w, "\\n", 2); break;
		case '\r': jw_put(w, "\\r", 2); break;
		case '\t': jw_put(w, "\\t", 2); break;
		case '\b': jw_put(w, "\\b", 2); break;
		case '\f': jw_put(w, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			jw_put(w, u, 6);
		}
		}
	}
	jw_put(w, s + run, n - run);
	jw_putc(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	jw_escaped(w, key, strlen(key));
	jw_putc(w, ':');
	w->after_key = true;
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	jw_escaped(w, s, n);
}

void jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, s, strlen(s));
}

void jw_i64(struct jw *w, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	jw_sep(w);
	jw_put(w, tmp, (size_t)n);
}

void jw_u64(struct jw *w, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	jw_sep(w);
	jw_put(w, tmp, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	if (v)
		jw_put(w, "true", 4);
	else
		jw_put(w, "false", 5);
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	jw_put(w, "null", 4);
}

void jw_b64(struct jw *w, const void *data, size_t n)
{
	size_t len = b64_encoded_len(n);
	jw_sep(w);
	if (w->failed || buf_reserve(w->b, len + 2) < 0) {
		w->failed = true;
		return;
	}
	char *p = buf_tail(w->b);
	p[0] = '"';
	b64_encode(p + 1, data, n);
	p[len + 1] = '"';
	w->b->len += len + 2;
}

static int jw_dump_cb(const char *buffer, size_t size, void *data)
{
	struct jw *w = data;
	jw_put(w, buffer, size);
	return w->failed ? -1 : 0;
}

void jw_json(struct jw *w, const json_t *v)
{
	jw_sep(w);
	if (json_dump_callback(v, jw_dump_cb, w, JSON_COMPACT | JSON_ENCODE_ANY) < 0)
		w->failed = true;
}

size_t jw_utf8_prefix(const char *s, size_t n)
{
	size_t i = n;
	/* Back over continuation bytes to the start of the last sequence. */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return n - (i - 1) >= need ? n : i - 1;
}

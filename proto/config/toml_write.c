/* toml_write: the serialiser environmentConfig/read answers with, in the
 * shape the reference's TOML writer gives: a table's values first, then
 * its sub-tables as [a.b] / [[a.b]] sections, a blank line before each;
 * strings in the form it would pick.
 * Must not: change the tree, or know JSON or the protocol.
 */
#include "toml_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* ---- serialiser ---- */

struct toml_ser {
	struct buf out;
	bool failed;
	bool first;			/* nothing written yet that a header must follow */
	const struct toml_node *path[TOML_MAX_DEPTH + 1];
};

static void toml_put(struct toml_ser *S, const char *s, size_t n)
{
	if (!S->failed && buf_append(&S->out, s, n) < 0)
		S->failed = true;
}

static void toml_puts(struct toml_ser *S, const char *s)
{
	toml_put(S, s, strlen(s));
}

enum toml_style { TOML_ONELINE, TOML_ONELINE_TRIPLE, TOML_NEWLINE_TRIPLE };

/* How the reference writer picks a string's form: literal when it holds a
 * backslash and a literal can carry it, multi-line when it holds a newline. */
static void toml_infer_style(const char *s, size_t n, enum toml_style *style, bool *literal)
{
	enum toml_style ty = TOML_ONELINE;
	int max_singles = 0, singles = 0;
	bool prefer_literal = false, can_literal = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (can_literal) {
			if (c == '\'') {
				if (++singles >= 3)
					can_literal = false;
			} else {
				if (singles > max_singles)
					max_singles = singles;
				singles = 0;
			}
		}
		if (c == '\\') {
			prefer_literal = true;
		} else if (c == '\n') {
			ty = TOML_NEWLINE_TRIPLE;
		} else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
			can_literal = false;
			break;
		}
	}
	if (singles > 0 && n && s[n - 1] == '\'')
		can_literal = false;
	if (!prefer_literal)
		can_literal = false;
	if (can_literal) {
		if (singles > max_singles)
			max_singles = singles;
		if (ty == TOML_ONELINE && max_singles >= 1)
			ty = TOML_ONELINE_TRIPLE;
	}
	*style = ty;
	*literal = can_literal;
}

static void toml_put_string(struct toml_ser *S, const char *s, size_t n, bool is_key)
{
	enum toml_style style;
	bool literal;
	toml_infer_style(s, n, &style, &literal);
	if (is_key) {
		/* Keys are single-line; a literal key cannot hold a quote. */
		style = TOML_ONELINE;
		if (memchr(s, '\'', n) || memchr(s, '\n', n))
			literal = false;
	}
	if (literal) {
		const char *q = style == TOML_ONELINE ? "'" : "'''";
		toml_puts(S, q);
		if (style == TOML_NEWLINE_TRIPLE)
			toml_puts(S, "\n");
		toml_put(S, s, n);
		toml_puts(S, q);
		return;
	}
	bool triple = style == TOML_NEWLINE_TRIPLE;
	toml_puts(S, triple ? "\"\"\"\n" : "\"");
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char tmp[8];
		switch (c) {
		case '\b': esc = "\\b"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = triple ? "\n" : "\\n"; break;
		case '\f': esc = "\\f"; break;
		case '\r': esc = "\\r"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\u%04X", c);
				esc = tmp;
			}
		}
		if (!esc)
			continue;
		toml_put(S, s + run, i - run);
		toml_puts(S, esc);
		run = i + 1;
	}
	toml_put(S, s + run, n - run);
	toml_puts(S, "\"");
	if (triple)
		toml_puts(S, "\"\"");
}

static void toml_put_key(struct toml_ser *S, const char *k, size_t n)
{
	bool bare = n > 0;
	for (size_t i = 0; i < n && bare; i++)
		bare = toml_is_bare((unsigned char)k[i]);
	if (bare)
		toml_put(S, k, n);
	else
		toml_put_string(S, k, n, true);
}

/* A float the way Rust prints an f64: shortest round-trip digits, no
 * exponent, ".0" on whole numbers. */
static void toml_put_float(struct toml_ser *S, double v)
{
	if (isnan(v)) {
		toml_puts(S, signbit(v) ? "-nan" : "nan");
		return;
	}
	if (isinf(v)) {
		toml_puts(S, v < 0 ? "-inf" : "inf");
		return;
	}
	if (v == 0) {
		toml_puts(S, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	char e[40];
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e: [-]d[.ddd]e[+-]x */
	char digits[24];
	size_t nd = 0;
	const char *q = e;
	if (*q == '-') {
		toml_puts(S, "-");
		q++;
	}
	for (; *q && *q != 'e'; q++)
		if (*q >= '0' && *q <= '9')
			digits[nd++] = *q;
	int exp10 = atoi(q + 1);
	if (exp10 >= 0) {
		size_t ilen = (size_t)exp10 + 1;
		for (size_t i = 0; i < ilen; i++)
			toml_put(S, i < nd ? &digits[i] : "0", 1);
		toml_puts(S, ".");
		if (ilen < nd)
			toml_put(S, digits + ilen, nd - ilen);
		else
			toml_puts(S, "0");
	} else {
		toml_puts(S, "0.");
		for (int i = 0; i < -exp10 - 1; i++)
			toml_puts(S, "0");
		toml_put(S, digits, nd);
	}
}

static void toml_put_value(struct toml_ser *S, const struct toml_node *v)
{
	char tmp[32];
	switch (v->kind) {
	case TOML_STRING:
		toml_put_string(S, v->str, v->str_len, false);
		break;
	case TOML_INTEGER:
		snprintf(tmp, sizeof(tmp), "%lld", (long long)v->i);
		toml_puts(S, tmp);
		break;
	case TOML_FLOAT:
		toml_put_float(S, v->f);
		break;
	case TOML_BOOL:
		toml_puts(S, v->b ? "true" : "false");
		break;
	case TOML_DATETIME:
		toml_put(S, v->str, v->str_len);
		break;
	case TOML_ARRAY:
		toml_puts(S, "[");
		for (const struct toml_node *c = v->first; c; c = c->next) {
			if (c != v->first)
				toml_puts(S, ", ");
			toml_put_value(S, c);
		}
		toml_puts(S, "]");
		break;
	case TOML_TABLE:
		if (!v->first) {
			toml_puts(S, "{}");
			break;
		}
		toml_puts(S, "{ ");
		for (const struct toml_node *c = v->first; c; c = c->next) {
			if (c != v->first)
				toml_puts(S, ", ");
			toml_put_key(S, c->key, c->key_len);
			toml_puts(S, " = ");
			toml_put_value(S, c);
		}
		toml_puts(S, " }");
		break;
	}
}

/* An array the writer turns into [[sections]]: non-empty, all tables. */
static bool toml_is_table_array(const struct toml_node *n)
{
	if (n->kind != TOML_ARRAY || !n->first)
		return false;
	for (const struct toml_node *c = n->first; c; c = c->next)
		if (c->kind != TOML_TABLE)
			return false;
	return true;
}

static bool toml_included(const struct toml_node *c, bool all)
{
	return all || (c->flags & (TOML_F_SEL_PATH | TOML_F_SEL_ALL));
}

static bool toml_is_section(const struct toml_node *c)
{
	return c->kind == TOML_TABLE || toml_is_table_array(c);
}

static void toml_put_header(struct toml_ser *S, int depth, bool aot)
{
	if (!S->first)
		toml_puts(S, "\n");
	S->first = false;
	toml_puts(S, aot ? "[[" : "[");
	for (int i = 1; i <= depth; i++) {
		if (i > 1)
			toml_puts(S, ".");
		toml_put_key(S, S->path[i]->key, S->path[i]->key_len);
	}
	toml_puts(S, aot ? "]]\n" : "]\n");
}

/* A table at path depth (S->path[1..depth] hold the keys). all: the whole
 * subtree, else only the selected parts. */
static void toml_put_table(struct toml_ser *S, const struct toml_node *t, int depth, bool aot,
			   bool all)
{
	all = all || (t->flags & TOML_F_SEL_ALL);
	size_t values = 0, children = 0;
	for (const struct toml_node *c = t->first; c; c = c->next) {
		if (!toml_included(c, all))
			continue;
		children++;
		if (!toml_is_section(c))
			values++;
	}
	if (depth == 0) {
		if (values)
			S->first = false;
	} else if (aot || values || !children) {
		toml_put_header(S, depth, aot);
	}
	for (const struct toml_node *c = t->first; c; c = c->next) {
		if (!toml_included(c, all) || toml_is_section(c))
			continue;
		toml_put_key(S, c->key, c->key_len);
		toml_puts(S, " = ");
		toml_put_value(S, c);
		toml_puts(S, "\n");
	}
	for (const struct toml_node *c = t->first; c; c = c->next) {
		if (!toml_included(c, all) || !toml_is_section(c))
			continue;
		S->path[depth + 1] = c;
		bool call = all || (c->flags & TOML_F_SEL_ALL);
		if (c->kind == TOML_TABLE) {
			toml_put_table(S, c, depth + 1, false, call);
		} else {
			for (const struct toml_node *e = c->first; e; e = e->next)
				toml_put_table(S, e, depth + 1, true, true);
		}
	}
}

char *toml_serialize(struct toml_doc *d, bool selected_only, size_t *len)
{
	struct toml_ser S = { .first = true };
	toml_put_table(&S, d->root, 0, false, !selected_only);
	toml_put(&S, "", 1);
	if (S.failed) {
		buf_free(&S.out);
		return NULL;
	}
	*len = S.out.len - 1;
	return S.out.data;
}

/* ssi_text: versioned lists of integers as text; see ssi_text.h. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ssi_text.h"

size_t ssi_text_ll(long long v, char out[SSI_TEXT_LL_MAX])
{
	char rev[SSI_TEXT_LL_MAX];
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	size_t n = 0, len;

	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		rev[n++] = '-';
	len = n;
	for (size_t i = 0; i < len; i++)
		out[i] = rev[--n];
	return len;
}

/* Append v in decimal at buf[at]; the new length, or cap when it does not fit. */
static size_t put_ll(char *buf, size_t cap, size_t at, long long v)
{
	char num[SSI_TEXT_LL_MAX];
	size_t n = ssi_text_ll(v, num);

	if (at + n >= cap)
		return cap;
	memcpy(buf + at, num, n);
	return at + n;
}

int ssi_text_ints_format(char *buf, size_t cap, int version, const long long *v, size_t n)
{
	size_t at = 0;

	if (cap < 2)
		return -ENOSPC;
	buf[at++] = 'v';
	at = put_ll(buf, cap, at, version);
	for (size_t i = 0; i < n && at < cap; i++) {
		if (at + 1 >= cap) {
			at = cap;
			break;
		}
		buf[at++] = ' ';
		at = put_ll(buf, cap, at, v[i]);
	}
	if (at >= cap) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	buf[at] = '\0';
	return (int)at;
}

/* A decimal integer at s[*at], optionally signed; advances *at past it. */
static int get_ll(const char *s, size_t len, size_t *at, long long *out)
{
	size_t i = *at;
	bool neg = false;
	unsigned long long u = 0, lim;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i >= len || s[i] < '0' || s[i] > '9')
		return -EBADMSG;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (u > (lim - d) / 10)
			return -EBADMSG;
		u = u * 10 + d;
	}
	*out = neg ? (long long)(0ull - u) : (long long)u;
	*at = i;
	return 0;
}

int ssi_text_ints_parse(const char *s, size_t len, int *version, long long *v, size_t n,
			size_t *used)
{
	size_t at = 1;
	long long ver;

	if (len < 2 || s[0] != 'v' || s[1] < '0' || s[1] > '9' || get_ll(s, len, &at, &ver) < 0 ||
	    ver > INT_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		size_t from = at;

		while (at < len && s[at] == ' ')
			at++;
		if (at == from || get_ll(s, len, &at, &v[i]) < 0)
			return -EBADMSG;
	}
	*version = (int)ver;
	*used = at;
	return 0;
}

bool ssi_text_ints_fit_int(const long long *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] < INT_MIN || v[i] > INT_MAX)
			return false;
	return true;
}

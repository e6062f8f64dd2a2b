/*
 * Shortest round-trip float formatting (fmtfloat.h). Dragonbox finds the
 * digits; this file lays them out like ryu's "pretty" printer (serde_json).
 */
#include "util/fmtfloat.h"

#include <stdint.h>
#include <string.h>

#include <dragonbox/dragonbox.h>

#include "util/banned.h"

namespace {

/*
 * Where ryu switches notation (src/pretty/mod.rs, format32/format64):
 * plain digits while the decimal point falls at most fixed_max digits to
 * the right of the first one, "0.000ddd" while the point exponent kk is
 * above small_min, scientific otherwise. The two widths differ in both.
 */
struct layout {
	int fixed_max;
	int small_min;
};

constexpr layout layout_f32 = { 13, -6 };
constexpr layout layout_f64 = { 16, -5 };

/* Copy a literal without its NUL; returns its length. */
size_t put_str(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

/* "00" "01" ... "99": two digits per table lookup. */
constexpr char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

constexpr uint64_t pow10[] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
	1000000000000ull, 10000000000000ull, 100000000000000ull,
	1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
	1000000000000000000ull, 10000000000000000000ull,
};

/* Decimal digits of v > 0: log10 from the bit length, corrected once. */
int digit_count(uint64_t v)
{
	int n = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;

	return n + (v >= pow10[n]);
}

/* Write the len decimal digits of v into out[0..len), two at a time. */
void put_digits(uint64_t v, int len, char *out)
{
	char *p = out + len;
	unsigned r;

	while (v >= 100) {
		r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, digits2 + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digits2 + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
}

void put_zeros(char *out, int n)
{
	if (n > 0)
		memset(out, '0', (size_t)n);
}

/* Exponent after 'e': '-' when negative, no '+', no leading zeros. */
size_t put_exponent(int e, char *out)
{
	size_t n = 0;

	if (e < 0) {
		out[n++] = '-';
		e = -e;
	}
	if (e >= 100)
		out[n++] = (char)('0' + e / 100);
	if (e >= 10)
		out[n++] = (char)('0' + e / 10 % 10);
	out[n++] = (char)('0' + e % 10);
	return n;
}

/* 1234e7 -> "12340000000.0" */
size_t put_integer(uint64_t d, int len, int kk, char *out)
{
	put_digits(d, len, out);
	put_zeros(out + len, kk - len);
	out[kk] = '.';
	out[kk + 1] = '0';
	return (size_t)kk + 2;
}

/* 1234e-2 -> "12.34" */
size_t put_point(uint64_t d, int len, int kk, char *out)
{
	put_digits(d, len, out + 1);
	memmove(out, out + 1, (size_t)kk);
	out[kk] = '.';
	return (size_t)len + 1;
}

/* 1234e-6 -> "0.001234" */
size_t put_small(uint64_t d, int len, int kk, char *out)
{
	out[0] = '0';
	out[1] = '.';
	put_zeros(out + 2, -kk);
	put_digits(d, len, out + 2 - kk);
	return (size_t)(2 - kk + len);
}

/* 1e30 -> "1e30", 1234e30 -> "1.234e33" */
size_t put_scientific(uint64_t d, int len, int kk, char *out)
{
	size_t n;

	put_digits(d, len, out + 1);
	out[0] = out[1];
	if (len == 1) {
		n = 1;
	} else {
		out[1] = '.';
		n = (size_t)len + 1;
	}
	out[n++] = 'e';
	return n + put_exponent(kk - 1, out + n);
}

/* Lay out d * 10^k (d > 0, no trailing zeros) per the notation rules. */
size_t put_decimal(uint64_t d, int k, const layout &lay, char *out)
{
	int len = digit_count(d);
	int kk = len + k; /* 10^(kk-1) <= value < 10^kk */

	if (k >= 0 && kk <= lay.fixed_max)
		return put_integer(d, len, kk, out);
	if (kk > 0 && kk <= lay.fixed_max)
		return put_point(d, len, kk, out);
	if (kk > lay.small_min && kk <= 0)
		return put_small(d, len, kk, out);
	return put_scientific(d, len, kk, out);
}

/* Sign, NaN, infinities and zero from the bits; dragonbox for the rest. */
template <class Float, class Bits>
size_t fmt_float(Float x, const layout &lay, char *out)
{
	constexpr int mbits = sizeof(Float) == 4 ? 23 : 52;
	constexpr Bits emask = sizeof(Float) == 4 ? 0xff : 0x7ff;
	Bits bits;
	size_t n = 0;

	memcpy(&bits, &x, sizeof(bits));
	if (((bits >> mbits) & emask) == emask) {
		if (bits & ((Bits(1) << mbits) - 1))
			return put_str(out, "NaN");
		return put_str(out, bits >> (sizeof(Bits) * 8 - 1) ? "-Infinity" : "Infinity");
	}
	if (bits >> (sizeof(Bits) * 8 - 1))
		out[n++] = '-';
	if (!(bits << 1))
		return n + put_str(out + n, "0.0");

	auto dec = jkj::dragonbox::to_decimal(x, jkj::dragonbox::policy::sign::ignore);
	return n + put_decimal(dec.significand, dec.exponent, lay, out + n);
}

} /* namespace */

extern "C" size_t cv_fmt_f32(float x, char *out)
{
	return fmt_float<float, uint32_t>(x, layout_f32, out);
}

extern "C" size_t cv_fmt_f64(double x, char *out)
{
	return fmt_float<double, uint64_t>(x, layout_f64, out);
}

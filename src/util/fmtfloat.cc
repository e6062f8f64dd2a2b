/*
 * Shortest round-trip float formatting (fmtfloat.h). Dragonbox finds the
 * digits; this file lays them out like ryu's "pretty" printer (serde_json).
 */
#include "util/fmtfloat.h"

#include <cmath>
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

/*
 * The fast path for float32, the bulk of every export. Embeddings are
 * mostly "0.0ddddddd" or "d.dddddd": those are laid out without a branch on
 * the digits, with 8- and 16-byte stores that reach up to 24 bytes from
 * the value's start, sign included (callers leave CV_FMT_F32_MAX bytes of
 * room per value).
 */

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "digits8 lays digits out little-endian");

void store8(char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* "0000" ... "9999" as little-endian words, built at compile time (40 KB). */
struct digits4_table {
	uint32_t v[10000];
};

constexpr digits4_table make_digits4()
{
	digits4_table t{};

	for (uint32_t i = 0; i < 10000; i++)
		t.v[i] = (uint32_t)('0' + i / 1000) | (uint32_t)('0' + i / 100 % 10) << 8 |
			 (uint32_t)('0' + i / 10 % 10) << 16 | (uint32_t)('0' + i % 10) << 24;
	return t;
}

constexpr digits4_table digits4 = make_digits4();

/*
 * The 8 decimal digits of v < 10^8, leading zeros included, as ASCII in a
 * little-endian word: the first digit is the lowest byte. Two lookups: a
 * shorter chain than dividing every lane by 100 and 10 with multiplies, and
 * 5% faster on a whole export.
 */
uint64_t digits8(uint32_t v)
{
	return digits4.v[v / 10000] | (uint64_t)digits4.v[v % 10000] << 32;
}

typedef unsigned __int128 u128;

void store16(char *p, u128 v)
{
	memcpy(p, &v, 16);
}

/*
 * d * 10^k for 0 < d < 10^9, positive, laid out per layout_f32. Dragonbox
 * leaves trailing zeros in d (trailing_zero::ignore): they are counted here
 * from the digits, cheaper than its division loop, and simply not copied.
 */
size_t put_decimal_f32(uint32_t d, int k, char *out)
{
	uint32_t top = d / 100000000;
	uint64_t low = digits8(d - top * 100000000);
	uint64_t vals = low - 0x3030303030303030ull;
	int zeros = vals ? __builtin_clzll(vals) / 8 : 8;
	int all = digit_count(d), len = all - zeros, kk = all + k;
	u128 w = ((u128)low << 8 | (uint8_t)('0' + top)) >> (8 * (9 - all));

	if (kk <= 0 && kk > layout_f32.small_min) { /* 0.000ddd */
		store8(out, 0x3030303030302e30ull); /* "0.000000" */
		store16(out + 2 - kk, w);
		return (size_t)(2 - kk + len);
	}
	if (kk > 0 && kk < len) { /* dd.ddd */
		store8(out, (uint64_t)w);
		out[kk] = '.';
		store8(out + kk + 1, (uint64_t)(w >> (8 * kk)));
		return (size_t)len + 1;
	}
	return put_decimal(d / pow10[zeros], k + zeros, layout_f32, out);
}

size_t fmt_f32_fast(float x, char *out)
{
	uint32_t bits;
	size_t neg;

	memcpy(&bits, &x, sizeof(bits));
	if ((bits & 0x7f800000u) == 0x7f800000u || !(bits << 1))
		return fmt_float<float, uint32_t>(x, layout_f32, out);
	neg = bits >> 31;
	out[0] = '-';
	auto dec = jkj::dragonbox::to_decimal(x, jkj::dragonbox::policy::sign::ignore,
					      jkj::dragonbox::policy::trailing_zero::ignore);
	return neg + put_decimal_f32(dec.significand, dec.exponent, out + neg);
}

} /* namespace */

extern "C" size_t cv_fmt_f32(float x, char *out)
{
	return fmt_f32_fast(x, out);
}

extern "C" size_t cv_fmt_f32_generic(float x, char *out)
{
	return fmt_float<float, uint32_t>(x, layout_f32, out);
}

/*
 * Blocks of values in two passes: first every Dragonbox result, then the
 * layout. The values of a block are independent, so the CPU overlaps their
 * multiply chains instead of waiting on one value at a time (8% faster).
 */
extern "C" size_t cv_fmt_f32_array(const float *v, size_t n, char *out)
{
	constexpr size_t BLOCK = 16;
	uint32_t sig[BLOCK];
	int e10[BLOCK];
	char *t = out;

	*t++ = '[';
	for (size_t i = 0; i < n; i += BLOCK) {
		size_t m = n - i < BLOCK ? n - i : BLOCK;

		for (size_t j = 0; j < m; j++) {
			uint32_t bits;

			memcpy(&bits, &v[i + j], sizeof(bits));
			sig[j] = 0; /* zero, infinite or NaN: the layout code's */
			if ((bits & 0x7f800000u) == 0x7f800000u || !(bits << 1))
				continue;
			auto dec = jkj::dragonbox::to_decimal(
				v[i + j], jkj::dragonbox::policy::sign::ignore,
				jkj::dragonbox::policy::trailing_zero::ignore);
			sig[j] = dec.significand;
			e10[j] = dec.exponent;
		}
		for (size_t j = 0; j < m; j++) {
			*t = ',';
			t += i + j != 0;
			if (!sig[j]) {
				t += fmt_float<float, uint32_t>(v[i + j], layout_f32, t);
				continue;
			}
			*t = '-';
			t += std::signbit(v[i + j]);
			t += put_decimal_f32(sig[j], e10[j], t);
		}
	}
	*t++ = ']';
	return (size_t)(t - out);
}

extern "C" size_t cv_fmt_f64(double x, char *out)
{
	return fmt_float<double, uint64_t>(x, layout_f64, out);
}

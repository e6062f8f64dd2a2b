/*
 * Unit tests for util/jsonw.c: string escaping from arbitrary bytes, exact
 * integers, shortest floats, canonical JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "util/jsonw.h"

static void str_is(const char *in, size_t n, const char *want, size_t bad)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(jw_str(&sb, in, n), bad);
	assert_string_equal(sb.buf, want);
	sb_release(&sb);
}

static void test_escapes(void **state)
{
	(void)state;
	str_is("plain", 5, "\"plain\"", 0);
	str_is("a\"b\\c", 5, "\"a\\\"b\\\\c\"", 0);
	str_is("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"", 0);
	str_is("\x01\x1f", 2, "\"\\u0001\\u001f\"", 0);
	str_is("nul\0x", 5, "\"nul\\u0000x\"", 0);
	str_is("\x7f", 1, "\"\x7f\"", 0);
}

static void test_utf8(void **state)
{
	(void)state;
	str_is("\xe4\xbd\xa0\xe5\xa5\xbd", 6, "\"\xe4\xbd\xa0\xe5\xa5\xbd\"", 0);
	str_is("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"", 0);
	/* invalid: lone continuation, overlong, surrogate, truncated */
	str_is("a\x80" "b", 3, "\"a\xef\xbf\xbd" "b\"", 1);
	str_is("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2);
	str_is("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 3);
	str_is("\xe4\xbd", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2);
}

static void test_ints(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	jw_int(&sb, 0);
	sb_addch(&sb, ' ');
	jw_int(&sb, INT64_MIN);
	sb_addch(&sb, ' ');
	jw_int(&sb, INT64_MAX);
	sb_addch(&sb, ' ');
	jw_int(&sb, 9007199254740993LL);
	assert_string_equal(sb.buf, "0 -9223372036854775808 9223372036854775807 "
			    "9007199254740993");
	sb_release(&sb);
}

static void test_floats(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const float v[] = { 0.1f, 1.0f, -2.5f };

	(void)state;
	jw_f32_array(&sb, v, 3);
	assert_string_equal(sb.buf, "[0.1,1.0,-2.5]");
	sb_reset(&sb);
	jw_f32_array(&sb, v, 0);
	assert_string_equal(sb.buf, "[]");
	sb_reset(&sb);
	jw_f64(&sb, 2.0);
	assert_string_equal(sb.buf, "2.0");
	sb_release(&sb);
}

static void test_canonical(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *j = json_loads("{ \"b\": [1, 2.0, true, null], \"a\": {\"y\": \"s\", \"x\": 1.2} }",
			       0, NULL);

	(void)state;
	jw_json(&sb, j);
	assert_string_equal(sb.buf, "{\"a\":{\"x\":1.2,\"y\":\"s\"},\"b\":[1,2.0,true,null]}");
	json_decref(j);
	sb_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Shortest round-trip decimal formatting of float32 and float64 for JSON,
 * in the style Chroma's API prints them (serde_json, ryu "pretty" form).
 */
#ifndef CV_FMTFLOAT_H
#define CV_FMTFLOAT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CV_FMT_F32_MAX 24
#define CV_FMT_F64_MAX 32

/*
 * Write the shortest decimal that reads back (strtof) to exactly x.
 * Finite values always contain '.', 'e' or both, so they stay floats:
 * 1.0f -> "1.0", 0.1f -> "0.1", 1e-7f -> "1e-7", 1.5e20f -> "1.5e20".
 * NaN and infinities -> "NaN", "Infinity", "-Infinity" (what Python's json
 * module writes; not strict JSON). Returns the length; no NUL is written.
 * out must have room for CV_FMT_F32_MAX bytes: the value is written with
 * 8-byte stores that may reach past its end.
 */
size_t cv_fmt_f32(float x, char *out);

/*
 * "[x0,x1,...]" for n floats, each as cv_fmt_f32 writes it. out must have
 * room for 2 + n * (CV_FMT_F32_MAX + 1) bytes; returns the length.
 */
size_t cv_fmt_f32_array(const float *v, size_t n, char *out);

/*
 * The same output as cv_fmt_f32 by the straightforward layout code only;
 * `make verify-floats` checks the two agree on every float.
 */
size_t cv_fmt_f32_generic(float x, char *out);

/* The same for a double (strtod round trip). */
size_t cv_fmt_f64(double x, char *out);

#ifdef __cplusplus
}
#endif

#endif

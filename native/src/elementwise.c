/* Fused elementwise kernels of the decoder (softmax rows of attention, SwiGLU, RMSNorm), on
 * contiguous rows, single-threaded over a range of rows (ops.c splits rows between threads).
 *
 * exp: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite, ln2 in two parts), e^r = 1 + r + r²·p(r)
 * with p the Taylor polynomial to r⁶/8! (truncation < 1e-9), evaluated so that the only large
 * rounding is the last addition 1 + (r + r²p): relative error ≤ 1e-7 after rounding to float32.
 * 2^n is applied as two factors 2^⌊n/2⌋·2^⌈n/2⌉, so that results down in the subnormals round
 * once, and above FLT_MAX overflow to inf. */
#include "elementwise.h"

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"

#define EXP_LO -104.0f /* exp(-104) < FLT_TRUE_MIN / 2: rounds to 0 */
#define EXP_HI 89.0f   /* exp(89) > FLT_MAX: inf */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f /* few significant bits: n·LN2_HI is exact */
#define LN2_LO -2.12194440e-4f
#define P6 (1.0f / 40320.0f)
#define P5 (1.0f / 5040.0f)
#define P4 (1.0f / 720.0f)
#define P3 (1.0f / 120.0f)
#define P2 (1.0f / 24.0f)
#define P1 (1.0f / 6.0f)
#define P0 0.5f

static inline float pow2i(int n) {
  const uint32_t bits = (uint32_t)(n + 127) << 23;
  float value;
  memcpy(&value, &bits, 4);
  return value;
}

/* e^(x + tail), where tail is a small correction (the rounding error of x as a difference). */
static inline float exp_tail_f32(float x, float tail) {
  if (x != x) return x;
  if (x < EXP_LO) x = EXP_LO;
  if (x > EXP_HI) x = EXP_HI;
  const float n = nearbyintf(x * LOG2E);
  float r = fmaf(-n, LN2_HI, x);
  r = fmaf(-n, LN2_LO, r) + tail;
  float p = P6;
  p = fmaf(p, r, P5); p = fmaf(p, r, P4); p = fmaf(p, r, P3);
  p = fmaf(p, r, P2); p = fmaf(p, r, P1); p = fmaf(p, r, P0);
  const float e = 1.0f + fmaf(r * r, p, r);
  const int ni = (int)n, n1 = ni >> 1, n2 = ni - n1;
  return e * pow2i(n1) * pow2i(n2);
}

float exp_f32(float x) { return exp_tail_f32(x, 0.0f); }

/* x − y rounded, and its rounding error (Knuth's TwoSum): softmax arguments x − max lose up to
 * |x − max|·2⁻²⁴ in the subtraction, which exp would turn into a relative error of the result. */
static inline float difference_error(float x, float y, float d) {
  const float b = -y, bb = d - x;
  const float error = (x - (d - bb)) + (b - bb);
  /* −inf − max gives NaN, and |error| ≥ 1 only where |d| is so large that e^d is 0 anyway */
  return error > -1.0f && error < 1.0f ? error : 0.0f;
}

/* Logistic sigmoid and 1 − sigmoid without overflow or cancellation: e = e^−|g|,
 * s = 1/(1 + e) for g ≥ 0 and e/(1 + e) below. */
static inline void sigmoid_pair(float g, float *s, float *one_minus_s) {
  const float e = exp_f32(-fabsf(g)), inv = 1.0f / (1.0f + e);
  *s = (g >= 0 ? 1.0f : e) * inv;
  *one_minus_s = (g >= 0 ? e : 1.0f) * inv;
}

/* ---- plain C ---------------------------------------------------------------------------- */

static void exp_generic(const float *src, float *dst, size_t count) {
  for (size_t i = 0; i < count; i++) dst[i] = exp_f32(src[i]);
}

/* GELU, exact form 0.5·x·(1 + erf(x/√2)); erf from erfc(z) = t·e^(−z² + P(t)), t = 1/(1 + z/2)
 * (Numerical Recipes §6.2, |error| < 1.2e-7), the same formula as activations.ts. */
#define GELU_SQRT_HALF 0.70710678118654752f
#define GELU_INV_SQRT_2PI 0.39894228040143268f
static const float ERFC_P[10] = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
                                 0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};

/* Φ(x) = 0.5·(1 + erf(x/√2)), from erfc directly on both sides (no cancellation for x < 0). */
static float gelu_cdf_scalar(float x) {
  const float z = fabsf(x) * GELU_SQRT_HALF, t = 1.0f / (1.0f + 0.5f * z);
  float p = ERFC_P[9];
  for (int k = 8; k >= 0; k--) p = p * t + ERFC_P[k];
  const float half_erfc = 0.5f * t * exp_f32(-z * z + p);
  return x >= 0 ? 1.0f - half_erfc : half_erfc;
}

static void gelu_forward_generic(float *out, const float *x, size_t count) {
  for (size_t i = 0; i < count; i++) out[i] = x[i] * gelu_cdf_scalar(x[i]);
}

static void gelu_backward_generic(float *dx, const float *dout, const float *x, size_t count) {
  for (size_t i = 0; i < count; i++) {
    const float v = x[i];
    dx[i] += dout[i] * (gelu_cdf_scalar(v) + v * GELU_INV_SQRT_2PI * exp_f32(-0.5f * v * v));
  }
}

static void softmax_row_generic(float *x, size_t width, size_t from, size_t valid) {
  float max = -INFINITY;
  for (size_t j = from; j < valid; j++) if (x[j] > max) max = x[j];
  double sum = 0;
  for (size_t j = from; j < valid; j++) {
    const float d = x[j] - max;
    sum += (x[j] = exp_tail_f32(d, difference_error(x[j], max, d)));
  }
  const float inv = (float)(1.0 / sum);
  for (size_t j = from; j < valid; j++) x[j] *= inv;
  memset(x, 0, from * sizeof(float));
  memset(x + valid, 0, (width - valid) * sizeof(float));
}

static void softmax_row_backward_generic(float *ds, const float *p, size_t width, size_t from, size_t valid,
                                         float scale) {
  double dot = 0;
  for (size_t j = from; j < valid; j++) dot += (double)(ds[j] * p[j]);
  const float d = (float)dot;
  for (size_t j = from; j < valid; j++) ds[j] = p[j] * (ds[j] - d) * scale;
  memset(ds, 0, from * sizeof(float));
  memset(ds + valid, 0, (width - valid) * sizeof(float));
}

static void swiglu_forward_generic(float *out, const float *gate, const float *up, size_t count) {
  for (size_t i = 0; i < count; i++) {
    float s, sc;
    sigmoid_pair(gate[i], &s, &sc);
    out[i] = gate[i] * s * up[i];
  }
}

static void swiglu_backward_generic(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                    size_t count) {
  for (size_t i = 0; i < count; i++) {
    const float g = gate[i], d = dout[i];
    float s, sc;
    sigmoid_pair(g, &s, &sc);
    dgate[i] = d * up[i] * s * (1.0f + g * sc);
    dup[i] = d * g * s;
  }
}

static double sum_squares_generic(const float *x, size_t count) {
  double sum = 0;
  for (size_t i = 0; i < count; i++) sum += (double)x[i] * x[i];
  return sum;
}

static void scale_by_weight_generic(float *out, const float *x, const float *w, float r, size_t count) {
  for (size_t c = 0; c < count; c++) out[c] = w[c] * (x[c] * r);
}

/* Σ dout·w·x (before the factor r), and dx += r·(dout·w − x·r·meanDot), dw += dout·x·r. */
static double rms_dot_generic(const float *dout, const float *w, const float *x, size_t count) {
  double dot = 0;
  for (size_t c = 0; c < count; c++) dot += (double)(dout[c] * w[c] * x[c]);
  return dot;
}

static void rms_apply_generic(float *dx, float *dw, const float *dout, const float *w, const float *x, float r,
                              float mean_dot, size_t count) {
  for (size_t c = 0; c < count; c++) {
    const float xhat = x[c] * r;
    dx[c] += r * (dout[c] * w[c] - xhat * mean_dot);
    if (dw) dw[c] += dout[c] * xhat;
  }
}

#ifdef HAVE_X86_SIMD

/* ---- AVX2 + FMA (Zen 4 runs AVX-512 as two 256-bit halves: no gain for these) --------------- */

/* e^(x + tail) (tail: see exp_tail_f32); has_tail is a constant at every call site. */
INLINE TARGET_AVX2 __m256 exp8_tail(__m256 x, __m256 tail, const int has_tail) {
  /* max/min return their second operand when one is NaN: x last keeps NaN */
  x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), _mm256_max_ps(_mm256_set1_ps(EXP_LO), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
  if (has_tail) r = _mm256_add_ps(r, tail);
  __m256 p = _mm256_set1_ps(P6);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P0));
  const __m256 e = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(r, r), p, r));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(e, f1), f2);
}

INLINE TARGET_AVX2 __m256 exp8(__m256 x) { return exp8_tail(x, x, 0); }

/* e^(v − max) with the rounding error of the subtraction folded in (see difference_error). */
INLINE TARGET_AVX2 __m256 exp8_difference(__m256 v, __m256 max) {
  const __m256 d = _mm256_sub_ps(v, max);
  const __m256 b = _mm256_sub_ps(_mm256_setzero_ps(), max), bb = _mm256_sub_ps(d, v);
  __m256 error = _mm256_add_ps(_mm256_sub_ps(v, _mm256_sub_ps(d, bb)), _mm256_sub_ps(b, bb));
  /* −inf − max gives a NaN error, and |error| ≥ 1 only where |d| is so large that e^d is 0 anyway */
  error = _mm256_and_ps(error, _mm256_cmp_ps(error, error, _CMP_ORD_Q));
  error = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_set1_ps(-1.0f), error));
  return exp8_tail(d, error, 1);
}

/* s = sigmoid(g), sc = 1 − s (see sigmoid_pair). */
INLINE TARGET_AVX2 void sigmoid8(__m256 g, __m256 *s, __m256 *sc) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  const __m256 e = exp8(_mm256_or_ps(g, sign)); /* e^−|g| */
  const __m256 inv = _mm256_div_ps(one, _mm256_add_ps(one, e));
  const __m256 negative = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
  *s = _mm256_mul_ps(_mm256_blendv_ps(one, e, negative), inv);
  *sc = _mm256_mul_ps(_mm256_blendv_ps(e, one, negative), inv);
}

/* Lanes [0, count) of a load, count < 8 (the rest 0). */
INLINE TARGET_AVX2 __m256i tail_mask(size_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), lanes);
}

INLINE TARGET_AVX2 float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

INLINE TARGET_AVX2 double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

/* Σ of the 8 lanes of v, in double. */
INLINE TARGET_AVX2 __m256d add8_to_double(__m256d acc, __m256 v) {
  acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

static TARGET_AVX2 void exp_avx2(const float *src, float *dst, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, exp8(_mm256_loadu_ps(src + i)));
  if (i < count) {
    const __m256i mask = tail_mask(count - i);
    _mm256_maskstore_ps(dst + i, mask, exp8(_mm256_maskload_ps(src + i, mask)));
  }
}

static TARGET_AVX2 void softmax_row_avx2(float *x, size_t width, size_t from, size_t valid) {
  const size_t count = valid > from ? valid - from : 0;
  float *v = x + from;
  size_t j = 0;
  __m256 mv = _mm256_set1_ps(-INFINITY);
  /* max(data, mv): a NaN element is skipped, as `if (x > max)` does */
  for (; j + 8 <= count; j += 8) mv = _mm256_max_ps(_mm256_loadu_ps(v + j), mv);
  float max = hmax8(mv);
  for (size_t t = j; t < count; t++) if (v[t] > max) max = v[t];
  const __m256 maxv = _mm256_set1_ps(max);
  /* the sum in double: rows as long as a vocabulary (cross-entropy) keep full float precision */
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  j = 0;
  for (; j + 16 <= count; j += 16) {
    const __m256 e0 = exp8_difference(_mm256_loadu_ps(v + j), maxv);
    const __m256 e1 = exp8_difference(_mm256_loadu_ps(v + j + 8), maxv);
    _mm256_storeu_ps(v + j, e0);
    _mm256_storeu_ps(v + j + 8, e1);
    s0 = add8_to_double(s0, e0);
    s1 = add8_to_double(s1, e1);
  }
  for (; j < count; j += 8) {
    const __m256i mask = tail_mask(count - j < 8 ? count - j : 8);
    const __m256 e = _mm256_and_ps(exp8_difference(_mm256_maskload_ps(v + j, mask), maxv), _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(v + j, mask, e);
    s0 = add8_to_double(s0, e);
  }
  const double sum = hsum4d(_mm256_add_pd(s0, s1));
  const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
  j = 0;
  for (; j + 8 <= count; j += 8) _mm256_storeu_ps(v + j, _mm256_mul_ps(_mm256_loadu_ps(v + j), inv));
  if (j < count) {
    const __m256i mask = tail_mask(count - j);
    _mm256_maskstore_ps(v + j, mask, _mm256_mul_ps(_mm256_maskload_ps(v + j, mask), inv));
  }
  memset(x, 0, from * sizeof(float));
  if (valid > from) memset(x + valid, 0, (width - valid) * sizeof(float));
  else memset(x + from, 0, (width - from) * sizeof(float));
}

static TARGET_AVX2 void softmax_row_backward_avx2(float *ds, const float *p, size_t width, size_t from, size_t valid,
                                                  float scale) {
  const size_t count = valid > from ? valid - from : 0;
  float *d = ds + from;
  const float *q = p + from;
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t j = 0;
  for (; j + 16 <= count; j += 16) {
    a0 = add8_to_double(a0, _mm256_mul_ps(_mm256_loadu_ps(d + j), _mm256_loadu_ps(q + j)));
    a1 = add8_to_double(a1, _mm256_mul_ps(_mm256_loadu_ps(d + j + 8), _mm256_loadu_ps(q + j + 8)));
  }
  double dot = hsum4d(_mm256_add_pd(a0, a1));
  for (; j < count; j++) dot += (double)(d[j] * q[j]);
  const __m256 dotv = _mm256_set1_ps((float)dot), scalev = _mm256_set1_ps(scale);
  j = 0;
  for (; j + 8 <= count; j += 8) {
    const __m256 g = _mm256_sub_ps(_mm256_loadu_ps(d + j), dotv);
    _mm256_storeu_ps(d + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(q + j), g), scalev));
  }
  for (; j < count; j++) d[j] = q[j] * (d[j] - (float)dot) * scale;
  memset(ds, 0, from * sizeof(float));
  if (valid > from) memset(ds + valid, 0, (width - valid) * sizeof(float));
  else memset(ds + from, 0, (width - from) * sizeof(float));
}

static TARGET_AVX2 void swiglu_forward_avx2(float *out, const float *gate, const float *up, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    __m256 s, sc;
    sigmoid8(g, &s, &sc);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, s), _mm256_loadu_ps(up + i)));
  }
  swiglu_forward_generic(out + i, gate + i, up + i, count - i);
}

static TARGET_AVX2 void swiglu_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
                                             const float *up, size_t count) {
  const __m256 one = _mm256_set1_ps(1.0f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i), d = _mm256_loadu_ps(dout + i);
    __m256 s, sc;
    sigmoid8(g, &s, &sc);
    const __m256 ds = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(up + i)), s);
    _mm256_storeu_ps(dgate + i, _mm256_mul_ps(ds, _mm256_fmadd_ps(g, sc, one)));
    _mm256_storeu_ps(dup + i, _mm256_mul_ps(_mm256_mul_ps(d, g), s));
  }
  swiglu_backward_generic(dgate + i, dup + i, dout + i, gate + i, up + i, count - i);
}

static TARGET_AVX2 double sum_squares_avx2(const float *x, size_t count) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    a0 = _mm256_fmadd_pd(lo, lo, a0);
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  return hsum4d(_mm256_add_pd(a0, a1)) + sum_squares_generic(x + i, count - i);
}

static TARGET_AVX2 void scale_by_weight_avx2(float *out, const float *x, const float *w, float r, size_t count) {
  const __m256 rv = _mm256_set1_ps(r);
  size_t c = 0;
  for (; c + 8 <= count; c += 8)
    _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_loadu_ps(w + c), _mm256_mul_ps(_mm256_loadu_ps(x + c), rv)));
  scale_by_weight_generic(out + c, x + c, w + c, r, count - c);
}

static TARGET_AVX2 double rms_dot_avx2(const float *dout, const float *w, const float *x, size_t count) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t c = 0;
  for (; c + 16 <= count; c += 16) {
    a0 = add8_to_double(a0, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dout + c), _mm256_loadu_ps(w + c)), _mm256_loadu_ps(x + c)));
    a1 = add8_to_double(a1, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dout + c + 8), _mm256_loadu_ps(w + c + 8)), _mm256_loadu_ps(x + c + 8)));
  }
  return hsum4d(_mm256_add_pd(a0, a1)) + rms_dot_generic(dout + c, w + c, x + c, count - c);
}

static TARGET_AVX2 void rms_apply_avx2(float *dx, float *dw, const float *dout, const float *w, const float *x, float r,
                                       float mean_dot, size_t count) {
  const __m256 rv = _mm256_set1_ps(r), mv = _mm256_set1_ps(mean_dot);
  size_t c = 0;
  for (; c + 8 <= count; c += 8) {
    const __m256 xhat = _mm256_mul_ps(_mm256_loadu_ps(x + c), rv);
    const __m256 d = _mm256_loadu_ps(dout + c);
    const __m256 g = _mm256_sub_ps(_mm256_mul_ps(d, _mm256_loadu_ps(w + c)), _mm256_mul_ps(xhat, mv));
    _mm256_storeu_ps(dx + c, _mm256_fmadd_ps(rv, g, _mm256_loadu_ps(dx + c)));
    if (dw) _mm256_storeu_ps(dw + c, _mm256_fmadd_ps(d, xhat, _mm256_loadu_ps(dw + c)));
  }
  rms_apply_generic(dx + c, dw ? dw + c : NULL, dout + c, w + c, x + c, r, mean_dot, count - c);
}
/* Φ(x) for 8 lanes (see gelu_cdf_scalar). */
INLINE TARGET_AVX2 __m256 gelu_cdf8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(GELU_SQRT_HALF));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
  __m256 p = _mm256_set1_ps(ERFC_P[9]);
  for (int k = 8; k >= 0; k--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERFC_P[k]));
  const __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(half, t), exp8(_mm256_fnmadd_ps(z, z, p)));
  const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(_mm256_sub_ps(one, half_erfc), half_erfc, negative);
}

static TARGET_AVX2 void gelu_forward_avx2(float *out, const float *x, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, gelu_cdf8(v)));
  }
  gelu_forward_generic(out + i, x + i, count - i);
}

static TARGET_AVX2 void gelu_backward_avx2(float *dx, const float *dout, const float *x, size_t count) {
  const __m256 c = _mm256_set1_ps(GELU_INV_SQRT_2PI), minus_half = _mm256_set1_ps(-0.5f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 pdf = _mm256_mul_ps(c, exp8(_mm256_mul_ps(minus_half, _mm256_mul_ps(v, v))));
    const __m256 d = _mm256_fmadd_ps(v, pdf, gelu_cdf8(v));
    _mm256_storeu_ps(dx + i, _mm256_fmadd_ps(_mm256_loadu_ps(dout + i), d, _mm256_loadu_ps(dx + i)));
  }
  gelu_backward_generic(dx + i, dout + i, x + i, count - i);
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------ */

#ifdef HAVE_X86_SIMD
#define PICK(name, ...) \
  do { if (kernels_isa_level() >= 1) name##_avx2(__VA_ARGS__); else name##_generic(__VA_ARGS__); } while (0)
#define PICK_VALUE(name, ...) (kernels_isa_level() >= 1 ? name##_avx2(__VA_ARGS__) : name##_generic(__VA_ARGS__))
#else
#define PICK(name, ...) name##_generic(__VA_ARGS__)
#define PICK_VALUE(name, ...) name##_generic(__VA_ARGS__)
#endif

void exp_array(const float *src, float *dst, size_t count) { PICK(exp, src, dst, count); }

void gelu_forward_array(float *out, const float *x, size_t count) { PICK(gelu_forward, out, x, count); }

void gelu_backward_array(float *dx, const float *dout, const float *x, size_t count) {
  PICK(gelu_backward, dx, dout, x, count);
}

void softmax_rows(float *x, size_t width, const int32_t *from, const int32_t *valid, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) PICK(softmax_row, x + r * width, width, (size_t)from[r], (size_t)valid[r]);
}

void softmax_rows_backward(float *ds, const float *p, size_t width, const int32_t *from, const int32_t *valid,
                           float scale, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++)
    PICK(softmax_row_backward, ds + r * width, p + r * width, width, (size_t)from[r], (size_t)valid[r], scale);
}

void swiglu_forward_rows(float *out, const float *gate_up, size_t F, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; t++) {
    const float *row = gate_up + t * 2 * F;
    PICK(swiglu_forward, out + t * F, row, row + F, F);
  }
}

void swiglu_backward_rows(float *dgate_up, const float *dout, const float *gate_up, size_t F, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; t++) {
    const float *row = gate_up + t * 2 * F;
    float *drow = dgate_up + t * 2 * F;
    PICK(swiglu_backward, drow, drow + F, dout + t * F, row, row + F, F);
  }
}

void rms_norm_forward_rows(float *out, float *rstd, const float *x, const float *w, size_t C, double eps, size_t t0,
                           size_t t1) {
  for (size_t t = t0; t < t1; t++) {
    const float *row = x + t * C;
    const double sum = PICK_VALUE(sum_squares, row, C);
    /* HF computes the statistic in float32: round where it does */
    const float mean = (float)(sum / (double)C);
    const float r = (float)(1.0 / sqrt((double)(float)((double)mean + eps)));
    if (rstd) rstd[t] = r;
    PICK(scale_by_weight, out + t * C, row, w, r, C);
  }
}

void rms_norm_backward_rows(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                            size_t C, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; t++) {
    const float r = rstd[t];
    const double dot = PICK_VALUE(rms_dot, dout + t * C, w, x + t * C, C) * (double)r;
    PICK(rms_apply, dx + t * C, dw, dout + t * C, w, x + t * C, r, (float)(dot / (double)C), C);
  }
}

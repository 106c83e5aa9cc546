#include "kernels.h"
#include "simd.h"

#include <string.h>

float f16_bits_to_f32(uint16_t bits) {
  const uint32_t sign = (uint32_t)(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0) {
    /* zero or subnormal: mantissa · 2^-24, exact in float32 */
    float magnitude = (float)mantissa * 5.9604644775390625e-8f;
    memcpy(&out, &magnitude, 4);
    out |= sign;
  } else if (exponent == 31) {
    out = sign | 0x7f800000u | (mantissa << 13);
  } else {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float value;
  memcpy(&value, &out, 4);
  return value;
}

/* gemv reads W either one row at a time (one sequential stream through memory, which the
 * hardware prefetchers follow best: 151936×896 bf16 streamed at ~25 GB/s this way against ~10
 * with four interleaved rows on Zen 4) or four rows per pass (x is read once per four rows,
 * better when x does not fit in L1: 4096×11008 bf16 ran at 19 GB/s against 12).
 * 0 = by the length of x, 1 or 4 = forced (benchmarks). */
static int gemv_rows_per_pass = 0;
static size_t gemv_single_row_max_cols = 4096;

void kernels_set_gemv_rows_per_pass(int rows) { gemv_rows_per_pass = rows == 1 || rows == 4 ? rows : 0; }
int kernels_get_gemv_rows_per_pass(void) { return gemv_rows_per_pass; }

static inline int four_rows_per_pass(size_t cols) {
  return gemv_rows_per_pass ? gemv_rows_per_pass == 4 : cols > gemv_single_row_max_cols;
}

/* The transposed gemv also reads and writes its cols-long sum once per pass, so one row per
 * pass pays off only for short rows. */
static inline int four_rows_per_pass_t(size_t cols) {
  return gemv_rows_per_pass ? gemv_rows_per_pass == 4 : cols > 1024;
}

/* ---- plain C ---------------------------------------------------------------------------- */

static void widen_generic(weight_dtype dtype, const void *src, float *dst, size_t count) {
  for (size_t i = 0; i < count; i++) dst[i] = load_scalar(dtype, src, i);
}

static void gemv_rows_generic(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *x,
                              float *y, size_t r0, size_t r1, int accumulate) {
  for (size_t r = r0; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    float sums[4] = {0, 0, 0, 0};
    size_t c = 0;
    for (; c + 4 <= cols; c += 4)
      for (int lane = 0; lane < 4; lane++) sums[lane] += load_scalar(dtype, row, c + lane) * x[c + lane];
    for (; c < cols; c++) sums[0] += load_scalar(dtype, row, c) * x[c];
    const float dot = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    y[r] = accumulate ? y[r] + dot : dot;
  }
}

static void gemv_t_rows_generic(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *dy,
                                float *acc, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    const float scale = dy[r];
    for (size_t c = 0; c < cols; c++) acc[c] += load_scalar(dtype, row, c) * scale;
  }
}

/* ---- x86-64: AVX2 + FMA + F16C, and AVX-512 ------------------------------------------------ */
#ifdef HAVE_X86_SIMD

INLINE TARGET_AVX2 void widen_avx2_body(weight_dtype dtype, const void *src, float *dst, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, load8(dtype, src, i));
  for (; i < count; i++) dst[i] = load_scalar(dtype, src, i);
}

INLINE TARGET_AVX2 void gemv_rows_avx2_body(weight_dtype dtype, const void *w, size_t row_stride, size_t cols,
                                            const float *x, float *y, size_t r0, size_t r1, int accumulate) {
  const size_t full = cols & ~(size_t)7;
  size_t r = r0;
  for (; four_rows_per_pass(cols) && r + 4 <= r1; r += 4) {
    const void *w0 = row_pointer(dtype, w, row_stride, r), *w1 = row_pointer(dtype, w, row_stride, r + 1);
    const void *w2 = row_pointer(dtype, w, row_stride, r + 2), *w3 = row_pointer(dtype, w, row_stride, r + 3);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (size_t c = 0; c < full; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(load8(dtype, w0, c), xv, a0);
      a1 = _mm256_fmadd_ps(load8(dtype, w1, c), xv, a1);
      a2 = _mm256_fmadd_ps(load8(dtype, w2, c), xv, a2);
      a3 = _mm256_fmadd_ps(load8(dtype, w3, c), xv, a3);
    }
    float d0 = sum8(a0), d1 = sum8(a1), d2 = sum8(a2), d3 = sum8(a3);
    for (size_t c = full; c < cols; c++) {
      d0 += load_scalar(dtype, w0, c) * x[c];
      d1 += load_scalar(dtype, w1, c) * x[c];
      d2 += load_scalar(dtype, w2, c) * x[c];
      d3 += load_scalar(dtype, w3, c) * x[c];
    }
    if (accumulate) { d0 += y[r]; d1 += y[r + 1]; d2 += y[r + 2]; d3 += y[r + 3]; }
    y[r] = d0; y[r + 1] = d1; y[r + 2] = d2; y[r + 3] = d3;
  }
  for (; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t c = 0;
    for (; c + 32 <= full; c += 32) {
      a0 = _mm256_fmadd_ps(load8(dtype, row, c), _mm256_loadu_ps(x + c), a0);
      a1 = _mm256_fmadd_ps(load8(dtype, row, c + 8), _mm256_loadu_ps(x + c + 8), a1);
      a2 = _mm256_fmadd_ps(load8(dtype, row, c + 16), _mm256_loadu_ps(x + c + 16), a2);
      a3 = _mm256_fmadd_ps(load8(dtype, row, c + 24), _mm256_loadu_ps(x + c + 24), a3);
    }
    for (; c < full; c += 8) a0 = _mm256_fmadd_ps(load8(dtype, row, c), _mm256_loadu_ps(x + c), a0);
    float dot = sum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; c < cols; c++) dot += load_scalar(dtype, row, c) * x[c];
    y[r] = accumulate ? y[r] + dot : dot;
  }
}

INLINE TARGET_AVX2 void gemv_t_rows_avx2_body(weight_dtype dtype, const void *w, size_t row_stride, size_t cols,
                                              const float *dy, float *acc, size_t r0, size_t r1) {
  const size_t full = cols & ~(size_t)7;
  size_t r = r0;
  for (; four_rows_per_pass_t(cols) && r + 4 <= r1; r += 4) {
    const void *w0 = row_pointer(dtype, w, row_stride, r), *w1 = row_pointer(dtype, w, row_stride, r + 1);
    const void *w2 = row_pointer(dtype, w, row_stride, r + 2), *w3 = row_pointer(dtype, w, row_stride, r + 3);
    const __m256 s0 = _mm256_set1_ps(dy[r]), s1 = _mm256_set1_ps(dy[r + 1]);
    const __m256 s2 = _mm256_set1_ps(dy[r + 2]), s3 = _mm256_set1_ps(dy[r + 3]);
    for (size_t c = 0; c < full; c += 8) {
      const __m256 p01 = _mm256_fmadd_ps(load8(dtype, w0, c), s0, _mm256_mul_ps(load8(dtype, w1, c), s1));
      const __m256 p23 = _mm256_fmadd_ps(load8(dtype, w2, c), s2, _mm256_mul_ps(load8(dtype, w3, c), s3));
      _mm256_storeu_ps(acc + c, _mm256_add_ps(_mm256_loadu_ps(acc + c), _mm256_add_ps(p01, p23)));
    }
    for (size_t c = full; c < cols; c++)
      acc[c] += (load_scalar(dtype, w0, c) * dy[r] + load_scalar(dtype, w1, c) * dy[r + 1]) +
                (load_scalar(dtype, w2, c) * dy[r + 2] + load_scalar(dtype, w3, c) * dy[r + 3]);
  }
  for (; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    const __m256 s = _mm256_set1_ps(dy[r]);
    for (size_t c = 0; c < full; c += 8)
      _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(load8(dtype, row, c), s, _mm256_loadu_ps(acc + c)));
    for (size_t c = full; c < cols; c++) acc[c] += load_scalar(dtype, row, c) * dy[r];
  }
}

INLINE TARGET_AVX512 void widen_avx512_body(weight_dtype dtype, const void *src, float *dst, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) _mm512_storeu_ps(dst + i, load16(dtype, src, i));
  if (i < count) {
    const __mmask16 mask = (__mmask16)((1u << (count - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, mask, load16_masked(dtype, src, i, mask));
  }
}

INLINE TARGET_AVX512 void gemv_rows_avx512_body(weight_dtype dtype, const void *w, size_t row_stride, size_t cols,
                                                const float *x, float *y, size_t r0, size_t r1, int accumulate) {
  const size_t full = cols & ~(size_t)15;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  const __m512 x_tail = _mm512_maskz_loadu_ps(tail, x + full);
  size_t r = r0;
  for (; four_rows_per_pass(cols) && r + 4 <= r1; r += 4) {
    const void *w0 = row_pointer(dtype, w, row_stride, r), *w1 = row_pointer(dtype, w, row_stride, r + 1);
    const void *w2 = row_pointer(dtype, w, row_stride, r + 2), *w3 = row_pointer(dtype, w, row_stride, r + 3);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (size_t c = 0; c < full; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
      a0 = _mm512_fmadd_ps(load16(dtype, w0, c), xv, a0);
      a1 = _mm512_fmadd_ps(load16(dtype, w1, c), xv, a1);
      a2 = _mm512_fmadd_ps(load16(dtype, w2, c), xv, a2);
      a3 = _mm512_fmadd_ps(load16(dtype, w3, c), xv, a3);
    }
    if (tail) {
      a0 = _mm512_fmadd_ps(load16_masked(dtype, w0, full, tail), x_tail, a0);
      a1 = _mm512_fmadd_ps(load16_masked(dtype, w1, full, tail), x_tail, a1);
      a2 = _mm512_fmadd_ps(load16_masked(dtype, w2, full, tail), x_tail, a2);
      a3 = _mm512_fmadd_ps(load16_masked(dtype, w3, full, tail), x_tail, a3);
    }
    float d0 = _mm512_reduce_add_ps(a0), d1 = _mm512_reduce_add_ps(a1);
    float d2 = _mm512_reduce_add_ps(a2), d3 = _mm512_reduce_add_ps(a3);
    if (accumulate) { d0 += y[r]; d1 += y[r + 1]; d2 += y[r + 2]; d3 += y[r + 3]; }
    y[r] = d0; y[r + 1] = d1; y[r + 2] = d2; y[r + 3] = d3;
  }
  for (; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t c = 0;
    for (; c + 64 <= full; c += 64) {
      a0 = _mm512_fmadd_ps(load16(dtype, row, c), _mm512_loadu_ps(x + c), a0);
      a1 = _mm512_fmadd_ps(load16(dtype, row, c + 16), _mm512_loadu_ps(x + c + 16), a1);
      a2 = _mm512_fmadd_ps(load16(dtype, row, c + 32), _mm512_loadu_ps(x + c + 32), a2);
      a3 = _mm512_fmadd_ps(load16(dtype, row, c + 48), _mm512_loadu_ps(x + c + 48), a3);
    }
    for (; c < full; c += 16) a0 = _mm512_fmadd_ps(load16(dtype, row, c), _mm512_loadu_ps(x + c), a0);
    if (tail) a1 = _mm512_fmadd_ps(load16_masked(dtype, row, full, tail), x_tail, a1);
    const float dot = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    y[r] = accumulate ? y[r] + dot : dot;
  }
}

INLINE TARGET_AVX512 void gemv_t_rows_avx512_body(weight_dtype dtype, const void *w, size_t row_stride, size_t cols,
                                                  const float *dy, float *acc, size_t r0, size_t r1) {
  const size_t full = cols & ~(size_t)15;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  size_t r = r0;
  for (; four_rows_per_pass_t(cols) && r + 4 <= r1; r += 4) {
    const void *w0 = row_pointer(dtype, w, row_stride, r), *w1 = row_pointer(dtype, w, row_stride, r + 1);
    const void *w2 = row_pointer(dtype, w, row_stride, r + 2), *w3 = row_pointer(dtype, w, row_stride, r + 3);
    const __m512 s0 = _mm512_set1_ps(dy[r]), s1 = _mm512_set1_ps(dy[r + 1]);
    const __m512 s2 = _mm512_set1_ps(dy[r + 2]), s3 = _mm512_set1_ps(dy[r + 3]);
    for (size_t c = 0; c < full; c += 16) {
      const __m512 p01 = _mm512_fmadd_ps(load16(dtype, w0, c), s0, _mm512_mul_ps(load16(dtype, w1, c), s1));
      const __m512 p23 = _mm512_fmadd_ps(load16(dtype, w2, c), s2, _mm512_mul_ps(load16(dtype, w3, c), s3));
      _mm512_storeu_ps(acc + c, _mm512_add_ps(_mm512_loadu_ps(acc + c), _mm512_add_ps(p01, p23)));
    }
    if (tail) {
      const __m512 p01 = _mm512_fmadd_ps(load16_masked(dtype, w0, full, tail), s0,
                                         _mm512_mul_ps(load16_masked(dtype, w1, full, tail), s1));
      const __m512 p23 = _mm512_fmadd_ps(load16_masked(dtype, w2, full, tail), s2,
                                         _mm512_mul_ps(load16_masked(dtype, w3, full, tail), s3));
      const __m512 old = _mm512_maskz_loadu_ps(tail, acc + full);
      _mm512_mask_storeu_ps(acc + full, tail, _mm512_add_ps(old, _mm512_add_ps(p01, p23)));
    }
  }
  for (; r < r1; r++) {
    const void *row = row_pointer(dtype, w, row_stride, r);
    const __m512 s = _mm512_set1_ps(dy[r]);
    for (size_t c = 0; c < full; c += 16)
      _mm512_storeu_ps(acc + c, _mm512_fmadd_ps(load16(dtype, row, c), s, _mm512_loadu_ps(acc + c)));
    if (tail) {
      const __m512 old = _mm512_maskz_loadu_ps(tail, acc + full);
      _mm512_mask_storeu_ps(acc + full, tail, _mm512_fmadd_ps(load16_masked(dtype, row, full, tail), s, old));
    }
  }
}

/* One out-of-line function per (instruction set, dtype), so the dtype branches fold away. */
#define DEFINE_FOR_DTYPES(isa, TARGET)                                                                      \
  static TARGET void widen_##isa(weight_dtype dtype, const void *src, float *dst, size_t count) {           \
    if (dtype == WEIGHT_BF16) widen_##isa##_body(WEIGHT_BF16, src, dst, count);                            \
    else if (dtype == WEIGHT_F16) widen_##isa##_body(WEIGHT_F16, src, dst, count);                         \
    else widen_##isa##_body(WEIGHT_F32, src, dst, count);                                                   \
  }                                                                                                         \
  static TARGET void gemv_rows_##isa(weight_dtype dtype, const void *w, size_t stride, size_t cols,         \
                                     const float *x, float *y, size_t r0, size_t r1, int accumulate) {      \
    if (dtype == WEIGHT_BF16) gemv_rows_##isa##_body(WEIGHT_BF16, w, stride, cols, x, y, r0, r1, accumulate); \
    else if (dtype == WEIGHT_F16) gemv_rows_##isa##_body(WEIGHT_F16, w, stride, cols, x, y, r0, r1, accumulate); \
    else gemv_rows_##isa##_body(WEIGHT_F32, w, stride, cols, x, y, r0, r1, accumulate);                     \
  }                                                                                                         \
  static TARGET void gemv_t_rows_##isa(weight_dtype dtype, const void *w, size_t stride, size_t cols,       \
                                       const float *dy, float *acc, size_t r0, size_t r1) {                 \
    if (dtype == WEIGHT_BF16) gemv_t_rows_##isa##_body(WEIGHT_BF16, w, stride, cols, dy, acc, r0, r1);      \
    else if (dtype == WEIGHT_F16) gemv_t_rows_##isa##_body(WEIGHT_F16, w, stride, cols, dy, acc, r0, r1);   \
    else gemv_t_rows_##isa##_body(WEIGHT_F32, w, stride, cols, dy, acc, r0, r1);                            \
  }

DEFINE_FOR_DTYPES(avx2, TARGET_AVX2)
DEFINE_FOR_DTYPES(avx512, TARGET_AVX512)
#endif

/* ---- dispatch ----------------------------------------------------------------------------- */

typedef void (*widen_fn)(weight_dtype, const void *, float *, size_t);
typedef void (*gemv_rows_fn)(weight_dtype, const void *, size_t, size_t, const float *, float *, size_t, size_t, int);
typedef void (*gemv_t_rows_fn)(weight_dtype, const void *, size_t, size_t, const float *, float *, size_t, size_t);

static widen_fn active_widen = widen_generic;
static gemv_rows_fn active_gemv_rows = gemv_rows_generic;
static gemv_t_rows_fn active_gemv_t_rows = gemv_t_rows_generic;
static const char *active_isa = "generic";

static int cpu_runs(const char *isa) {
  if (strcmp(isa, "generic") == 0) return 1;
#ifdef HAVE_X86_SIMD
  __builtin_cpu_init();
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (strcmp(isa, "avx2") == 0) return avx2;
  if (strcmp(isa, "avx512") == 0)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  return 0;
}

int kernels_force_isa(const char *isa) {
  if (!cpu_runs(isa)) return -1;
#ifdef HAVE_X86_SIMD
  if (strcmp(isa, "avx512") == 0) {
    active_widen = widen_avx512; active_gemv_rows = gemv_rows_avx512; active_gemv_t_rows = gemv_t_rows_avx512;
    active_isa = "avx512";
    return 0;
  }
  if (strcmp(isa, "avx2") == 0) {
    active_widen = widen_avx2; active_gemv_rows = gemv_rows_avx2; active_gemv_t_rows = gemv_t_rows_avx2;
    active_isa = "avx2";
    return 0;
  }
#endif
  active_widen = widen_generic; active_gemv_rows = gemv_rows_generic; active_gemv_t_rows = gemv_t_rows_generic;
  active_isa = "generic";
  return 0;
}

void kernels_init(void) {
  if (kernels_force_isa("avx512") != 0 && kernels_force_isa("avx2") != 0) kernels_force_isa("generic");
}

const char *kernels_isa(void) { return active_isa; }

int kernels_isa_level(void) { return strcmp(active_isa, "avx512") == 0 ? 2 : strcmp(active_isa, "avx2") == 0 ? 1 : 0; }

void widen_to_f32(weight_dtype dtype, const void *src, float *dst, size_t count) {
  active_widen(dtype, src, dst, count);
}

void gemv_rows(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *x, float *y,
               size_t r0, size_t r1, int accumulate) {
  active_gemv_rows(dtype, w, row_stride, cols, x, y, r0, r1, accumulate);
}

void gemv_t_rows(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *dy, float *acc,
                 size_t r0, size_t r1) {
  active_gemv_t_rows(dtype, w, row_stride, cols, dy, acc, r0, r1);
}

/* Shared inline helpers of the kernels: scalar loads of f32/f16/bf16 weights and, on x86-64,
 * 8- and 16-wide loads that widen them to float32 (AVX2+F16C, AVX-512). */
#ifndef YOLLAVA_SIMD_H
#define YOLLAVA_SIMD_H

#include <stdint.h>
#include <string.h>

#include "kernels.h"

static inline float bf16_bits_to_f32(uint16_t bits) {
  const uint32_t widened = (uint32_t)bits << 16;
  float value;
  memcpy(&value, &widened, 4);
  return value;
}

static inline float load_scalar(weight_dtype dtype, const void *row, size_t c) {
  if (dtype == WEIGHT_F32) return ((const float *)row)[c];
  const uint16_t bits = ((const uint16_t *)row)[c];
  return dtype == WEIGHT_BF16 ? bf16_bits_to_f32(bits) : f16_bits_to_f32(bits);
}

static inline const void *row_pointer(weight_dtype dtype, const void *w, size_t row_stride, size_t r) {
  return (const char *)w + r * row_stride * weight_element_size(dtype);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_SIMD 1

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* 8 weights from column c of a row, widened to float32. */
INLINE TARGET_AVX2 __m256 load8(weight_dtype dtype, const void *row, size_t c) {
  if (dtype == WEIGHT_F32) return _mm256_loadu_ps((const float *)row + c);
  const __m128i half = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + c));
  if (dtype == WEIGHT_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
  return _mm256_cvtph_ps(half);
}

INLINE TARGET_AVX2 float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* 16 weights from column c of a row, widened; the masked form reads only the lanes in mask. */
INLINE TARGET_AVX512 __m512 load16(weight_dtype dtype, const void *row, size_t c) {
  if (dtype == WEIGHT_F32) return _mm512_loadu_ps((const float *)row + c);
  const __m256i half = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + c));
  if (dtype == WEIGHT_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
  return _mm512_cvtph_ps(half);
}

INLINE TARGET_AVX512 __m512 load16_masked(weight_dtype dtype, const void *row, size_t c, __mmask16 mask) {
  if (dtype == WEIGHT_F32) return _mm512_maskz_loadu_ps(mask, (const float *)row + c);
  const __m256i half = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + c);
  if (dtype == WEIGHT_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
  return _mm512_cvtph_ps(half);
}

#endif

#endif

/* Products with a few rows of activations (m = 2 … ~32) against a large weight matrix, which
 * stream W from memory once instead of packing it as sgemm does (for m = 20 against the
 * 151936×896 lm_head, OpenBLAS's packing of all 545 MB ran at ~20 GFLOP/s).
 *
 *   forward   out[j, r]  = dot(W[r, :], x[j, :])          blocks of 4 rows of W × 6 rows of x
 *   backward  acc[j, c] += Σ_r dy[j, r] · W[r, c]          blocks of 64 columns × 6 rows of dy
 *
 * Each call covers rows [r0, r1) of W, so that threads split W by rows. */
#include "kernels.h"
#include "simd.h"

/* ---- plain C ---------------------------------------------------------------------------- */

static void small_m_rows_generic(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx, size_t m,
                                 float *out, size_t ldout, size_t r0, size_t r1, int accumulate) {
  for (size_t r = r0; r < r1; r++) {
    const void *row = row_pointer(dtype, w, k, r);
    for (size_t j = 0; j < m; j++) {
      const float *xj = x + j * ldx;
      float sums[4] = {0, 0, 0, 0};
      size_t c = 0;
      for (; c + 4 <= k; c += 4)
        for (int lane = 0; lane < 4; lane++) sums[lane] += load_scalar(dtype, row, c + lane) * xj[c + lane];
      for (; c < k; c++) sums[0] += load_scalar(dtype, row, c) * xj[c];
      const float dot = (sums[0] + sums[1]) + (sums[2] + sums[3]);
      float *o = out + j * ldout + r;
      *o = accumulate ? *o + dot : dot;
    }
  }
}

static void small_m_t_rows_generic(weight_dtype dtype, const void *w, size_t k, const float *dy, size_t lddy,
                                   size_t m, float *acc, size_t ldacc, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) {
    const void *row = row_pointer(dtype, w, k, r);
    for (size_t j = 0; j < m; j++) {
      const float scale = dy[j * lddy + r];
      float *a = acc + j * ldacc;
      for (size_t c = 0; c < k; c++) a[c] += load_scalar(dtype, row, c) * scale;
    }
  }
}

/* Rows of x (or dy) are taken in groups of at most `most`, as even as possible (m = 20 as
 * 5+5+5+5 rather than 6+6+6+2: a small last group wastes the register tile). */
#define FOR_GROUPS(m, most, j0, mb)                                                       \
  for (size_t g_ = 0, groups_ = ((m) + (most) - 1) / (most), j0 = 0, mb = 0; g_ < groups_; \
       g_++, j0 += mb)                                                                      \
    if ((mb = (m) / groups_ + (g_ < (m) % groups_)), 1)

#ifdef HAVE_X86_SIMD

/* ---- AVX-512 ------------------------------------------------------------------------------ */

/* The four dot products held in a0..a3, as one 4-lane vector. */
INLINE TARGET_AVX512 __m128 reduce4_512(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m256 b0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm512_extractf32x8_ps(a0, 1));
  const __m256 b1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm512_extractf32x8_ps(a1, 1));
  const __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm512_extractf32x8_ps(a2, 1));
  const __m256 b3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm512_extractf32x8_ps(a3, 1));
  /* [b0 b1 pairs | b2 b3 pairs] in one 256-bit hadd tree */
  const __m256 h01 = _mm256_hadd_ps(b0, b1), h23 = _mm256_hadd_ps(b2, b3);
  const __m256 h = _mm256_hadd_ps(h01, h23); /* lanes: s0 s1 s2 s3 (low half) + s0 s1 s2 s3 (high half) */
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* RB rows of W (1 or 4) × MB rows of x (1…6), all k columns. RB and MB are constants at every
 * call site, so the accumulators stay in registers. */
INLINE TARGET_AVX512 void fwd_tile_512(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx,
                                       const int MB, const int RB, float *out, size_t ldout, size_t r,
                                       int accumulate, const char *prefetch) {
  __m512 acc[4][6];
  for (int i = 0; i < RB; i++)
    for (int j = 0; j < MB; j++) acc[i][j] = _mm512_setzero_ps();
  const void *rows[4];
  for (int i = 0; i < RB; i++) rows[i] = row_pointer(dtype, w, k, r + i);
  const size_t full = k & ~(size_t)15;
  /* the first group of x also requests the next block of W, 64 bytes per row and step */
  const size_t step_bytes = 16 * weight_element_size(dtype), row_bytes = k * weight_element_size(dtype);
  for (size_t c = 0; c < full; c += 16) {
    if (prefetch)
      for (int i = 0; i < RB; i++) _mm_prefetch(prefetch + i * row_bytes + (c / 16) * step_bytes, _MM_HINT_T0);
    __m512 wv[4];
    for (int i = 0; i < RB; i++) wv[i] = load16(dtype, rows[i], c);
    for (int j = 0; j < MB; j++) {
      const __m512 xv = _mm512_loadu_ps(x + j * ldx + c);
      for (int i = 0; i < RB; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
  if (full < k) {
    const __mmask16 tail = (__mmask16)((1u << (k - full)) - 1);
    __m512 wv[4];
    for (int i = 0; i < RB; i++) wv[i] = load16_masked(dtype, rows[i], full, tail);
    for (int j = 0; j < MB; j++) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, x + j * ldx + full);
      for (int i = 0; i < RB; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
  for (int j = 0; j < MB; j++) {
    float *o = out + j * ldout + r;
    if (RB == 4) {
      __m128 d = reduce4_512(acc[0][j], acc[1][j], acc[2][j], acc[3][j]);
      if (accumulate) d = _mm_add_ps(d, _mm_loadu_ps(o));
      _mm_storeu_ps(o, d);
    } else {
      const float d = _mm512_reduce_add_ps(acc[0][j]);
      *o = accumulate ? *o + d : d;
    }
  }
}

#define FWD_TILES_512(RB)                                                                           \
  FOR_GROUPS(m, 6, j0, mb) {                                                                        \
    const float *xj = x + j0 * ldx;                                                                  \
    float *oj = out + j0 * ldout;                                                                    \
    const char *pf = j0 == 0 && r + 2 * RB <= r1 ? (const char *)row_pointer(dtype, w, k, r + RB) : NULL;      \
    switch (mb) {                                                                                    \
      case 1: fwd_tile_512(dtype, w, k, xj, ldx, 1, RB, oj, ldout, r, accumulate, pf); break;       \
      case 2: fwd_tile_512(dtype, w, k, xj, ldx, 2, RB, oj, ldout, r, accumulate, pf); break;       \
      case 3: fwd_tile_512(dtype, w, k, xj, ldx, 3, RB, oj, ldout, r, accumulate, pf); break;       \
      case 4: fwd_tile_512(dtype, w, k, xj, ldx, 4, RB, oj, ldout, r, accumulate, pf); break;       \
      case 5: fwd_tile_512(dtype, w, k, xj, ldx, 5, RB, oj, ldout, r, accumulate, pf); break;       \
      default: fwd_tile_512(dtype, w, k, xj, ldx, 6, RB, oj, ldout, r, accumulate, pf); break;      \
    }                                                                                                \
  }

INLINE TARGET_AVX512 void small_m_rows_avx512_body(weight_dtype dtype, const void *w, size_t k, const float *x,
                                                   size_t ldx, size_t m, float *out, size_t ldout, size_t r0,
                                                   size_t r1, int accumulate) {
  size_t r = r0;
  /* A few rows of x: memory-bound, and one row of W at a time is one sequential stream, which
   * the prefetchers follow best (bf16 m = 2, 4: 19 and 31 GB/s that way, 10 and 20 in blocks of
   * 4 rows; f32 gained only for m = 2). */
  if (m > (dtype == WEIGHT_F32 ? 2u : 4u))
    for (; r + 4 <= r1; r += 4) { FWD_TILES_512(4) }
  for (; r < r1; r++) { FWD_TILES_512(1) }
}

/* NV vectors (16 columns each, 1 or 4) × MB rows of dy (1…6), over rows [r0, r1) of W; the
 * masked form covers the last k % 16 columns. */
/* Software prefetch for the first pass over a block of W: the tile walks down 64-column strips
 * of many rows, a pattern the hardware prefetchers do not follow, so each row's part of the
 * next strip (or of the next block's first strip) is requested one strip ahead. */
typedef struct {
  const char *base; /* address for row r0's prefetch; NULL: none */
  size_t row_bytes; /* distance between rows */
  size_t lines;     /* cache lines per row */
} strip_prefetch;

INLINE TARGET_AVX512 void bwd_tile_512(weight_dtype dtype, const void *w, size_t k, const float *dy, size_t lddy,
                                       const int MB, const int NV, float *acc, size_t ldacc, size_t c, size_t r0,
                                       size_t r1, __mmask16 mask, strip_prefetch pf) {
  __m512 a[6][4];
  for (int j = 0; j < MB; j++)
    for (int v = 0; v < NV; v++)
      a[j][v] = mask ? _mm512_maskz_loadu_ps(mask, acc + j * ldacc + c) : _mm512_loadu_ps(acc + j * ldacc + c + 16 * v);
  for (size_t r = r0; r < r1; r++) {
    if (pf.base)
      for (size_t line = 0; line < pf.lines; line++)
        _mm_prefetch(pf.base + (r - r0) * pf.row_bytes + 64 * line, _MM_HINT_T0);
    const void *row = row_pointer(dtype, w, k, r);
    __m512 wv[4];
    for (int v = 0; v < NV; v++) wv[v] = mask ? load16_masked(dtype, row, c, mask) : load16(dtype, row, c + 16 * v);
    for (int j = 0; j < MB; j++) {
      const __m512 s = _mm512_set1_ps(dy[j * lddy + r]);
      for (int v = 0; v < NV; v++) a[j][v] = _mm512_fmadd_ps(wv[v], s, a[j][v]);
    }
  }
  for (int j = 0; j < MB; j++)
    for (int v = 0; v < NV; v++) {
      if (mask) _mm512_mask_storeu_ps(acc + j * ldacc + c, mask, a[j][v]);
      else _mm512_storeu_ps(acc + j * ldacc + c + 16 * v, a[j][v]);
    }
}

#define BWD_TILES_512(NV, MASK, PF)                                                                            \
  switch (mb) {                                                                                                \
    case 1: bwd_tile_512(dtype, w, k, dyj, lddy, 1, NV, aj, ldacc, c, r0, r1, MASK, PF); break;                \
    case 2: bwd_tile_512(dtype, w, k, dyj, lddy, 2, NV, aj, ldacc, c, r0, r1, MASK, PF); break;                \
    case 3: bwd_tile_512(dtype, w, k, dyj, lddy, 3, NV, aj, ldacc, c, r0, r1, MASK, PF); break;                \
    case 4: bwd_tile_512(dtype, w, k, dyj, lddy, 4, NV, aj, ldacc, c, r0, r1, MASK, PF); break;                \
    case 5: bwd_tile_512(dtype, w, k, dyj, lddy, 5, NV, aj, ldacc, c, r0, r1, MASK, PF); break;                \
    default: bwd_tile_512(dtype, w, k, dyj, lddy, 6, NV, aj, ldacc, c, r0, r1, MASK, PF); break;               \
  }

/* Rows [r0, r1) of one block; `next` rows after it (same size or fewer) belong to the caller's
 * range and are prefetched during the last strip. */
/* Rows [r0, r1) of one block, columns [c0, c1) of a panel; `next` rows after the block (as many
 * or fewer) belong to the caller's range and are prefetched during the last strip. */
INLINE TARGET_AVX512 void small_m_t_rows_avx512_body(weight_dtype dtype, const void *w, size_t k, const float *dy,
                                                     size_t lddy, size_t m, float *acc, size_t ldacc, size_t r0,
                                                     size_t r1, size_t next, size_t c0, size_t c1) {
  const size_t element = weight_element_size(dtype), row_bytes = k * element;
  const size_t strip_lines = 64 * element / 64;
  const char *block = (const char *)row_pointer(dtype, w, k, r0);
  FOR_GROUPS(m, 6, j0, mb) {
    const float *dyj = dy + j0 * lddy;
    float *aj = acc + j0 * ldacc;
    const strip_prefetch none = {NULL, 0, 0};
    size_t c = c0;
    for (; c + 64 <= c1; c += 64) {
      strip_prefetch pf = none;
      if (j0 == 0 && c + 64 < c1) pf = (strip_prefetch){block + (c + 64) * element, row_bytes, strip_lines};
      else if (j0 == 0 && next >= r1 - r0)
        pf = (strip_prefetch){block + (r1 - r0) * row_bytes + c0 * element, row_bytes, strip_lines};
      BWD_TILES_512(4, 0, pf)
    }
    for (; c + 16 <= c1; c += 16) { BWD_TILES_512(1, 0, none) }
    if (c < c1) {
      const __mmask16 tail = (__mmask16)((1u << (c1 - c)) - 1);
      BWD_TILES_512(1, tail, none)
    }
  }
}

/* ---- AVX2 + FMA (+F16C) -------------------------------------------------------------------- */

/* 16 ymm registers: blocks of 2 rows of W × up to 4 rows of x forward, 16 columns × up to 6
 * rows of dy backward. */
INLINE TARGET_AVX2 void fwd_tile_256(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx,
                                     const int MB, const int RB, float *out, size_t ldout, size_t r,
                                     int accumulate) {
  __m256 acc[2][4];
  for (int i = 0; i < RB; i++)
    for (int j = 0; j < MB; j++) acc[i][j] = _mm256_setzero_ps();
  const void *rows[2];
  for (int i = 0; i < RB; i++) rows[i] = row_pointer(dtype, w, k, r + i);
  const size_t full = k & ~(size_t)7;
  for (size_t c = 0; c < full; c += 8) {
    __m256 wv[2];
    for (int i = 0; i < RB; i++) wv[i] = load8(dtype, rows[i], c);
    for (int j = 0; j < MB; j++) {
      const __m256 xv = _mm256_loadu_ps(x + j * ldx + c);
      for (int i = 0; i < RB; i++) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
  for (int j = 0; j < MB; j++) {
    for (int i = 0; i < RB; i++) {
      float d = sum8(acc[i][j]);
      for (size_t c = full; c < k; c++) d += load_scalar(dtype, rows[i], c) * x[j * ldx + c];
      float *o = out + j * ldout + r + i;
      *o = accumulate ? *o + d : d;
    }
  }
}

#define FWD_TILES_256(RB)                                                                           \
  FOR_GROUPS(m, 4, j0, mb) {                                                                        \
    const float *xj = x + j0 * ldx;                                                                  \
    float *oj = out + j0 * ldout;                                                                    \
    switch (mb) {                                                                                    \
      case 1: fwd_tile_256(dtype, w, k, xj, ldx, 1, RB, oj, ldout, r, accumulate); break;           \
      case 2: fwd_tile_256(dtype, w, k, xj, ldx, 2, RB, oj, ldout, r, accumulate); break;           \
      case 3: fwd_tile_256(dtype, w, k, xj, ldx, 3, RB, oj, ldout, r, accumulate); break;           \
      default: fwd_tile_256(dtype, w, k, xj, ldx, 4, RB, oj, ldout, r, accumulate); break;          \
    }                                                                                                \
  }

INLINE TARGET_AVX2 void small_m_rows_avx2_body(weight_dtype dtype, const void *w, size_t k, const float *x,
                                               size_t ldx, size_t m, float *out, size_t ldout, size_t r0, size_t r1,
                                               int accumulate) {
  size_t r = r0;
  for (; r + 2 <= r1; r += 2) { FWD_TILES_256(2) }
  for (; r < r1; r++) { FWD_TILES_256(1) }
}

INLINE TARGET_AVX2 void bwd_tile_256(weight_dtype dtype, const void *w, size_t k, const float *dy, size_t lddy,
                                     const int MB, float *acc, size_t ldacc, size_t c, size_t r0, size_t r1) {
  __m256 a[6][2];
  for (int j = 0; j < MB; j++)
    for (int v = 0; v < 2; v++) a[j][v] = _mm256_loadu_ps(acc + j * ldacc + c + 8 * v);
  for (size_t r = r0; r < r1; r++) {
    const void *row = row_pointer(dtype, w, k, r);
    const __m256 w0 = load8(dtype, row, c), w1 = load8(dtype, row, c + 8);
    for (int j = 0; j < MB; j++) {
      const __m256 s = _mm256_set1_ps(dy[j * lddy + r]);
      a[j][0] = _mm256_fmadd_ps(w0, s, a[j][0]);
      a[j][1] = _mm256_fmadd_ps(w1, s, a[j][1]);
    }
  }
  for (int j = 0; j < MB; j++)
    for (int v = 0; v < 2; v++) _mm256_storeu_ps(acc + j * ldacc + c + 8 * v, a[j][v]);
}

INLINE TARGET_AVX2 void small_m_t_rows_avx2_body(weight_dtype dtype, const void *w, size_t k, const float *dy,
                                                 size_t lddy, size_t m, float *acc, size_t ldacc, size_t r0,
                                                 size_t r1, size_t next) {
  (void)next;
  const size_t full = k & ~(size_t)15;
  FOR_GROUPS(m, 6, j0, mb) {
    const float *dyj = dy + j0 * lddy;
    float *aj = acc + j0 * ldacc;
    for (size_t c = 0; c < full; c += 16) {
      switch (mb) {
        case 1: bwd_tile_256(dtype, w, k, dyj, lddy, 1, aj, ldacc, c, r0, r1); break;
        case 2: bwd_tile_256(dtype, w, k, dyj, lddy, 2, aj, ldacc, c, r0, r1); break;
        case 3: bwd_tile_256(dtype, w, k, dyj, lddy, 3, aj, ldacc, c, r0, r1); break;
        case 4: bwd_tile_256(dtype, w, k, dyj, lddy, 4, aj, ldacc, c, r0, r1); break;
        case 5: bwd_tile_256(dtype, w, k, dyj, lddy, 5, aj, ldacc, c, r0, r1); break;
        default: bwd_tile_256(dtype, w, k, dyj, lddy, 6, aj, ldacc, c, r0, r1); break;
      }
    }
  }
  if (full < k) {
    /* the last k % 16 columns */
    for (size_t r = r0; r < r1; r++) {
      const void *row = row_pointer(dtype, w, k, r);
      for (size_t j = 0; j < m; j++) {
        const float scale = dy[j * lddy + r];
        for (size_t c = full; c < k; c++) acc[j * ldacc + c] += load_scalar(dtype, row, c) * scale;
      }
    }
  }
}

/* One out-of-line function per (instruction set, dtype), so the dtype branches fold away. */
#define DEFINE_SMALL_M(isa, TARGET)                                                                           \
  static TARGET void small_m_rows_##isa(weight_dtype dtype, const void *w, size_t k, const float *x,          \
                                        size_t ldx, size_t m, float *out, size_t ldout, size_t r0, size_t r1, \
                                        int accumulate) {                                                     \
    if (dtype == WEIGHT_BF16) small_m_rows_##isa##_body(WEIGHT_BF16, w, k, x, ldx, m, out, ldout, r0, r1, accumulate); \
    else if (dtype == WEIGHT_F16) small_m_rows_##isa##_body(WEIGHT_F16, w, k, x, ldx, m, out, ldout, r0, r1, accumulate); \
    else small_m_rows_##isa##_body(WEIGHT_F32, w, k, x, ldx, m, out, ldout, r0, r1, accumulate);             \
  }                                                                                                           \
  static TARGET void small_m_t_rows_##isa(weight_dtype dtype, const void *w, size_t k, const float *dy,       \
                                          size_t lddy, size_t m, float *acc, size_t ldacc, size_t r0,         \
                                          size_t r1, size_t next) {                                           \
    if (dtype == WEIGHT_BF16) small_m_t_rows_##isa##_body(WEIGHT_BF16, w, k, dy, lddy, m, acc, ldacc, r0, r1, next); \
    else if (dtype == WEIGHT_F16) small_m_t_rows_##isa##_body(WEIGHT_F16, w, k, dy, lddy, m, acc, ldacc, r0, r1, next); \
    else small_m_t_rows_##isa##_body(WEIGHT_F32, w, k, dy, lddy, m, acc, ldacc, r0, r1, next);                \
  }

DEFINE_SMALL_M(avx2, TARGET_AVX2)

static TARGET_AVX512 void small_m_rows_avx512(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx,
                                              size_t m, float *out, size_t ldout, size_t r0, size_t r1,
                                              int accumulate) {
  if (dtype == WEIGHT_BF16) small_m_rows_avx512_body(WEIGHT_BF16, w, k, x, ldx, m, out, ldout, r0, r1, accumulate);
  else if (dtype == WEIGHT_F16) small_m_rows_avx512_body(WEIGHT_F16, w, k, x, ldx, m, out, ldout, r0, r1, accumulate);
  else small_m_rows_avx512_body(WEIGHT_F32, w, k, x, ldx, m, out, ldout, r0, r1, accumulate);
}

static TARGET_AVX512 void small_m_t_rows_avx512(weight_dtype dtype, const void *w, size_t k, const float *dy,
                                                size_t lddy, size_t m, float *acc, size_t ldacc, size_t r0, size_t r1,
                                                size_t next, size_t c0, size_t c1) {
  if (dtype == WEIGHT_BF16)
    small_m_t_rows_avx512_body(WEIGHT_BF16, w, k, dy, lddy, m, acc, ldacc, r0, r1, next, c0, c1);
  else if (dtype == WEIGHT_F16)
    small_m_t_rows_avx512_body(WEIGHT_F16, w, k, dy, lddy, m, acc, ldacc, r0, r1, next, c0, c1);
  else small_m_t_rows_avx512_body(WEIGHT_F32, w, k, dy, lddy, m, acc, ldacc, r0, r1, next, c0, c1);
}
#endif

/* ---- dispatch ----------------------------------------------------------------------------- */

void small_m_rows(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx, size_t m, float *out,
                  size_t ldout, size_t r0, size_t r1, int accumulate) {
#ifdef HAVE_X86_SIMD
  const int level = kernels_isa_level();
  if (level == 2) { small_m_rows_avx512(dtype, w, k, x, ldx, m, out, ldout, r0, r1, accumulate); return; }
  if (level == 1) { small_m_rows_avx2(dtype, w, k, x, ldx, m, out, ldout, r0, r1, accumulate); return; }
#endif
  small_m_rows_generic(dtype, w, k, x, ldx, m, out, ldout, r0, r1, accumulate);
}

/* Columns per panel of the AVX-512 backward: the m × 1024 partial sums of a panel (256 KiB for
 * m = 64) stay in L2 while a block of W passes; without panels, rows of 4864 columns made
 * blocks of 6 rows, and all m × k sums went through L3 for each. */
#define T_PANEL_COLUMNS 1024

void small_m_t_rows(weight_dtype dtype, const void *w, size_t k, const float *dy, size_t lddy, size_t m, float *acc,
                    size_t ldacc, size_t r0, size_t r1) {
  /* Blocks of ~128 KiB of W (of a panel): each block is read from memory once, then from L2 by
   * the other column strips and 6-row groups of dy. */
  const size_t element = weight_element_size(dtype);
#ifdef HAVE_X86_SIMD
  if (kernels_isa_level() == 2) {
    const size_t panel = k < T_PANEL_COLUMNS ? k : T_PANEL_COLUMNS;
    const size_t panel_bytes = panel * element;
    size_t block = (128 * 1024) / (panel_bytes ? panel_bytes : 1);
    if (block < 4) block = 4;
    for (size_t c0 = 0; c0 < k; c0 += panel) {
      const size_t c1 = k - c0 < panel ? k : c0 + panel;
      for (size_t b0 = r0; b0 < r1; b0 += block) {
        const size_t b1 = r1 - b0 < block ? r1 : b0 + block;
        small_m_t_rows_avx512(dtype, w, k, dy, lddy, m, acc, ldacc, b0, b1, r1 - b1, c0, c1);
      }
    }
    return;
  }
#endif
  const size_t row_bytes = k * element;
  size_t block = (128 * 1024) / (row_bytes ? row_bytes : 1);
  if (block < 4) block = 4;
  for (size_t b0 = r0; b0 < r1; b0 += block) {
    const size_t b1 = r1 - b0 < block ? r1 : b0 + block;
#ifdef HAVE_X86_SIMD
    if (kernels_isa_level() == 1) { small_m_t_rows_avx2(dtype, w, k, dy, lddy, m, acc, ldacc, b0, b1, r1 - b1); continue; }
#endif
    small_m_t_rows_generic(dtype, w, k, dy, lddy, m, acc, ldacc, b0, b1);
  }
}

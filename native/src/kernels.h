/* Single-threaded inner kernels that OpenBLAS lacks: dot products and widening straight from
 * f16/bf16 weights. Each has an AVX-512, an AVX2/FMA/F16C and a plain C version; the best one
 * the CPU runs is picked once by kernels_init(), so the addon runs on any x86-64 (and the
 * plain C versions build everywhere else). */
#ifndef YOLLAVA_KERNELS_H
#define YOLLAVA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { WEIGHT_F32 = 0, WEIGHT_F16 = 1, WEIGHT_BF16 = 2 } weight_dtype;

static inline size_t weight_element_size(weight_dtype dtype) { return dtype == WEIGHT_F32 ? 4 : 2; }

void kernels_init(void);
/* "avx512", "avx2" or "generic". */
const char *kernels_isa(void);
/* Forces an instruction set for tests and benchmarks ("avx512", "avx2", "generic");
 * returns 0, or -1 if this CPU cannot run it (then nothing changes). */
int kernels_force_isa(const char *isa);
/* The active instruction set as a number, for the other kernel files: 2 avx512, 1 avx2, 0 generic. */
int kernels_isa_level(void);

/* dst[i] = float(src[i]) for i < count. */
void widen_to_f32(weight_dtype dtype, const void *src, float *dst, size_t count);

/* y[r] = dot(W[r, 0:cols], x) (+ y[r] when accumulate) for r in [r0, r1); W rows are
 * row_stride elements apart. */
void gemv_rows(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *x, float *y,
               size_t r0, size_t r1, int accumulate);

/* acc[c] += sum over r in [r0, r1) of dy[r] * W[r, c], for c < cols. */
void gemv_t_rows(weight_dtype dtype, const void *w, size_t row_stride, size_t cols, const float *dy, float *acc,
                 size_t r0, size_t r1);

/* Small-m products (small_m.c), W n×k with rows k apart, x/out/dy/acc row-major with the given
 * leading dimensions:
 *   out[j, r] = dot(W[r, :], x[j, :]) (+ out[j, r] when accumulate), j < m, r in [r0, r1);
 *   acc[j, c] += Σ over r in [r0, r1) of dy[j, r]·W[r, c], j < m, c < k. */
void small_m_rows(weight_dtype dtype, const void *w, size_t k, const float *x, size_t ldx, size_t m, float *out,
                  size_t ldout, size_t r0, size_t r1, int accumulate);
void small_m_t_rows(weight_dtype dtype, const void *w, size_t k, const float *dy, size_t lddy, size_t m, float *acc,
                    size_t ldacc, size_t r0, size_t r1);

float f16_bits_to_f32(uint16_t bits);

/* Benchmark knob: W rows per gemv pass, 1 or 4; 0 picks by the length of x (the default). */
void kernels_set_gemv_rows_per_pass(int rows);
int kernels_get_gemv_rows_per_pass(void);

#endif

/* The kernels behind the addon's entry points, on validated arguments: OpenBLAS for f32
 * products, the fused gemv kernels for m = 1, widened weight tiles + sgemm for f16/bf16. */
#ifndef YOLLAVA_OPS_H
#define YOLLAVA_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "conv.h"
#include "kernels.h"

void ops_init(void);
void ops_set_threads(int threads);
int ops_get_threads(void);
const char *ops_blas_config(void);

/* Knobs for tests and benchmarks: rows of W per widened tile (0: chosen by size), and whether
 * f32 gemv goes through OpenBLAS sgemv (1) or the addon's own threaded kernel (0). */
void ops_set_tile_rows(size_t rows);
size_t ops_get_tile_rows(void);
void ops_set_f32_gemv_blas(int use_blas);
int ops_get_f32_gemv_blas(void);
/* Largest m for which linear/linearBackwardInput use the small-m kernels (0: never; negative:
 * the default policy, see ops.c). */
void ops_set_small_m_max(int m);
int ops_get_small_m_max(void);

/* C = alpha·op(A)·op(B) + beta·C, row-major; dimensions > 0, leading dims valid. */
void ops_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc);

/* out[m×n] (+)= x[m×k]·Wᵀ with W n×k. Returns 0, or -1 when scratch memory ran out. */
int ops_linear(const float *x, int m, int ldx, weight_dtype dtype, const void *w, int n, int k, float *out, int ldout,
               int accumulate);

/* dx[m×k] (+)= dy[m×n]·W with W n×k. Returns 0, or -1 when scratch memory ran out. */
int ops_linear_backward_input(const float *dy, int m, int lddy, weight_dtype dtype, const void *w, int n, int k,
                              float *dx, int lddx, int accumulate);

/* dst[0:count] = float(src[0:count]), using the pool for large counts. */
void ops_to_float32(weight_dtype dtype, const void *src, float *dst, size_t count);

/* Fused elementwise kernels (see elementwise.h), threaded over rows for large arrays. */
void ops_exp(const float *src, float *dst, size_t count);
void ops_softmax_rows(float *x, size_t rows, size_t width, const int32_t *from, const int32_t *valid);
void ops_softmax_rows_backward(float *ds, const float *p, size_t rows, size_t width, const int32_t *from,
                               const int32_t *valid, float scale);
void ops_gelu_forward(float *out, const float *x, size_t count);
void ops_gelu_backward(float *dx, const float *dout, const float *x, size_t count);
void ops_swiglu_forward(float *out, const float *gate_up, size_t T, size_t F);
void ops_swiglu_backward(float *dgate_up, const float *dout, const float *gate_up, size_t T, size_t F);
void ops_rms_norm_forward(float *out, float *rstd, const float *x, const float *w, size_t T, size_t C, double eps);
void ops_rms_norm_backward(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                           size_t T, size_t C);

/* Convolution helpers and GroupNorm over channels-last maps (conv.h), threaded over images. */
void ops_im2col(float *col, const float *input, size_t batch, const conv_shape *s);
void ops_col2im_add(float *dinput, const float *col, size_t batch, const conv_shape *s);
void ops_group_norm_forward(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                            size_t N, size_t P, size_t C, size_t G, double eps);
/* Returns 0, or -1 when scratch memory ran out. dw/db may be NULL; they are added to. */
int ops_group_norm_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                            const float *rstd, const float *w, size_t N, size_t P, size_t C, size_t G);

#endif

/* Fused elementwise kernels (elementwise.c): single-threaded over a range of rows; ops.c splits
 * large arrays between threads. Every row is contiguous. */
#ifndef YOLLAVA_ELEMENTWISE_H
#define YOLLAVA_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

/* e^x in float32, relative error ≤ 1e-7 (0 below ≈ -103.3, inf above ≈ 88.7, NaN stays NaN). */
float exp_f32(float x);
void exp_array(const float *src, float *dst, size_t count);

/* out = gelu(x) (exact erf form); out may be x. */
void gelu_forward_array(float *out, const float *x, size_t count);

/* dx += dout·gelu'(x). */
void gelu_backward_array(float *dx, const float *dout, const float *x, size_t count);

/* Row r of x [rows, width]: softmax over columns [from[r], valid[r]), every other column 0. */
void softmax_rows(float *x, size_t width, const int32_t *from, const int32_t *valid, size_t r0, size_t r1);

/* ds = p ⊙ (ds − Σ ds·p)·scale over [from[r], valid[r]) of each row, 0 elsewhere. */
void softmax_rows_backward(float *ds, const float *p, size_t width, const int32_t *from, const int32_t *valid,
                           float scale, size_t r0, size_t r1);

/* gate_up [T, 2F] (gate | up): out [T, F] = silu(gate)·up. */
void swiglu_forward_rows(float *out, const float *gate_up, size_t F, size_t t0, size_t t1);

/* dgate_up [T, 2F] = (dout·up·silu'(gate) | dout·silu(gate)), overwritten. */
void swiglu_backward_rows(float *dgate_up, const float *dout, const float *gate_up, size_t F, size_t t0, size_t t1);

/* out[t] = w ⊙ x[t]·rstd[t], rstd = 1/sqrt(mean(x[t]²) + eps) (rstd may be NULL). */
void rms_norm_forward_rows(float *out, float *rstd, const float *x, const float *w, size_t C, double eps, size_t t0,
                           size_t t1);

/* dx[t] += rstd·(dout·w − x̂·mean(dout·w·x̂)), dw += dout·x̂ (dw may be NULL), x̂ = x·rstd. */
void rms_norm_backward_rows(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                            size_t C, size_t t0, size_t t1);

#endif

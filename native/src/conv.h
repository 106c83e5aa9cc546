/* Convolution helpers and GroupNorm over channels-last maps [N, H, W, C] (conv.c), single-threaded
 * over a range of images; ops.c splits a batch between threads. Same arithmetic as the
 * TypeScript references in src/models/layers/conv2d.ts and groupNorm.ts. */
#ifndef YOLLAVA_CONV_H
#define YOLLAVA_CONV_H

#include <stddef.h>

typedef struct {
  size_t height, width, channels; /* input map */
  size_t kernel, stride, padding;
  size_t out_height, out_width;
} conv_shape;

/* col[rows, k·k·C] of images [n0, n1): the input patch under each output position, tap-major
 * (ky, kx, c), zeros outside the input. Rows of image n start at n·out_height·out_width. */
void im2col_images(float *col, const float *input, const conv_shape *s, size_t n0, size_t n1);

/* dinput += the transpose of im2col, for images [n0, n1). */
void col2im_add_images(float *dinput, const float *col, const conv_shape *s, size_t n0, size_t n1);

/* x [N, P, C], G groups of C/G channels: out = (x − mean)·rstd·w + b per image and group; mean and
 * rstd [N, G] may be NULL. Float64 sums. */
void group_norm_forward_images(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               size_t P, size_t C, size_t G, double eps, size_t n0, size_t n1);

/* dx += d/dx; dw_sum/db_sum (float64 [C], may be NULL) += this range's weight and bias gradients. */
void group_norm_backward_images(float *dx, double *dw_sum, double *db_sum, const float *dout, const float *x,
                                const float *mean, const float *rstd, const float *w, size_t P, size_t C, size_t G,
                                size_t n0, size_t n1);

#endif

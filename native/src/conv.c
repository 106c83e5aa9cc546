/* Convolution helpers and GroupNorm (see conv.h). */
#include "conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* First and last+1 kernel taps of output coordinate `out` that land inside [0, size). */
static void tap_range(size_t out, const conv_shape *s, size_t size, long *origin, size_t *first, size_t *end) {
  long o = (long)(out * s->stride) - (long)s->padding;
  long f = o < 0 ? -o : 0;
  long e = (long)size - o;
  if (e > (long)s->kernel) e = (long)s->kernel;
  if (e < f) e = f;
  *origin = o;
  *first = (size_t)f;
  *end = (size_t)e;
}

void im2col_images(float *col, const float *input, const conv_shape *s, size_t n0, size_t n1) {
  const size_t C = s->channels, k = s->kernel, K = k * k * C;
  const size_t image_size = s->height * s->width * C;
  size_t row = n0 * s->out_height * s->out_width;
  for (size_t n = n0; n < n1; n++) {
    const float *image = input + n * image_size;
    for (size_t oy = 0; oy < s->out_height; oy++) {
      long y0;
      size_t ky_first, ky_end;
      tap_range(oy, s, s->height, &y0, &ky_first, &ky_end);
      for (size_t ox = 0; ox < s->out_width; ox++, row++) {
        float *base = col + row * K;
        long x0;
        size_t kx_first, kx_end;
        tap_range(ox, s, s->width, &x0, &kx_first, &kx_end);
        if (ky_first > 0 || ky_end < k || kx_first > 0 || kx_end < k) memset(base, 0, K * sizeof(float));
        if (kx_end <= kx_first) continue;
        const size_t run = (kx_end - kx_first) * C;
        for (size_t ky = ky_first; ky < ky_end; ky++) {
          const float *src = image + (((size_t)(y0 + (long)ky)) * s->width + (size_t)(x0 + (long)kx_first)) * C;
          memcpy(base + (ky * k + kx_first) * C, src, run * sizeof(float));
        }
      }
    }
  }
}

void col2im_add_images(float *dinput, const float *col, const conv_shape *s, size_t n0, size_t n1) {
  const size_t C = s->channels, k = s->kernel, K = k * k * C;
  const size_t image_size = s->height * s->width * C;
  size_t row = n0 * s->out_height * s->out_width;
  for (size_t n = n0; n < n1; n++) {
    float *image = dinput + n * image_size;
    for (size_t oy = 0; oy < s->out_height; oy++) {
      long y0;
      size_t ky_first, ky_end;
      tap_range(oy, s, s->height, &y0, &ky_first, &ky_end);
      for (size_t ox = 0; ox < s->out_width; ox++, row++) {
        const float *base = col + row * K;
        long x0;
        size_t kx_first, kx_end;
        tap_range(ox, s, s->width, &x0, &kx_first, &kx_end);
        if (kx_end <= kx_first) continue;
        const size_t run = (kx_end - kx_first) * C;
        for (size_t ky = ky_first; ky < ky_end; ky++) {
          float *dst = image + (((size_t)(y0 + (long)ky)) * s->width + (size_t)(x0 + (long)kx_first)) * C;
          const float *src = base + (ky * k + kx_first) * C;
          for (size_t i = 0; i < run; i++) dst[i] += src[i];
        }
      }
    }
  }
}

void group_norm_forward_images(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               size_t P, size_t C, size_t G, double eps, size_t n0, size_t n1) {
  const size_t width = C / G;
  const double count = (double)(P * width);
  double *sum = calloc(4 * C, sizeof(double));
  if (!sum) abort();
  double *sum_squares = sum + C;
  double *scale = sum + 2 * C; /* float64 like the reference: the same rounding */
  double *shift = sum + 3 * C;
  for (size_t n = n0; n < n1; n++) {
    const float *image = x + n * P * C;
    memset(sum, 0, 2 * C * sizeof(double));
    for (size_t p = 0; p < P; p++) {
      const float *row = image + p * C;
      for (size_t c = 0; c < C; c++) {
        const double v = row[c];
        sum[c] += v;
        sum_squares[c] += v * v;
      }
    }
    for (size_t g = 0; g < G; g++) {
      double s = 0, q = 0;
      for (size_t c = g * width; c < (g + 1) * width; c++) { s += sum[c]; q += sum_squares[c]; }
      const double m = s / count;
      double variance = q / count - m * m;
      if (variance < 0) variance = 0;
      const double r = 1 / sqrt(variance + eps);
      if (mean) mean[n * G + g] = (float)m;
      if (rstd) rstd[n * G + g] = (float)r;
      for (size_t c = g * width; c < (g + 1) * width; c++) {
        scale[c] = r * w[c];
        shift[c] = b[c] - m * r * w[c];
      }
    }
    float *o = out + n * P * C;
    for (size_t p = 0; p < P; p++) {
      const float *row = image + p * C;
      float *dst = o + p * C;
      for (size_t c = 0; c < C; c++) dst[c] = (float)(row[c] * scale[c] + shift[c]);
    }
  }
  free(sum);
}

void group_norm_backward_images(float *dx, double *dw_sum, double *db_sum, const float *dout, const float *x,
                                const float *mean, const float *rstd, const float *w, size_t P, size_t C, size_t G,
                                size_t n0, size_t n1) {
  const size_t width = C / G;
  const double count = (double)(P * width);
  double *sum_d = calloc(5 * C, sizeof(double));
  if (!sum_d) abort();
  double *sum_dx = sum_d + C;
  double *a = sum_d + 2 * C, *bb = sum_d + 3 * C, *kk = sum_d + 4 * C;
  for (size_t n = n0; n < n1; n++) {
    const float *xi = x + n * P * C;
    const float *di = dout + n * P * C;
    memset(sum_d, 0, 2 * C * sizeof(double));
    for (size_t p = 0; p < P; p++) {
      const float *xr = xi + p * C;
      const float *dr = di + p * C;
      for (size_t c = 0; c < C; c++) {
        const double d = dr[c];
        sum_d[c] += d;
        sum_dx[c] += d * xr[c];
      }
    }
    for (size_t g = 0; g < G; g++) {
      const double m = mean[n * G + g];
      const double r = rstd[n * G + g];
      double d = 0, dxhat = 0;
      for (size_t c = g * width; c < (g + 1) * width; c++) {
        const double channel_xhat = r * (sum_dx[c] - m * sum_d[c]);
        d += w[c] * sum_d[c];
        dxhat += w[c] * channel_xhat;
        if (dw_sum) dw_sum[c] += channel_xhat;
        if (db_sum) db_sum[c] += sum_d[c];
      }
      const double mean_d = d / count;
      const double mean_dx = dxhat / count;
      for (size_t c = g * width; c < (g + 1) * width; c++) {
        a[c] = r * w[c];
        bb[c] = -r * r * mean_dx;
        kk[c] = r * (m * r * mean_dx - mean_d);
      }
    }
    float *o = dx + n * P * C;
    for (size_t p = 0; p < P; p++) {
      const float *xr = xi + p * C;
      const float *dr = di + p * C;
      float *dst = o + p * C;
      for (size_t c = 0; c < C; c++) dst[c] = (float)(dst[c] + (a[c] * dr[c] + bb[c] * xr[c] + kk[c]));
    }
  }
  free(sum_d);
}

#include "ops.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Declared here too because not every cblas.h declares OpenBLAS's extensions. */
extern void openblas_set_num_threads(int threads);
extern char *openblas_get_config(void);

/* Below these sizes a second thread costs more (waking it, sharing caches) than it saves. */
#define PARALLEL_MIN_WEIGHT_BYTES (256 * 1024)
#define PARALLEL_MIN_WIDEN_BYTES (128 * 1024)

static int thread_count = 1;
static size_t tile_rows_forced = 0; /* 0: tile_rows_for() decides */
static int f32_gemv_blas = 0;

/* One scratch buffer (weight tiles, per-thread partial sums), grown on demand and kept:
 * allocating megabytes per call would page-fault them in again every call. */
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static float *scratch;
static size_t scratch_floats;

static float *scratch_reserve(size_t floats) {
  if (floats <= scratch_floats) return scratch;
  free(scratch);
  scratch_floats = 0;
  /* 64-byte aligned rows help both the widening stores and sgemm's packing */
  const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
  if (posix_memalign((void **)&scratch, 64, bytes) != 0) { scratch = NULL; return NULL; }
  scratch_floats = floats;
  return scratch;
}

void ops_init(void) {
  kernels_init();
  ops_set_threads(1);
}

void ops_set_threads(int threads) {
  if (threads < 1) threads = 1;
  pool_set_threads(threads);
  thread_count = pool_get_threads();
  openblas_set_num_threads(thread_count);
}

int ops_get_threads(void) { return thread_count; }
const char *ops_blas_config(void) { return openblas_get_config(); }
void ops_set_tile_rows(size_t rows) { tile_rows_forced = rows; }
size_t ops_get_tile_rows(void) { return tile_rows_forced; }
void ops_set_f32_gemv_blas(int use_blas) { f32_gemv_blas = use_blas != 0; }
int ops_get_f32_gemv_blas(void) { return f32_gemv_blas; }

/* Items per pool chunk: the whole range (one thread) when the work is small, else chunks of
 * about 64 KiB of weights (many chunks, so that a busy core just takes fewer of them). */
static size_t chunk_for(size_t items, size_t bytes_per_item, size_t minimum_bytes, size_t granule) {
  const size_t total_bytes = items * bytes_per_item;
  if (thread_count <= 1 || total_bytes < minimum_bytes) return items;
  size_t chunk = (64 * 1024) / (bytes_per_item ? bytes_per_item : 1);
  chunk = chunk / granule * granule;
  return chunk < granule ? granule : chunk;
}

/* ---- widening --------------------------------------------------------------------------- */

typedef struct {
  weight_dtype dtype;
  const void *src;
  float *dst;
} widen_job;

static void widen_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const widen_job *job = context;
  widen_to_f32(job->dtype, (const char *)job->src + begin * weight_element_size(job->dtype), job->dst + begin,
               end - begin);
}

void ops_to_float32(weight_dtype dtype, const void *src, float *dst, size_t count) {
  widen_job job = {dtype, src, dst};
  pool_run(widen_chunk, &job, count, chunk_for(count, weight_element_size(dtype), PARALLEL_MIN_WIDEN_BYTES, 64),
           thread_count);
}

/* Widens one weight tile for the sgemm that follows: OpenBLAS's threads take the cores next. */
static void widen_tile(weight_dtype dtype, const void *src, float *dst, size_t count) {
  widen_job job = {dtype, src, dst};
  pool_run_then_sleep(widen_chunk, &job, count,
                      chunk_for(count, weight_element_size(dtype), PARALLEL_MIN_WIDEN_BYTES, 64), thread_count);
}

/* ---- gemv: y = W·x and dx = Wᵀ·dy, split by rows of W ------------------------------------- */

typedef struct {
  weight_dtype dtype;
  const void *w;
  size_t row_stride, cols;
  const float *x;
  float *y;
  int accumulate;
  float *partials; /* gemv_t: one cols-long sum per participant */
} gemv_job;

static void gemv_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const gemv_job *job = context;
  gemv_rows(job->dtype, job->w, job->row_stride, job->cols, job->x, job->y, begin, end, job->accumulate);
}

static void gemv(weight_dtype dtype, const void *w, size_t row_stride, size_t rows, size_t cols, const float *x,
                 float *y, int accumulate) {
  gemv_job job = {dtype, w, row_stride, cols, x, y, accumulate, NULL};
  pool_run(gemv_chunk, &job, rows, chunk_for(rows, cols * weight_element_size(dtype), PARALLEL_MIN_WEIGHT_BYTES, 4),
           thread_count);
}

static void gemv_t_chunk(void *context, size_t begin, size_t end, int participant) {
  const gemv_job *job = context;
  gemv_t_rows(job->dtype, job->w, job->row_stride, job->cols, job->x, job->partials + (size_t)participant * job->cols,
              begin, end);
}

/* y[0:cols] (+)= Wᵀ·x with W rows×cols. Returns -1 if scratch memory ran out. */
static int gemv_t(weight_dtype dtype, const void *w, size_t row_stride, size_t rows, size_t cols, const float *x,
                  float *y, int accumulate) {
  const size_t chunk = chunk_for(rows, cols * weight_element_size(dtype), PARALLEL_MIN_WEIGHT_BYTES, 4);
  if (chunk >= rows) {
    if (!accumulate) memset(y, 0, cols * sizeof(float));
    gemv_t_rows(dtype, w, row_stride, cols, x, y, 0, rows);
    return 0;
  }
  const size_t participants = (size_t)thread_count;
  pthread_mutex_lock(&scratch_lock);
  float *partials = scratch_reserve(participants * cols);
  if (!partials) { pthread_mutex_unlock(&scratch_lock); return -1; }
  memset(partials, 0, participants * cols * sizeof(float));
  gemv_job job = {dtype, w, row_stride, cols, x, y, accumulate, partials};
  pool_run(gemv_t_chunk, &job, rows, chunk, (int)participants);
  for (size_t c = 0; c < cols; c++) {
    float sum = accumulate ? y[c] : 0.0f;
    for (size_t p = 0; p < participants; p++) sum += partials[p * cols + c];
    y[c] = sum;
  }
  pthread_mutex_unlock(&scratch_lock);
  return 0;
}

/* ---- f32 products -------------------------------------------------------------------------- */

static void scale_rows(float *c, int rows, int cols, int ldc, float beta) {
  if (beta == 0.0f) {
    for (int i = 0; i < rows; i++) memset(c + (size_t)i * ldc, 0, (size_t)cols * sizeof(float));
  } else if (beta != 1.0f) {
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) c[(size_t)i * ldc + j] *= beta;
  }
}

/* c[1×n] = alpha·a·op(B) (+ c when beta = 1) with the addon's gemv, which streams B faster than
 * OpenBLAS's sgemv. Returns -1 (nothing done) if it cannot get memory for a scaled copy of a. */
static int gemm_row_by_own_gemv(int trans_a, int trans_b, int n, int k, float alpha, const float *a, int lda,
                                const float *b, int ldb, float beta, float *c) {
  float *scaled = NULL;
  if (alpha != 1.0f || (trans_a && lda != 1)) {
    /* a strided (a column of A) or scaled: gather alpha·a into a contiguous vector */
    scaled = malloc((size_t)k * sizeof(float));
    if (!scaled) return -1;
    const size_t stride = trans_a ? (size_t)lda : 1;
    for (size_t p = 0; p < (size_t)k; p++) scaled[p] = alpha * a[p * stride];
  }
  const float *vector = scaled ? scaled : a;
  const int accumulate = beta == 1.0f;
  int status = 0;
  if (trans_b) gemv(WEIGHT_F32, b, (size_t)ldb, (size_t)n, (size_t)k, vector, c, accumulate); /* B is n×k */
  else status = gemv_t(WEIGHT_F32, b, (size_t)ldb, (size_t)k, (size_t)n, vector, c, accumulate); /* B is k×n */
  free(scaled);
  return status;
}

void ops_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_rows(c, m, n, ldc, beta);
    return;
  }
  if (m == 1 && !f32_gemv_blas && (beta == 0.0f || beta == 1.0f) && gemm_row_by_own_gemv(trans_a, trans_b, n, k, alpha, a, lda, b, ldb, beta, c) == 0)
    return;
  if (m == 1 || n == 1) {
    /* A gemv (sgemm is slow for one row or column). Clear C first for beta = 0: that must
     * overwrite NaN, and sgemv's beta = 0 handling differs between OpenBLAS versions. */
    if (beta == 0.0f) scale_rows(c, m, n, ldc, 0.0f);
    if (m == 1) {
      /* c[1×n] = alpha·a·op(B) + beta·c */
      const int inc_a = trans_a ? lda : 1;
      if (trans_b) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, b, ldb, a, inc_a, beta, c, 1);
      else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, b, ldb, a, inc_a, beta, c, 1);
    } else {
      /* c[m×1] = alpha·op(A)·b + beta·c */
      const int inc_b = trans_b ? 1 : ldb;
      if (trans_a) cblas_sgemv(CblasRowMajor, CblasTrans, k, m, alpha, a, lda, b, inc_b, beta, c, ldc);
      else cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, alpha, a, lda, b, inc_b, beta, c, ldc);
    }
    return;
  }
  /* OpenBLAS's sgemm writes C without reading it when beta = 0 (tested with NaN-filled C). */
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
}

/* ---- linear layers ------------------------------------------------------------------------ */

/* Rows of W per widened tile: about 2 MiB of float32 (it stays in L2/L3 for the sgemm), a
 * multiple of 16, and at least 256 rows, since sgemm on a narrow tile runs far below its peak. */
static size_t tile_rows_for(size_t rows, size_t cols) {
  size_t tile = tile_rows_forced;
  if (tile == 0) {
    tile = ((size_t)2 << 20) / (cols * sizeof(float)) / 16 * 16;
    if (tile < 256) tile = 256;
  }
  return tile < rows ? tile : rows;
}

int ops_linear(const float *x, int m, int ldx, weight_dtype dtype, const void *w, int n, int k, float *out, int ldout,
               int accumulate) {
  if (m == 0 || n == 0) return 0;
  if (k == 0) {
    if (!accumulate) scale_rows(out, m, n, ldout, 0.0f);
    return 0;
  }
  if (m == 1 && (dtype != WEIGHT_F32 || !f32_gemv_blas)) {
    gemv(dtype, w, (size_t)k, (size_t)n, (size_t)k, x, out, accumulate);
    return 0;
  }
  if (dtype == WEIGHT_F32) {
    ops_gemm(0, 1, m, n, k, 1.0f, x, ldx, w, k, accumulate ? 1.0f : 0.0f, out, ldout);
    return 0;
  }
  /* out[:, r0:r0+t] = x · widen(W[r0:r0+t, :])ᵀ, one tile of W at a time. */
  pthread_mutex_lock(&scratch_lock);
  const size_t tile_rows = tile_rows_for((size_t)n, (size_t)k);
  float *tile = scratch_reserve(tile_rows * (size_t)k);
  if (!tile) { pthread_mutex_unlock(&scratch_lock); return -1; }
  const size_t element = weight_element_size(dtype);
  for (size_t r0 = 0; r0 < (size_t)n; r0 += tile_rows) {
    const size_t t = (size_t)n - r0 < tile_rows ? (size_t)n - r0 : tile_rows;
    widen_tile(dtype, (const char *)w + r0 * (size_t)k * element, tile, t * (size_t)k);
    ops_gemm(0, 1, m, (int)t, k, 1.0f, x, ldx, tile, k, accumulate ? 1.0f : 0.0f, out + r0, ldout);
  }
  pthread_mutex_unlock(&scratch_lock);
  return 0;
}

int ops_linear_backward_input(const float *dy, int m, int lddy, weight_dtype dtype, const void *w, int n, int k,
                              float *dx, int lddx, int accumulate) {
  if (m == 0 || k == 0) return 0;
  if (n == 0) {
    if (!accumulate) scale_rows(dx, m, k, lddx, 0.0f);
    return 0;
  }
  if (m == 1 && (dtype != WEIGHT_F32 || !f32_gemv_blas))
    return gemv_t(dtype, w, (size_t)k, (size_t)n, (size_t)k, dy, dx, accumulate);
  if (dtype == WEIGHT_F32) {
    ops_gemm(0, 0, m, k, n, 1.0f, dy, lddy, w, k, accumulate ? 1.0f : 0.0f, dx, lddx);
    return 0;
  }
  /* dx += dy[:, r0:r0+t] · widen(W[r0:r0+t, :]): tiles split the reduction dimension, so that
   * each tile is a contiguous block of W whatever its shape. */
  pthread_mutex_lock(&scratch_lock);
  const size_t tile_rows = tile_rows_for((size_t)n, (size_t)k);
  float *tile = scratch_reserve(tile_rows * (size_t)k);
  if (!tile) { pthread_mutex_unlock(&scratch_lock); return -1; }
  const size_t element = weight_element_size(dtype);
  for (size_t r0 = 0; r0 < (size_t)n; r0 += tile_rows) {
    const size_t t = (size_t)n - r0 < tile_rows ? (size_t)n - r0 : tile_rows;
    widen_tile(dtype, (const char *)w + r0 * (size_t)k * element, tile, t * (size_t)k);
    const float beta = r0 == 0 && !accumulate ? 0.0f : 1.0f;
    ops_gemm(0, 0, m, k, (int)t, 1.0f, dy + r0, lddy, tile, k, beta, dx, lddx);
  }
  pthread_mutex_unlock(&scratch_lock);
  return 0;
}

#include "ops.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.h"
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
/* Whether linear/linearBackwardInput stream W through the small-m kernels instead of calling
 * sgemm (which packs all of W, however few rows x has). Measured on the decoder's shapes
 * (bench/smallM.ts, Zen 4): on one thread the small-m kernels ran at 90–108 GFLOP/s for m = 64,
 * at or above sgemm (76–100), and on two threads of a loaded machine faster still (their row
 * chunks go to whichever thread is running; sgemm splits its work in fixed halves). For f32
 * rows of W longer than 1024 (the MLP's down projection) the backward ran at 74 against sgemm's
 * 80 GFLOP/s for m = 64 on one thread, and at par for m = 48. f16/bf16 weights always gain: sgemm
 * needs them widened first. -1: this policy; otherwise the largest m (0: never). */
static int small_m_max = -1;

static int use_small_m(int m, int k, weight_dtype dtype, int backward) {
  if (m < 2) return 0;
  if (small_m_max >= 0) return m <= small_m_max;
  if (!backward || dtype != WEIGHT_F32 || k <= 1024) return m <= 64;
  return m <= 48;
}

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
void ops_set_small_m_max(int m) { small_m_max = m < 0 ? -1 : m; }
int ops_get_small_m_max(void) { return small_m_max; }
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
  float *partials; /* gemv_t: one cols-long sum per group of rows */
  size_t group_rows;
} gemv_job;

static void gemv_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const gemv_job *job = context;
  gemv_rows(job->dtype, job->w, job->row_stride, job->cols, job->x, job->y, begin, end, job->accumulate);
}

static void gemv(weight_dtype dtype, const void *w, size_t row_stride, size_t rows, size_t cols, const float *x,
                 float *y, int accumulate) {
  gemv_job job = {dtype, w, row_stride, cols, x, y, accumulate, NULL, 0};
  pool_run(gemv_chunk, &job, rows, chunk_for(rows, cols * weight_element_size(dtype), PARALLEL_MIN_WEIGHT_BYTES, 4),
           thread_count);
}

static void gemv_t_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const gemv_job *job = context;
  gemv_t_rows(job->dtype, job->w, job->row_stride, job->cols, job->x,
              job->partials + (begin / job->group_rows) * job->cols, begin, end);
}

/* A sum split between threads is added up per fixed group of rows, not per thread: which
 * thread takes which chunk varies from run to run, and float sums must not (a repeated
 * training step, or pretraining from a seed, gives the same bits). Two groups per thread
 * still let a free core take more of the work. Returns the rows per group (a multiple of
 * granule, at least `chunk`). */
static size_t reduction_group_rows(size_t rows, size_t chunk, size_t granule) {
  const size_t most_groups = 2 * (size_t)thread_count;
  size_t groups = (rows + chunk - 1) / chunk;
  if (groups <= most_groups) return chunk;
  size_t group_rows = (rows + most_groups - 1) / most_groups;
  return (group_rows + granule - 1) / granule * granule;
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
  const size_t group_rows = reduction_group_rows(rows, chunk, 4);
  const size_t groups = (rows + group_rows - 1) / group_rows;
  pthread_mutex_lock(&scratch_lock);
  float *partials = scratch_reserve(groups * cols);
  if (!partials) { pthread_mutex_unlock(&scratch_lock); return -1; }
  memset(partials, 0, groups * cols * sizeof(float));
  gemv_job job = {dtype, w, row_stride, cols, x, y, accumulate, partials, group_rows};
  pool_run(gemv_t_chunk, &job, rows, group_rows, thread_count);
  for (size_t c = 0; c < cols; c++) {
    float sum = accumulate ? y[c] : 0.0f;
    for (size_t g = 0; g < groups; g++) sum += partials[g * cols + c];
    y[c] = sum;
  }
  pthread_mutex_unlock(&scratch_lock);
  return 0;
}

/* ---- small m: W streamed once, split by rows between threads ------------------------------ */

typedef struct {
  weight_dtype dtype;
  const void *w;
  size_t k, m;
  const float *x; /* x, or dy for the backward */
  size_t ldx;
  float *out; /* out, or the per-group partial sums of dx for the backward */
  size_t ldout;
  int accumulate;
  size_t group_rows; /* the backward: rows of W per partial sum */
} small_m_job;

static void small_m_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const small_m_job *job = context;
  small_m_rows(job->dtype, job->w, job->k, job->x, job->ldx, job->m, job->out, job->ldout, begin, end,
               job->accumulate);
}

static void small_m_t_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const small_m_job *job = context;
  small_m_t_rows(job->dtype, job->w, job->k, job->x, job->ldx, job->m,
                 job->out + (begin / job->group_rows) * job->m * job->k, job->k, begin, end);
}

/* Rows of W per chunk: about `bytes` of W, a multiple of 4; all rows when the product is too
 * small for a second thread to pay: under 2^20 multiply-adds, ~20 µs on one core (decode's
 * attention scores, 7 × 600 × 64, took 80 µs split between threads on a loaded machine). */
static size_t small_m_chunk_rows(size_t n, size_t k, size_t m, weight_dtype dtype, size_t bytes) {
  const size_t row_bytes = k * weight_element_size(dtype);
  if (thread_count <= 1 || n * k * m < ((size_t)1 << 20)) return n;
  size_t chunk = bytes / (row_bytes ? row_bytes : 1) / 4 * 4;
  return chunk < 4 ? 4 : chunk;
}

static void small_m_forward(const float *x, size_t m, size_t ldx, weight_dtype dtype, const void *w, size_t n,
                            size_t k, float *out, size_t ldout, int accumulate) {
  small_m_job job = {dtype, w, k, m, x, ldx, out, ldout, accumulate, 0};
  pool_run(small_m_chunk, &job, n, small_m_chunk_rows(n, k, m, dtype, 64 * 1024), thread_count);
}

/* dx[m×k] (+)= dy[m×n]·W: each group of rows of W is summed into its own m×k partial, then
 * the partials are added up in group order. Returns -1 if scratch memory ran out. */
static int small_m_backward(const float *dy, size_t m, size_t lddy, weight_dtype dtype, const void *w, size_t n,
                            size_t k, float *dx, size_t lddx, int accumulate) {
  /* ~512 KiB of W per chunk, 4 blocks of 128 KiB (small_m_t_rows): the 6-row groups of dy
   * re-read a block from L2, and the next block of the chunk is prefetched meanwhile */
  const size_t chunk = small_m_chunk_rows(n, k, m, dtype, 512 * 1024);
  if (chunk >= n) {
    if (!accumulate)
      for (size_t j = 0; j < m; j++) memset(dx + j * lddx, 0, k * sizeof(float));
    small_m_t_rows(dtype, w, k, dy, lddy, m, dx, lddx, 0, n);
    return 0;
  }
  const size_t group_rows = reduction_group_rows(n, chunk, 4);
  const size_t groups = (n + group_rows - 1) / group_rows;
  pthread_mutex_lock(&scratch_lock);
  float *partials = scratch_reserve(groups * m * k);
  if (!partials) { pthread_mutex_unlock(&scratch_lock); return -1; }
  memset(partials, 0, groups * m * k * sizeof(float));
  small_m_job job = {dtype, w, k, m, dy, lddy, partials, k, 0, group_rows};
  pool_run(small_m_t_chunk, &job, n, group_rows, thread_count);
  for (size_t j = 0; j < m; j++) {
    float *row = dx + j * lddx;
    const float *first = partials + j * k;
    for (size_t c = 0; c < k; c++) {
      float sum = accumulate ? row[c] + first[c] : first[c];
      for (size_t g = 1; g < groups; g++) sum += first[g * m * k + c];
      row[c] = sum;
    }
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
  /* A few rows against a long B stored n×k (attention scores while decoding: 7 query heads of a
   * group against every cached key): sgemm would pack all of B for them. */
  if (!trans_a && trans_b && use_small_m(m, k, WEIGHT_F32, 0) && n >= 16 && ldb == k && (beta == 0.0f || beta == 1.0f)) {
    float *scaled = NULL;
    if (alpha != 1.0f) {
      scaled = malloc((size_t)m * (size_t)k * sizeof(float));
      if (scaled)
        for (size_t i = 0; i < (size_t)m; i++)
          for (size_t p = 0; p < (size_t)k; p++) scaled[i * k + p] = alpha * a[i * (size_t)lda + p];
    }
    if (scaled || alpha == 1.0f) {
      small_m_forward(scaled ? scaled : a, (size_t)m, scaled ? (size_t)k : (size_t)lda, WEIGHT_F32, b, (size_t)n,
                      (size_t)k, c, (size_t)ldc, beta == 1.0f);
      free(scaled);
      return;
    }
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
  if (use_small_m(m, k, dtype, 0)) {
    small_m_forward(x, (size_t)m, (size_t)ldx, dtype, w, (size_t)n, (size_t)k, out, (size_t)ldout, accumulate);
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
  if (use_small_m(m, k, dtype, 1))
    return small_m_backward(dy, (size_t)m, (size_t)lddy, dtype, w, (size_t)n, (size_t)k, dx, (size_t)lddx, accumulate);
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

/* ---- fused elementwise kernels, rows split between threads ------------------------------- */

/* Below this many elements a second thread costs more than it saves: splitting the step's
 * 448×664 attention softmax saved nothing on a loaded machine and slowed the sgemm after it
 * (57 against 75 GFLOP/s: half of its rows were in the other core's cache). Prefill-sized arrays
 * (600 tokens: 2.5M scores per KV group) and the cross-entropy rows still split. */
#define PARALLEL_MIN_ELEMENTS (1 << 20)

/* Rows per chunk: all of them for small arrays, else about 16K elements. */
static size_t rows_chunk(size_t rows, size_t row_elements) {
  if (thread_count <= 1 || rows * row_elements < PARALLEL_MIN_ELEMENTS) return rows;
  const size_t chunk = 16384 / (row_elements ? row_elements : 1);
  return chunk ? chunk : 1;
}

typedef struct {
  float *out;
  const float *a, *b, *c;
  float *extra;
  const int32_t *from, *valid;
  size_t width;
  float scale;
  double eps;
} rows_job;

/* The workers sleep after these runs: an OpenBLAS product usually follows, and a spinning
 * worker would take a core from its threads. */
static void run_rows(pool_task task, rows_job *job, size_t rows) {
  pool_run_then_sleep(task, job, rows, rows_chunk(rows, job->width), thread_count);
}

static void exp_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  exp_array(job->a + begin, job->out + begin, end - begin);
}

void ops_exp(const float *src, float *dst, size_t count) {
  rows_job job = {dst, src, NULL, NULL, NULL, NULL, NULL, 1, 0, 0};
  run_rows(exp_chunk, &job, count);
}

static void gelu_forward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  gelu_forward_array(job->out + begin, job->a + begin, end - begin);
}

void ops_gelu_forward(float *out, const float *x, size_t count) {
  rows_job job = {out, x, NULL, NULL, NULL, NULL, NULL, 1, 0, 0};
  run_rows(gelu_forward_chunk, &job, count);
}

static void gelu_backward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  gelu_backward_array(job->out + begin, job->a + begin, job->b + begin, end - begin);
}

void ops_gelu_backward(float *dx, const float *dout, const float *x, size_t count) {
  rows_job job = {dx, dout, x, NULL, NULL, NULL, NULL, 1, 0, 0};
  run_rows(gelu_backward_chunk, &job, count);
}

static void softmax_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  softmax_rows(job->out, job->width, job->from, job->valid, begin, end);
}

void ops_softmax_rows(float *x, size_t rows, size_t width, const int32_t *from, const int32_t *valid) {
  rows_job job = {x, NULL, NULL, NULL, NULL, from, valid, width, 0, 0};
  run_rows(softmax_chunk, &job, rows);
}

static void softmax_backward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  softmax_rows_backward(job->out, job->a, job->width, job->from, job->valid, job->scale, begin, end);
}

void ops_softmax_rows_backward(float *ds, const float *p, size_t rows, size_t width, const int32_t *from,
                               const int32_t *valid, float scale) {
  rows_job job = {ds, p, NULL, NULL, NULL, from, valid, width, scale, 0};
  run_rows(softmax_backward_chunk, &job, rows);
}

static void swiglu_forward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  swiglu_forward_rows(job->out, job->a, job->width, begin, end);
}

void ops_swiglu_forward(float *out, const float *gate_up, size_t T, size_t F) {
  rows_job job = {out, gate_up, NULL, NULL, NULL, NULL, NULL, F, 0, 0};
  run_rows(swiglu_forward_chunk, &job, T);
}

static void swiglu_backward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  swiglu_backward_rows(job->out, job->a, job->b, job->width, begin, end);
}

void ops_swiglu_backward(float *dgate_up, const float *dout, const float *gate_up, size_t T, size_t F) {
  rows_job job = {dgate_up, dout, gate_up, NULL, NULL, NULL, NULL, F, 0, 0};
  run_rows(swiglu_backward_chunk, &job, T);
}

static void rms_forward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  rms_norm_forward_rows(job->out, job->extra, job->a, job->b, job->width, job->eps, begin, end);
}

void ops_rms_norm_forward(float *out, float *rstd, const float *x, const float *w, size_t T, size_t C, double eps) {
  rows_job job = {out, x, w, NULL, rstd, NULL, NULL, C, 0, eps};
  run_rows(rms_forward_chunk, &job, T);
}

static void rms_backward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const rows_job *job = context;
  rms_norm_backward_rows(job->out, NULL, job->a, job->b, job->c, job->extra, job->width, begin, end);
}

void ops_rms_norm_backward(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                           size_t T, size_t C) {
  /* dw sums over rows: one thread then (T·C is small wherever weight gradients are taken) */
  if (dw) { rms_norm_backward_rows(dx, dw, dout, x, rstd, w, C, 0, T); return; }
  rows_job job = {dx, dout, x, rstd, (float *)w, NULL, NULL, C, 0, 0};
  run_rows(rms_backward_chunk, &job, T);
}

/* ---- convolution helpers and GroupNorm, threaded over the images of a batch ---------------- */

typedef struct {
  float *out;
  const float *in;
  const conv_shape *shape;
} conv_job;

/* Images per chunk: all of them when the batch is small, else enough for ~64K values each. */
static size_t images_chunk(size_t images, size_t image_elements) {
  if (thread_count <= 1 || images * image_elements < (1 << 16)) return images;
  const size_t chunk = 65536 / (image_elements ? image_elements : 1);
  return chunk ? chunk : 1;
}

static void im2col_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const conv_job *job = context;
  im2col_images(job->out, job->in, job->shape, begin, end);
}

static void col2im_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const conv_job *job = context;
  col2im_add_images(job->out, job->in, job->shape, begin, end);
}

/* One of the two over the images of a batch (each image's rows of col are its own). */
static void run_conv_images(pool_task task, float *out, const float *in, size_t batch, const conv_shape *s) {
  conv_job job = {out, in, s};
  const size_t per_image = s->out_height * s->out_width * s->kernel * s->kernel * s->channels;
  pool_run_then_sleep(task, &job, batch, images_chunk(batch, per_image), thread_count);
}

void ops_im2col(float *col, const float *input, size_t batch, const conv_shape *s) {
  run_conv_images(im2col_chunk, col, input, batch, s);
}

void ops_col2im_add(float *dinput, const float *col, size_t batch, const conv_shape *s) {
  run_conv_images(col2im_chunk, dinput, col, batch, s);
}

typedef struct {
  float *out, *mean, *rstd;
  const float *x, *w, *b, *dout;
  double *partials; /* backward: per participant, dw [C] then db [C] */
  int want_dw, want_db;
  size_t P, C, G;
  double eps;
} group_norm_job;

static void group_norm_forward_chunk(void *context, size_t begin, size_t end, int participant) {
  (void)participant;
  const group_norm_job *job = context;
  group_norm_forward_images(job->out, job->mean, job->rstd, job->x, job->w, job->b, job->P, job->C, job->G, job->eps,
                            begin, end);
}

void ops_group_norm_forward(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                            size_t N, size_t P, size_t C, size_t G, double eps) {
  group_norm_job job = {out, mean, rstd, x, w, b, NULL, NULL, 0, 0, P, C, G, eps};
  pool_run_then_sleep(group_norm_forward_chunk, &job, N, images_chunk(N, P * C), thread_count);
}

static void group_norm_backward_chunk(void *context, size_t begin, size_t end, int participant) {
  const group_norm_job *job = context;
  double *dw = job->want_dw ? job->partials + (size_t)participant * 2 * job->C : NULL;
  double *db = job->want_db ? job->partials + (size_t)participant * 2 * job->C + job->C : NULL;
  group_norm_backward_images(job->out, dw, db, job->dout, job->x, job->mean, job->rstd, job->w, job->P, job->C, job->G,
                             begin, end);
}

int ops_group_norm_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                            const float *rstd, const float *w, size_t N, size_t P, size_t C, size_t G) {
  const int threads = thread_count > 0 ? thread_count : 1;
  double *partials = calloc((size_t)threads * 2 * C, sizeof(double));
  if (!partials) return -1;
  group_norm_job job = {dx, (float *)mean, (float *)rstd, x, w, NULL, dout, partials, dw != NULL, db != NULL, P, C, G, 0};
  pool_run_then_sleep(group_norm_backward_chunk, &job, N, images_chunk(N, P * C), threads);
  /* The images' sums in participant order; the reference sums image by image, so the last
   * bits of dw/db may differ from it (not dx). */
  for (size_t c = 0; c < C; c++) {
    double sw = 0, sb = 0;
    for (int t = 0; t < threads; t++) {
      sw += partials[(size_t)t * 2 * C + c];
      sb += partials[(size_t)t * 2 * C + C + c];
    }
    if (dw) dw[c] = (float)(dw[c] + sw);
    if (db) db[c] = (float)(db[c] + sb);
  }
  free(partials);
  return 0;
}

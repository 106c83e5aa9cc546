/* N-API entry points. Every argument is checked here before any pointer is touched: a bad
 * call throws a TypeError or RangeError naming the function and the argument, never crashes
 * or writes outside the arrays it was given. */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

#define MAX_ARGS 16

/* ---- errors ----------------------------------------------------------------------------- */

static void throw_error(napi_env env, bool range, const char *op, const char *format, ...) {
  char message[512];
  int used = snprintf(message, sizeof message, "%s: ", op);
  va_list args;
  va_start(args, format);
  vsnprintf(message + used, sizeof message - (size_t)used, format, args);
  va_end(args);
  if (range) napi_throw_range_error(env, "ERR_YOLLAVA_KERNEL_ARGUMENT", message);
  else napi_throw_type_error(env, "ERR_YOLLAVA_KERNEL_ARGUMENT", message);
}
#define TYPE_ERROR(env, op, ...) (throw_error((env), false, (op), __VA_ARGS__), false)
#define RANGE_ERROR(env, op, ...) (throw_error((env), true, (op), __VA_ARGS__), false)

/* ---- argument readers: each returns false after throwing ----------------------------------- */

typedef struct {
  napi_env env;
  const char *op;
  size_t argc;
  napi_value argv[MAX_ARGS];
} call;

static bool read_call(napi_env env, napi_callback_info info, const char *op, size_t expected, call *out) {
  out->env = env;
  out->op = op;
  out->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &out->argc, out->argv, NULL, NULL) != napi_ok)
    return TYPE_ERROR(env, op, "could not read the arguments");
  if (out->argc < expected) return TYPE_ERROR(env, op, "expected %zu arguments, got %zu", expected, out->argc);
  return true;
}

static bool read_bool(call *c, size_t index, const char *name, bool *out) {
  napi_valuetype type;
  napi_typeof(c->env, c->argv[index], &type);
  if (type != napi_boolean) return TYPE_ERROR(c->env, c->op, "%s must be a boolean", name);
  napi_get_value_bool(c->env, c->argv[index], out);
  return true;
}

static bool read_number(call *c, size_t index, const char *name, double *out) {
  napi_valuetype type;
  napi_typeof(c->env, c->argv[index], &type);
  if (type != napi_number) return TYPE_ERROR(c->env, c->op, "%s must be a number", name);
  napi_get_value_double(c->env, c->argv[index], out);
  return true;
}

/* An integer in [minimum, INT32_MAX]: BLAS takes 32-bit sizes. */
static bool read_int(call *c, size_t index, const char *name, int minimum, int *out) {
  double value;
  if (!read_number(c, index, name, &value)) return false;
  if (!isfinite(value) || floor(value) != value)
    return RANGE_ERROR(c->env, c->op, "%s must be an integer, got %g", name, value);
  if (value < minimum || value > INT32_MAX)
    return RANGE_ERROR(c->env, c->op, "%s must be in [%d, %d], got %.0f", name, minimum, INT32_MAX, value);
  *out = (int)value;
  return true;
}

typedef struct {
  void *data;
  size_t length; /* elements */
  size_t element_size;
} array_view;

static bool read_typed_array(call *c, size_t index, const char *name, napi_typedarray_type wanted,
                             const char *wanted_name, array_view *out) {
  bool is_typed_array = false;
  napi_is_typedarray(c->env, c->argv[index], &is_typed_array);
  if (!is_typed_array) return TYPE_ERROR(c->env, c->op, "%s must be a %s", name, wanted_name);
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(c->env, c->argv[index], &type, &length, &data, NULL, NULL) != napi_ok)
    return TYPE_ERROR(c->env, c->op, "%s: could not read the typed array", name);
  if (type != wanted) return TYPE_ERROR(c->env, c->op, "%s must be a %s", name, wanted_name);
  out->data = data;
  out->length = data ? length : 0; /* a detached buffer has no data */
  out->element_size = wanted == napi_float32_array || wanted == napi_int32_array ? 4 : 2;
  return true;
}

static bool read_f32_array(call *c, size_t index, const char *name, array_view *out) {
  return read_typed_array(c, index, name, napi_float32_array, "Float32Array", out);
}

static bool read_dtype(call *c, size_t index, const char *name, weight_dtype *out) {
  napi_valuetype type;
  napi_typeof(c->env, c->argv[index], &type);
  char text[8] = {0};
  size_t length = 0;
  if (type == napi_string) napi_get_value_string_utf8(c->env, c->argv[index], text, sizeof text, &length);
  if (strcmp(text, "f32") == 0) *out = WEIGHT_F32;
  else if (strcmp(text, "f16") == 0) *out = WEIGHT_F16;
  else if (strcmp(text, "bf16") == 0) *out = WEIGHT_BF16;
  else return TYPE_ERROR(c->env, c->op, "%s must be 'f32', 'f16' or 'bf16'", name);
  return true;
}

/* Weight data for a dtype: Float32Array for f32, Uint16Array (raw bit patterns) otherwise. */
static bool read_weight_array(call *c, size_t index, const char *name, weight_dtype dtype, array_view *out) {
  if (dtype == WEIGHT_F32) return read_typed_array(c, index, name, napi_float32_array, "Float32Array for dtype f32", out);
  return read_typed_array(c, index, name, napi_uint16_array,
                          dtype == WEIGHT_BF16 ? "Uint16Array for dtype bf16" : "Uint16Array for dtype f16", out);
}

/* ---- shapes ------------------------------------------------------------------------------- */

/* A row-major matrix view: rows × cols elements, rows `stride` elements apart. */
typedef struct {
  const char *name;
  array_view array;
  size_t rows, cols, stride;
} matrix_view;

static size_t elements_needed(const matrix_view *v) {
  if (v->rows == 0 || v->cols == 0) return 0;
  return (v->rows - 1) * v->stride + v->cols;
}

/* Checks stride >= cols (and >= 1, as BLAS wants) and that the array holds the view. */
static bool check_view(call *c, const matrix_view *v, const char *stride_name) {
  const size_t minimum_stride = v->cols > 1 ? v->cols : 1;
  if (v->stride < minimum_stride)
    return RANGE_ERROR(c->env, c->op, "%s must be at least %zu for %s (%zu×%zu), got %zu", stride_name, minimum_stride,
                       v->name, v->rows, v->cols, v->stride);
  const size_t needed = elements_needed(v);
  if (v->array.length < needed)
    return RANGE_ERROR(c->env, c->op, "%s is too short: %zu×%zu with %s = %zu needs %zu elements, it has %zu", v->name,
                       v->rows, v->cols, stride_name, v->stride, needed, v->array.length);
  return true;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* Whether any element of view `a` shares memory with an element of view `b` (exact, also for
 * interleaved views of one buffer: column-disjoint heads of a [T, H·D] array do not overlap). */
static bool views_overlap(const matrix_view *a, const matrix_view *b) {
  const size_t needed_a = elements_needed(a), needed_b = elements_needed(b);
  if (needed_a == 0 || needed_b == 0) return false;
  const uintptr_t a_begin = (uintptr_t)a->array.data, a_end = a_begin + needed_a * a->array.element_size;
  const uintptr_t b_begin = (uintptr_t)b->array.data, b_end = b_begin + needed_b * b->array.element_size;
  if (a_end <= b_begin || b_end <= a_begin) return false;
  /* The spans meet: test each row of a against b's rows, in bytes relative to b's start. */
  const int64_t b_row_bytes = (int64_t)(b->cols * b->array.element_size);
  const int64_t b_stride_bytes = (int64_t)(b->stride * b->array.element_size);
  for (size_t r = 0; r < a->rows; r++) {
    const int64_t start = (int64_t)(a_begin + r * a->stride * a->array.element_size) - (int64_t)b_begin;
    const int64_t end = start + (int64_t)(a->cols * a->array.element_size);
    /* rows i of b with i·stride < end and i·stride + row_bytes > start */
    int64_t first = floor_div(start - b_row_bytes, b_stride_bytes) + 1;
    int64_t last = floor_div(end - 1, b_stride_bytes);
    if (first < 0) first = 0;
    if (last > (int64_t)b->rows - 1) last = (int64_t)b->rows - 1;
    if (first <= last) return true;
  }
  return false;
}

static bool check_no_overlap(call *c, const matrix_view *output, const matrix_view *input) {
  if (views_overlap(output, input))
    return RANGE_ERROR(c->env, c->op, "%s must not share memory with %s", output->name, input->name);
  return true;
}

static napi_value undefined_value(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

/* ---- entry points ------------------------------------------------------------------------- */

/* gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) */
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  call c;
  bool trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
  double alpha, beta;
  array_view a, b, out;
  if (!read_call(env, info, "gemm", 13, &c) || !read_bool(&c, 0, "transA", &trans_a) ||
      !read_bool(&c, 1, "transB", &trans_b) || !read_int(&c, 2, "m", 0, &m) || !read_int(&c, 3, "n", 0, &n) ||
      !read_int(&c, 4, "k", 0, &k) || !read_number(&c, 5, "alpha", &alpha) || !read_f32_array(&c, 6, "a", &a) ||
      !read_int(&c, 7, "lda", 1, &lda) || !read_f32_array(&c, 8, "b", &b) || !read_int(&c, 9, "ldb", 1, &ldb) ||
      !read_number(&c, 10, "beta", &beta) || !read_f32_array(&c, 11, "c", &out) || !read_int(&c, 12, "ldc", 1, &ldc))
    return NULL;
  /* the matrices as stored: op(A) is m×k, so A is k×m when transposed */
  const matrix_view view_a = {"a", a, trans_a ? k : m, trans_a ? m : k, lda};
  const matrix_view view_b = {"b", b, trans_b ? n : k, trans_b ? k : n, ldb};
  const matrix_view view_c = {"c", out, m, n, ldc};
  if (!check_view(&c, &view_a, "lda") || !check_view(&c, &view_b, "ldb") || !check_view(&c, &view_c, "ldc") ||
      !check_no_overlap(&c, &view_c, &view_a) || !check_no_overlap(&c, &view_c, &view_b))
    return NULL;
  ops_gemm(trans_a, trans_b, m, n, k, (float)alpha, a.data, lda, b.data, ldb, (float)beta, out.data, ldc);
  return undefined_value(env);
}

/* The weight matrix arguments shared by linear and linearBackwardInput: data, dtype, rows, cols. */
static bool read_weight(call *c, size_t first, weight_dtype *dtype, matrix_view *w) {
  int rows, cols;
  array_view data;
  if (!read_dtype(c, first + 1, "w.dtype", dtype) || !read_weight_array(c, first, "w.data", *dtype, &data) ||
      !read_int(c, first + 2, "w.rows", 0, &rows) || !read_int(c, first + 3, "w.cols", 0, &cols))
    return false;
  *w = (matrix_view){"w.data", data, (size_t)rows, (size_t)cols, cols > 1 ? (size_t)cols : 1};
  /* the whole matrix must be there: rows × cols, not just (rows-1)·cols + cols */
  return check_view(c, w, "w.cols");
}

/* linear(x, m, wData, wDtype, wRows, wCols, out, accumulate, ldx, ldout) */
static napi_value js_linear(napi_env env, napi_callback_info info) {
  call c;
  int m, ldx, ldout;
  weight_dtype dtype;
  matrix_view w;
  array_view x, out;
  bool accumulate;
  if (!read_call(env, info, "linear", 10, &c) || !read_f32_array(&c, 0, "x", &x) || !read_int(&c, 1, "m", 0, &m) ||
      !read_weight(&c, 2, &dtype, &w) || !read_f32_array(&c, 6, "out", &out) ||
      !read_bool(&c, 7, "accumulate", &accumulate) || !read_int(&c, 8, "ldx", 1, &ldx) ||
      !read_int(&c, 9, "ldout", 1, &ldout))
    return NULL;
  const matrix_view view_x = {"x", x, (size_t)m, w.cols, (size_t)ldx};
  const matrix_view view_out = {"out", out, (size_t)m, w.rows, (size_t)ldout};
  if (!check_view(&c, &view_x, "ldx") || !check_view(&c, &view_out, "ldout") ||
      !check_no_overlap(&c, &view_out, &view_x) || !check_no_overlap(&c, &view_out, &w))
    return NULL;
  if (ops_linear(x.data, m, ldx, dtype, w.array.data, (int)w.rows, (int)w.cols, out.data, ldout, accumulate) != 0) {
    napi_throw_error(env, "ERR_YOLLAVA_KERNEL_MEMORY", "linear: out of memory for a weight tile");
    return NULL;
  }
  return undefined_value(env);
}

/* linearBackwardInput(dy, m, wData, wDtype, wRows, wCols, dx, accumulate, lddy, lddx) */
static napi_value js_linear_backward_input(napi_env env, napi_callback_info info) {
  call c;
  int m, lddy, lddx;
  weight_dtype dtype;
  matrix_view w;
  array_view dy, dx;
  bool accumulate;
  if (!read_call(env, info, "linearBackwardInput", 10, &c) || !read_f32_array(&c, 0, "dy", &dy) ||
      !read_int(&c, 1, "m", 0, &m) || !read_weight(&c, 2, &dtype, &w) || !read_f32_array(&c, 6, "dx", &dx) ||
      !read_bool(&c, 7, "accumulate", &accumulate) || !read_int(&c, 8, "lddy", 1, &lddy) ||
      !read_int(&c, 9, "lddx", 1, &lddx))
    return NULL;
  const matrix_view view_dy = {"dy", dy, (size_t)m, w.rows, (size_t)lddy};
  const matrix_view view_dx = {"dx", dx, (size_t)m, w.cols, (size_t)lddx};
  if (!check_view(&c, &view_dy, "lddy") || !check_view(&c, &view_dx, "lddx") ||
      !check_no_overlap(&c, &view_dx, &view_dy) || !check_no_overlap(&c, &view_dx, &w))
    return NULL;
  if (ops_linear_backward_input(dy.data, m, lddy, dtype, w.array.data, (int)w.rows, (int)w.cols, dx.data, lddx,
                                accumulate) != 0) {
    napi_throw_error(env, "ERR_YOLLAVA_KERNEL_MEMORY", "linearBackwardInput: out of memory for a weight tile");
    return NULL;
  }
  return undefined_value(env);
}

/* toFloat32(src, dtype, dst): dst.length values */
static napi_value js_to_float32(napi_env env, napi_callback_info info) {
  call c;
  weight_dtype dtype;
  array_view src, dst;
  if (!read_call(env, info, "toFloat32", 3, &c) || !read_dtype(&c, 1, "dtype", &dtype) ||
      !read_weight_array(&c, 0, "src", dtype, &src) || !read_f32_array(&c, 2, "dst", &dst))
    return NULL;
  if (src.length < dst.length)
    { throw_error(env, true, "toFloat32", "src has %zu elements, dst wants %zu", src.length, dst.length); return NULL; }
  const matrix_view view_src = {"src", src, 1, dst.length, dst.length};
  const matrix_view view_dst = {"dst", dst, 1, dst.length, dst.length};
  if (!check_no_overlap(&c, &view_dst, &view_src)) return NULL;
  if (dtype == WEIGHT_F32) memmove(dst.data, src.data, dst.length * sizeof(float));
  else ops_to_float32(dtype, src.data, dst.data, dst.length);
  return undefined_value(env);
}

/* ---- fused elementwise kernels ----------------------------------------------------------------- */

/* A contiguous run of `count` elements of an array, as a one-row view (for length and overlap checks). */
static matrix_view span(const char *name, array_view array, size_t count) {
  return (matrix_view){name, array, count ? 1 : 0, count, count ? count : 1};
}

static bool check_length(call *c, const matrix_view *v, const char *what) {
  if (v->array.length < v->cols)
    return RANGE_ERROR(c->env, c->op, "%s is too short: %s needs %zu elements, it has %zu", v->name, what, v->cols,
                       v->array.length);
  return true;
}

/* A Float32Array, or null/undefined (out->data = NULL). */
static bool read_optional_f32_array(call *c, size_t index, const char *name, array_view *out) {
  napi_valuetype type;
  napi_typeof(c->env, c->argv[index], &type);
  if (type == napi_null || type == napi_undefined) { *out = (array_view){NULL, 0, 4}; return true; }
  return read_typed_array(c, index, name, napi_float32_array, "Float32Array or null", out);
}

/* Distinct arrays among the given views must not share memory; `first_outputs` views are outputs. */
static bool check_disjoint(call *c, const matrix_view *views, size_t count, size_t outputs) {
  for (size_t o = 0; o < outputs; o++) {
    if (!views[o].array.data) continue;
    for (size_t i = 0; i < count; i++) {
      if (i == o || !views[i].array.data) continue;
      if (!check_no_overlap(c, &views[o], &views[i])) return false;
    }
  }
  return true;
}

/* exp(src, dst): dst.length values of e^src (dst may be src itself, not a shifted view of it). */
static napi_value js_exp(napi_env env, napi_callback_info info) {
  call c;
  array_view src, dst;
  if (!read_call(env, info, "exp", 2, &c) || !read_f32_array(&c, 0, "src", &src) || !read_f32_array(&c, 1, "dst", &dst))
    return NULL;
  const matrix_view views[2] = {span("dst", dst, dst.length), span("src", src, dst.length)};
  if (!check_length(&c, &views[1], "dst.length")) return NULL;
  if (src.data != dst.data && !check_no_overlap(&c, &views[0], &views[1])) return NULL;
  ops_exp(src.data, dst.data, dst.length);
  return undefined_value(env);
}

/* geluForward(out, x, count): out may be x. */
static napi_value js_gelu_forward(napi_env env, napi_callback_info info) {
  call c;
  array_view out, x;
  int count;
  if (!read_call(env, info, "geluForward", 3, &c) || !read_f32_array(&c, 0, "out", &out) ||
      !read_f32_array(&c, 1, "x", &x) || !read_int(&c, 2, "count", 0, &count))
    return NULL;
  const matrix_view views[2] = {span("out", out, (size_t)count), span("x", x, (size_t)count)};
  if (!check_length(&c, &views[0], "count") || !check_length(&c, &views[1], "count")) return NULL;
  if (out.data != x.data && !check_no_overlap(&c, &views[0], &views[1])) return NULL;
  ops_gelu_forward(out.data, x.data, (size_t)count);
  return undefined_value(env);
}

/* geluBackward(dx, dout, x, count): dx += dout·gelu'(x). */
static napi_value js_gelu_backward(napi_env env, napi_callback_info info) {
  call c;
  array_view dx, dout, x;
  int count;
  if (!read_call(env, info, "geluBackward", 4, &c) || !read_f32_array(&c, 0, "dx", &dx) ||
      !read_f32_array(&c, 1, "dout", &dout) || !read_f32_array(&c, 2, "x", &x) || !read_int(&c, 3, "count", 0, &count))
    return NULL;
  const matrix_view views[3] = {span("dx", dx, (size_t)count), span("dout", dout, (size_t)count), span("x", x, (size_t)count)};
  if (!check_length(&c, &views[0], "count") || !check_length(&c, &views[1], "count") || !check_length(&c, &views[2], "count") ||
      !check_disjoint(&c, views, 3, 1))
    return NULL;
  ops_gelu_backward(dx.data, dout.data, x.data, (size_t)count);
  return undefined_value(env);
}

/* from/valid: Int32Arrays of ≥ rows entries, each in [0, width]. */
static bool read_row_ranges(call *c, size_t index, int rows, int width, array_view *from, array_view *valid) {
  if (!read_typed_array(c, index, "from", napi_int32_array, "Int32Array", from) ||
      !read_typed_array(c, index + 1, "valid", napi_int32_array, "Int32Array", valid))
    return false;
  if (from->length < (size_t)rows) return RANGE_ERROR(c->env, c->op, "from has %zu entries, rows = %d", from->length, rows);
  if (valid->length < (size_t)rows) return RANGE_ERROR(c->env, c->op, "valid has %zu entries, rows = %d", valid->length, rows);
  const int32_t *f = from->data, *v = valid->data;
  for (int r = 0; r < rows; r++) {
    if (f[r] < 0 || f[r] > width) return RANGE_ERROR(c->env, c->op, "from[%d] = %d is outside [0, %d]", r, f[r], width);
    if (v[r] < 0 || v[r] > width) return RANGE_ERROR(c->env, c->op, "valid[%d] = %d is outside [0, %d]", r, v[r], width);
  }
  return true;
}

/* softmaxRows(x, rows, width, from, valid) */
static napi_value js_softmax_rows(napi_env env, napi_callback_info info) {
  call c;
  array_view x, from, valid;
  int rows, width;
  if (!read_call(env, info, "softmaxRows", 5, &c) || !read_f32_array(&c, 0, "x", &x) ||
      !read_int(&c, 1, "rows", 0, &rows) || !read_int(&c, 2, "width", 0, &width) ||
      !read_row_ranges(&c, 3, rows, width, &from, &valid))
    return NULL;
  const matrix_view view = {"x", x, (size_t)rows, (size_t)width, (size_t)width ? (size_t)width : 1};
  if (!check_view(&c, &view, "width")) return NULL;
  ops_softmax_rows(x.data, (size_t)rows, (size_t)width, from.data, valid.data);
  return undefined_value(env);
}

/* softmaxRowsBackward(dScores, probs, rows, width, from, valid, scale) */
static napi_value js_softmax_rows_backward(napi_env env, napi_callback_info info) {
  call c;
  array_view ds, p, from, valid;
  int rows, width;
  double scale;
  if (!read_call(env, info, "softmaxRowsBackward", 7, &c) || !read_f32_array(&c, 0, "dScores", &ds) ||
      !read_f32_array(&c, 1, "probs", &p) || !read_int(&c, 2, "rows", 0, &rows) ||
      !read_int(&c, 3, "width", 0, &width) || !read_row_ranges(&c, 4, rows, width, &from, &valid) ||
      !read_number(&c, 6, "scale", &scale))
    return NULL;
  const size_t count = (size_t)rows * (size_t)width;
  const matrix_view views[2] = {span("dScores", ds, count), span("probs", p, count)};
  if (!check_length(&c, &views[0], "rows×width") || !check_length(&c, &views[1], "rows×width") ||
      !check_disjoint(&c, views, 2, 1))
    return NULL;
  ops_softmax_rows_backward(ds.data, p.data, (size_t)rows, (size_t)width, from.data, valid.data, (float)scale);
  return undefined_value(env);
}

/* swigluForward(out, gateUp, T, F) */
static napi_value js_swiglu_forward(napi_env env, napi_callback_info info) {
  call c;
  array_view out, gate_up;
  int T, F;
  if (!read_call(env, info, "swigluForward", 4, &c) || !read_f32_array(&c, 0, "out", &out) ||
      !read_f32_array(&c, 1, "gateUp", &gate_up) || !read_int(&c, 2, "T", 0, &T) || !read_int(&c, 3, "F", 0, &F))
    return NULL;
  const matrix_view views[2] = {span("out", out, (size_t)T * F), span("gateUp", gate_up, (size_t)T * 2 * F)};
  if (!check_length(&c, &views[0], "T×F") || !check_length(&c, &views[1], "T×2F") || !check_disjoint(&c, views, 2, 1))
    return NULL;
  ops_swiglu_forward(out.data, gate_up.data, (size_t)T, (size_t)F);
  return undefined_value(env);
}

/* swigluBackward(dGateUp, dOut, gateUp, T, F) */
static napi_value js_swiglu_backward(napi_env env, napi_callback_info info) {
  call c;
  array_view dgate_up, dout, gate_up;
  int T, F;
  if (!read_call(env, info, "swigluBackward", 5, &c) || !read_f32_array(&c, 0, "dGateUp", &dgate_up) ||
      !read_f32_array(&c, 1, "dOut", &dout) || !read_f32_array(&c, 2, "gateUp", &gate_up) ||
      !read_int(&c, 3, "T", 0, &T) || !read_int(&c, 4, "F", 0, &F))
    return NULL;
  const matrix_view views[3] = {span("dGateUp", dgate_up, (size_t)T * 2 * F), span("dOut", dout, (size_t)T * F),
                                span("gateUp", gate_up, (size_t)T * 2 * F)};
  if (!check_length(&c, &views[0], "T×2F") || !check_length(&c, &views[1], "T×F") ||
      !check_length(&c, &views[2], "T×2F") || !check_disjoint(&c, views, 3, 1))
    return NULL;
  ops_swiglu_backward(dgate_up.data, dout.data, gate_up.data, (size_t)T, (size_t)F);
  return undefined_value(env);
}

/* rmsNormForward(out, rstd | null, x, weight, T, C, eps) */
static napi_value js_rms_norm_forward(napi_env env, napi_callback_info info) {
  call c;
  array_view out, rstd, x, weight;
  int T, C;
  double eps;
  if (!read_call(env, info, "rmsNormForward", 7, &c) || !read_f32_array(&c, 0, "out", &out) ||
      !read_optional_f32_array(&c, 1, "rstd", &rstd) || !read_f32_array(&c, 2, "x", &x) ||
      !read_f32_array(&c, 3, "weight", &weight) || !read_int(&c, 4, "T", 0, &T) || !read_int(&c, 5, "C", 0, &C) ||
      !read_number(&c, 6, "eps", &eps))
    return NULL;
  const size_t count = (size_t)T * C;
  const matrix_view views[4] = {span("out", out, count), span("rstd", rstd, rstd.data ? (size_t)T : 0),
                                span("x", x, count), span("weight", weight, (size_t)C)};
  if (!check_length(&c, &views[0], "T×C") || (rstd.data && !check_length(&c, &views[1], "T")) ||
      !check_length(&c, &views[2], "T×C") || !check_length(&c, &views[3], "C") || !check_disjoint(&c, views, 4, 2))
    return NULL;
  if (!(eps >= 0)) { throw_error(env, true, "rmsNormForward", "eps must be a non-negative number, got %g", eps); return NULL; }
  ops_rms_norm_forward(out.data, rstd.data, x.data, weight.data, (size_t)T, (size_t)C, eps);
  return undefined_value(env);
}

/* rmsNormBackward(dx, dWeight | null, dOut, x, rstd, weight, T, C) */
static napi_value js_rms_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  array_view dx, dweight, dout, x, rstd, weight;
  int T, C;
  if (!read_call(env, info, "rmsNormBackward", 8, &c) || !read_f32_array(&c, 0, "dx", &dx) ||
      !read_optional_f32_array(&c, 1, "dWeight", &dweight) || !read_f32_array(&c, 2, "dOut", &dout) ||
      !read_f32_array(&c, 3, "x", &x) || !read_f32_array(&c, 4, "rstd", &rstd) ||
      !read_f32_array(&c, 5, "weight", &weight) || !read_int(&c, 6, "T", 0, &T) || !read_int(&c, 7, "C", 0, &C))
    return NULL;
  const size_t count = (size_t)T * C;
  const matrix_view views[6] = {span("dx", dx, count), span("dWeight", dweight, dweight.data ? (size_t)C : 0),
                                span("dOut", dout, count), span("x", x, count), span("rstd", rstd, (size_t)T),
                                span("weight", weight, (size_t)C)};
  if (!check_length(&c, &views[0], "T×C") || (dweight.data && !check_length(&c, &views[1], "C")) ||
      !check_length(&c, &views[2], "T×C") || !check_length(&c, &views[3], "T×C") ||
      !check_length(&c, &views[4], "T") || !check_length(&c, &views[5], "C") || !check_disjoint(&c, views, 6, 2))
    return NULL;
  ops_rms_norm_backward(dx.data, dweight.data, dout.data, x.data, rstd.data, weight.data, (size_t)T, (size_t)C);
  return undefined_value(env);
}

/* The conv shape of (batch, height, width, channels, kernel, stride, padding) at argument `first`. */
static bool read_conv_shape(call *c, size_t first, size_t *batch, conv_shape *s) {
  int values[7];
  static const char *const names[7] = {"batch", "height", "width", "channels", "kernel", "stride", "padding"};
  for (int i = 0; i < 7; i++)
    if (!read_int(c, first + (size_t)i, names[i], i == 6 ? 0 : 1, &values[i])) return false;
  const int64_t padded_h = (int64_t)values[1] + 2 * (int64_t)values[6], padded_w = (int64_t)values[2] + 2 * (int64_t)values[6];
  if (padded_h < values[4] || padded_w < values[4])
    return RANGE_ERROR(c->env, c->op, "a %d×%d kernel does not fit a %d×%d map with padding %d", values[4], values[4],
                       values[1], values[2], values[6]);
  *batch = (size_t)values[0];
  s->height = (size_t)values[1];
  s->width = (size_t)values[2];
  s->channels = (size_t)values[3];
  s->kernel = (size_t)values[4];
  s->stride = (size_t)values[5];
  s->padding = (size_t)values[6];
  s->out_height = (size_t)((padded_h - values[4]) / values[5] + 1);
  s->out_width = (size_t)((padded_w - values[4]) / values[5] + 1);
  return true;
}

/* im2col(col, input, batch, height, width, channels, kernel, stride, padding) and
 * col2imAdd(dInput, col, …the same shape): the map and the patch matrix, one written, in either order. */
static napi_value conv_patches(napi_env env, napi_callback_info info, bool to_map) {
  const char *op = to_map ? "col2imAdd" : "im2col";
  const char *map_name = to_map ? "dInput" : "input";
  call c;
  array_view out, in;
  size_t batch;
  conv_shape s;
  if (!read_call(env, info, op, 9, &c) || !read_f32_array(&c, 0, to_map ? "dInput" : "col", &out) ||
      !read_f32_array(&c, 1, to_map ? "col" : "input", &in) || !read_conv_shape(&c, 2, &batch, &s))
    return NULL;
  const size_t map = batch * s.height * s.width * s.channels;
  const size_t patches = batch * s.out_height * s.out_width * s.kernel * s.kernel * s.channels;
  const matrix_view col_view = span("col", to_map ? in : out, patches), map_view = span(map_name, to_map ? out : in, map);
  const matrix_view views[2] = {to_map ? map_view : col_view, to_map ? col_view : map_view};
  if (!check_length(&c, &col_view, "batch·outH·outW·k·k·C") || !check_length(&c, &map_view, "batch·H·W·C") ||
      !check_disjoint(&c, views, 2, 1))
    return NULL;
  if (to_map) ops_col2im_add(out.data, in.data, batch, &s);
  else ops_im2col(out.data, in.data, batch, &s);
  return undefined_value(env);
}

static napi_value js_im2col(napi_env env, napi_callback_info info) { return conv_patches(env, info, false); }
static napi_value js_col2im_add(napi_env env, napi_callback_info info) { return conv_patches(env, info, true); }

static bool read_groups(call *c, size_t index, int C, int *G) {
  if (!read_int(c, index, "G", 1, G)) return false;
  if (C % *G != 0) return RANGE_ERROR(c->env, c->op, "C = %d channels do not split into G = %d groups", C, *G);
  return true;
}

/* groupNormForward(out, mean | null, rstd | null, x, weight, bias, N, P, C, G, eps) */
static napi_value js_group_norm_forward(napi_env env, napi_callback_info info) {
  call c;
  array_view out, mean, rstd, x, weight, bias;
  int N, P, C, G;
  double eps;
  if (!read_call(env, info, "groupNormForward", 11, &c) || !read_f32_array(&c, 0, "out", &out) ||
      !read_optional_f32_array(&c, 1, "mean", &mean) || !read_optional_f32_array(&c, 2, "rstd", &rstd) ||
      !read_f32_array(&c, 3, "x", &x) || !read_f32_array(&c, 4, "weight", &weight) ||
      !read_f32_array(&c, 5, "bias", &bias) || !read_int(&c, 6, "N", 0, &N) || !read_int(&c, 7, "P", 1, &P) ||
      !read_int(&c, 8, "C", 1, &C) || !read_groups(&c, 9, C, &G) || !read_number(&c, 10, "eps", &eps))
    return NULL;
  const size_t count = (size_t)N * P * C, stats = (size_t)N * G;
  matrix_view views[6] = {span("out", out, count), span("mean", mean, mean.data ? stats : 0),
                          span("rstd", rstd, rstd.data ? stats : 0), span("x", x, count),
                          span("weight", weight, (size_t)C), span("bias", bias, (size_t)C)};
  if (!check_length(&c, &views[0], "N×P×C") || (mean.data && !check_length(&c, &views[1], "N×G")) ||
      (rstd.data && !check_length(&c, &views[2], "N×G")) || !check_length(&c, &views[3], "N×P×C") ||
      !check_length(&c, &views[4], "C") || !check_length(&c, &views[5], "C"))
    return NULL;
  /* out may be x itself (each image's statistics are taken before it is written), not a shifted view of it */
  if (out.data == x.data) views[3].array.data = NULL;
  if (!check_disjoint(&c, views, 6, 3)) return NULL;
  if (!(eps >= 0)) { throw_error(env, true, "groupNormForward", "eps must be a non-negative number, got %g", eps); return NULL; }
  ops_group_norm_forward(out.data, mean.data, rstd.data, x.data, weight.data, bias.data, (size_t)N, (size_t)P, (size_t)C,
                         (size_t)G, eps);
  return undefined_value(env);
}

/* groupNormBackward(dx, dWeight | null, dBias | null, dOut, x, mean, rstd, weight, N, P, C, G) */
static napi_value js_group_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  array_view dx, dweight, dbias, dout, x, mean, rstd, weight;
  int N, P, C, G;
  if (!read_call(env, info, "groupNormBackward", 12, &c) || !read_f32_array(&c, 0, "dx", &dx) ||
      !read_optional_f32_array(&c, 1, "dWeight", &dweight) || !read_optional_f32_array(&c, 2, "dBias", &dbias) ||
      !read_f32_array(&c, 3, "dOut", &dout) || !read_f32_array(&c, 4, "x", &x) ||
      !read_f32_array(&c, 5, "mean", &mean) || !read_f32_array(&c, 6, "rstd", &rstd) ||
      !read_f32_array(&c, 7, "weight", &weight) || !read_int(&c, 8, "N", 0, &N) || !read_int(&c, 9, "P", 1, &P) ||
      !read_int(&c, 10, "C", 1, &C) || !read_groups(&c, 11, C, &G))
    return NULL;
  const size_t count = (size_t)N * P * C, stats = (size_t)N * G;
  const matrix_view views[8] = {span("dx", dx, count), span("dWeight", dweight, dweight.data ? (size_t)C : 0),
                                span("dBias", dbias, dbias.data ? (size_t)C : 0), span("dOut", dout, count),
                                span("x", x, count), span("mean", mean, stats), span("rstd", rstd, stats),
                                span("weight", weight, (size_t)C)};
  if (!check_length(&c, &views[0], "N×P×C") || (dweight.data && !check_length(&c, &views[1], "C")) ||
      (dbias.data && !check_length(&c, &views[2], "C")) || !check_length(&c, &views[3], "N×P×C") ||
      !check_length(&c, &views[4], "N×P×C") || !check_length(&c, &views[5], "N×G") ||
      !check_length(&c, &views[6], "N×G") || !check_length(&c, &views[7], "C") || !check_disjoint(&c, views, 8, 3))
    return NULL;
  if (ops_group_norm_backward(dx.data, dweight.data, dbias.data, dout.data, x.data, mean.data, rstd.data, weight.data,
                              (size_t)N, (size_t)P, (size_t)C, (size_t)G) != 0) {
    throw_error(env, true, "groupNormBackward", "out of memory");
    return NULL;
  }
  return undefined_value(env);
}

static napi_value int_value(napi_env env, int64_t number) {
  napi_value value;
  napi_create_int64(env, number, &value);
  return value;
}

/* setThreads(threads): OpenBLAS's threads and the addon's own */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  call c;
  int threads;
  if (!read_call(env, info, "setThreads", 1, &c) || !read_int(&c, 0, "threads", 1, &threads)) return NULL;
  if (threads > 64) { throw_error(env, true, "setThreads", "threads must be at most 64, got %d", threads); return NULL; }
  ops_set_threads(threads);
  return undefined_value(env);
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return int_value(env, ops_get_threads());
}

static void set_string(napi_env env, napi_value object, const char *key, const char *text) {
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, object, key, value);
}

/* info(): { blasConfig, isa, tileRows, f32GemvBlas, gemvRowsPerPass } */
static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value object, flag;
  napi_create_object(env, &object);
  set_string(env, object, "blasConfig", ops_blas_config());
  set_string(env, object, "isa", kernels_isa());
  napi_set_named_property(env, object, "tileRows", int_value(env, (int64_t)ops_get_tile_rows()));
  napi_get_boolean(env, ops_get_f32_gemv_blas(), &flag);
  napi_set_named_property(env, object, "f32GemvBlas", flag);
  napi_set_named_property(env, object, "gemvRowsPerPass", int_value(env, kernels_get_gemv_rows_per_pass()));
  napi_set_named_property(env, object, "smallMMax", int_value(env, ops_get_small_m_max()));
  return object;
}

/* tune(name, value): benchmark knobs: 'tileRows' (0: by size), 'f32GemvBlas' (0/1), 'gemvRowsPerPass' (0/1/4),
 * 'isa' (string) */
static napi_value js_tune(napi_env env, napi_callback_info info) {
  call c;
  if (!read_call(env, info, "tune", 2, &c)) return NULL;
  char name[32] = {0};
  size_t length = 0;
  napi_valuetype type;
  napi_typeof(env, c.argv[0], &type);
  if (type != napi_string) { throw_error(env, false, "tune", "name must be a string"); return NULL; }
  napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &length);
  if (strcmp(name, "isa") == 0) {
    char isa[16] = {0};
    napi_typeof(env, c.argv[1], &type);
    if (type == napi_string) napi_get_value_string_utf8(env, c.argv[1], isa, sizeof isa, &length);
    if (kernels_force_isa(isa) != 0)
      { throw_error(env, true, "tune", "isa '%s' is not one this CPU runs (avx512, avx2, generic)", isa); return NULL; }
  } else if (strcmp(name, "tileRows") == 0) {
    int rows;
    if (!read_int(&c, 1, "tileRows", 0, &rows)) return NULL;
    ops_set_tile_rows((size_t)rows);
  } else if (strcmp(name, "gemvRowsPerPass") == 0) {
    int rows;
    if (!read_int(&c, 1, "gemvRowsPerPass", 0, &rows)) return NULL;
    kernels_set_gemv_rows_per_pass(rows);
  } else if (strcmp(name, "smallMMax") == 0) {
    int m;
    if (!read_int(&c, 1, "smallMMax", -1, &m)) return NULL;
    ops_set_small_m_max(m);
  } else if (strcmp(name, "f32GemvBlas") == 0) {
    int use_blas;
    if (!read_int(&c, 1, "f32GemvBlas", 0, &use_blas)) return NULL;
    ops_set_f32_gemv_blas(use_blas);
  } else {
    { throw_error(env, true, "tune", "unknown knob '%s'", name); return NULL; }
  }
  return undefined_value(env);
}

/* The kernels' state (threads, scratch) is process-wide, shared by every worker thread. */
static pthread_once_t ops_initialized = PTHREAD_ONCE_INIT;

static napi_value init(napi_env env, napi_value exports) {
  pthread_once(&ops_initialized, ops_init);
  const napi_property_descriptor properties[] = {
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, js_linear, NULL, NULL, NULL, napi_default, NULL},
      {"linearBackwardInput", NULL, js_linear_backward_input, NULL, NULL, NULL, napi_default, NULL},
      {"toFloat32", NULL, js_to_float32, NULL, NULL, NULL, napi_default, NULL},
      {"exp", NULL, js_exp, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxRows", NULL, js_softmax_rows, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxRowsBackward", NULL, js_softmax_rows_backward, NULL, NULL, NULL, napi_default, NULL},
      {"geluForward", NULL, js_gelu_forward, NULL, NULL, NULL, napi_default, NULL},
      {"geluBackward", NULL, js_gelu_backward, NULL, NULL, NULL, napi_default, NULL},
      {"swigluForward", NULL, js_swiglu_forward, NULL, NULL, NULL, napi_default, NULL},
      {"swigluBackward", NULL, js_swiglu_backward, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormForward", NULL, js_rms_norm_forward, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormBackward", NULL, js_rms_norm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"im2col", NULL, js_im2col, NULL, NULL, NULL, napi_default, NULL},
      {"col2imAdd", NULL, js_col2im_add, NULL, NULL, NULL, napi_default, NULL},
      {"groupNormForward", NULL, js_group_norm_forward, NULL, NULL, NULL, napi_default, NULL},
      {"groupNormBackward", NULL, js_group_norm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"tune", NULL, js_tune, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }

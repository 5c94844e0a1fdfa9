/* A seeded random sweep through the C API: every algorithm that accepts a shape, in all three
 * directions and both dtypes, against the reference plan. It needs nothing but a C compiler, so
 * it also runs where Python does not: on other architectures (CI runs the aarch64 build under
 * an emulator). Usage: sweep_c_api [cases] [seed]. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv/fastconv.h"

/* The tests' stated tolerances (tests/conftest.py): largest error over the largest magnitude. */
static double tolerance(fastconv_algorithm a, fastconv_dtype t) {
  const int f64 = t == FASTCONV_FLOAT64;
  switch (a) {
    case FASTCONV_ALGORITHM_WINOGRAD: return f64 ? 1e-13 : 2e-5;
    case FASTCONV_ALGORITHM_WINOGRAD_F2: return f64 ? 2e-14 : 3e-6;
    case FASTCONV_ALGORITHM_WINOGRAD_F6: return f64 ? 1e-13 : 5e-5;
    default: return f64 ? 1e-12 : 1e-5;
  }
}

static uint64_t state;
static uint64_t next(void) { /* xorshift64* */
  state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
  return state * 2685821657736338717ull;
}
static int64_t between(int64_t lo, int64_t hi) { return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)); }
static double uniform(void) { return (double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0; }

/* A buffer of count values of dtype t; random in [-1, 1) where fill is set. */
static void* buffer(int64_t count, fastconv_dtype t, int fill) {
  const size_t size = t == FASTCONV_FLOAT64 ? sizeof(double) : sizeof(float);
  void* p = calloc((size_t)(count > 0 ? count : 1), size);
  if (p == NULL) {
    printf("out of memory\n");
    exit(2);
  }
  for (int64_t i = 0; fill && i < count; ++i) {
    if (t == FASTCONV_FLOAT64) ((double*)p)[i] = uniform();
    else ((float*)p)[i] = (float)uniform();
  }
  return p;
}
static double at(const void* p, int64_t i, fastconv_dtype t) {
  return t == FASTCONV_FLOAT64 ? ((const double*)p)[i] : ((const float*)p)[i];
}
static double rel_err(const void* got, const void* want, int64_t count, fastconv_dtype t) {
  double err = 0, scale = 1e-30;
  for (int64_t i = 0; i < count; ++i) {
    err = fmax(err, fabs(at(got, i, t) - at(want, i, t)));
    scale = fmax(scale, fabs(at(want, i, t)));
  }
  return err / scale;
}

/* The same distribution as tests/sweep.py, with 3x3 stride-1 layers a third of the time so that
 * Winograd takes part, and up to 12 channels a group so that vectors and panels have edges. */
static fastconv_desc random_desc(void) {
  for (;;) {
    fastconv_desc d;
    fastconv_desc_init(&d);
    const int64_t options[4] = {1, 1, 2, 3};
    d.groups = options[between(0, 3)];
    d.n = between(1, 3), d.c = d.groups * between(1, 12), d.k = d.groups * between(1, 12);
    d.h = between(1, 12), d.w = between(1, 12), d.r = between(1, 4), d.s = between(1, 4);
    d.stride_h = between(1, 3), d.stride_w = between(1, 3), d.dilation_h = between(1, 3), d.dilation_w = between(1, 3);
    d.pad_top = between(0, 3), d.pad_bottom = between(0, 3), d.pad_left = between(0, 3), d.pad_right = between(0, 3);
    if (between(0, 2) == 0) {  /* Winograd's: 3x3, stride 1, mostly undilated */
      d.r = d.s = 3, d.stride_h = d.stride_w = 1;
      if (between(0, 2) > 0) d.dilation_h = d.dilation_w = 1;
    }
    d.dtype = between(0, 1) ? FASTCONV_FLOAT64 : FASTCONV_FLOAT32;
    if (d.dilation_h * (d.r - 1) + 1 <= d.h + d.pad_top + d.pad_bottom &&
        d.dilation_w * (d.s - 1) + 1 <= d.w + d.pad_left + d.pad_right)
      return d;
  }
}

int main(int argc, char** argv) {
  const long cases = argc > 1 ? atol(argv[1]) : 300;
  const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261122u;
  state = seed * 2 + 1;
  printf("sweep of %ld cases, seed %llu\n", cases, (unsigned long long)seed);
  const fastconv_algorithm algorithms[5] = {FASTCONV_ALGORITHM_AUTO, FASTCONV_ALGORITHM_DIRECT,
                                            FASTCONV_ALGORITHM_WINOGRAD, FASTCONV_ALGORITHM_WINOGRAD_F2,
                                            FASTCONV_ALGORITHM_WINOGRAD_F6};
  long failures = 0, runs[5] = {0, 0, 0, 0, 0};
  for (long i = 0; i < cases; ++i) {
    const fastconv_desc d = random_desc();
    fastconv_plan* oracle = NULL;
    if (fastconv_plan_create(&d, FASTCONV_ALGORITHM_REFERENCE, &oracle) != FASTCONV_OK) {
      printf("case %ld: the reference refused a valid shape: %s\n", i, fastconv_last_error());
      return 1;
    }
    int64_t p = 0, q = 0;
    fastconv_plan_output_size(oracle, &p, &q);
    const int64_t xs = d.n * d.c * d.h * d.w, ws = d.k * (d.c / d.groups) * d.r * d.s, ys = d.n * d.k * p * q;
    void *x = buffer(xs, d.dtype, 1), *w = buffer(ws, d.dtype, 1), *bias = buffer(d.k, d.dtype, 1);
    void *dy = buffer(ys, d.dtype, 1), *y_ref = buffer(ys, d.dtype, 0), *dx_ref = buffer(xs, d.dtype, 0);
    void *dw_ref = buffer(ws, d.dtype, 0), *db_ref = buffer(d.k, d.dtype, 0);
    void *y = buffer(ys, d.dtype, 0), *dx = buffer(xs, d.dtype, 0), *dw = buffer(ws, d.dtype, 0), *db = buffer(d.k, d.dtype, 0);
    int ok = fastconv_forward(oracle, x, w, bias, y_ref) == FASTCONV_OK &&
             fastconv_backward_data(oracle, dy, w, dx_ref) == FASTCONV_OK &&
             fastconv_backward_weights(oracle, x, dy, dw_ref, db_ref) == FASTCONV_OK;
    for (int a = 0; ok && a < 5; ++a) {
      fastconv_plan* plan = NULL;
      if (fastconv_plan_create(&d, algorithms[a], &plan) != FASTCONV_OK) {
        if (a < 2) ok = 0;  /* auto and direct take every shape; Winograd only 3x3 stride 1 */
        continue;
      }
      ++runs[a];
      const int ran = fastconv_forward(plan, x, w, bias, y) == FASTCONV_OK &&
                      fastconv_backward_data(plan, dy, w, dx) == FASTCONV_OK &&
                      fastconv_backward_weights(plan, x, dy, dw, db) == FASTCONV_OK;
      /* auto may choose Winograd: its tolerance is the loosest that any choice is held to */
      const double tol = tolerance(a == 0 ? FASTCONV_ALGORITHM_WINOGRAD : algorithms[a], d.dtype);
      const double errs[4] = {rel_err(y, y_ref, ys, d.dtype), rel_err(dx, dx_ref, xs, d.dtype),
                              rel_err(dw, dw_ref, ws, d.dtype), rel_err(db, db_ref, d.k, d.dtype)};
      for (int e = 0; e < 4; ++e)
        if (!ran || !(errs[e] <= tol)) {
          printf("case %ld FAILED: %s, n=%lld c=%lld h=%lld w=%lld k=%lld %lldx%lld stride %lldx%lld dilation "
                 "%lldx%lld pads %lld %lld %lld %lld groups %lld %s: direction %d error %.3g (tolerance %.1g) %s\n",
                 i, fastconv_plan_implementation(plan), (long long)d.n, (long long)d.c, (long long)d.h,
                 (long long)d.w, (long long)d.k, (long long)d.r, (long long)d.s, (long long)d.stride_h,
                 (long long)d.stride_w, (long long)d.dilation_h, (long long)d.dilation_w, (long long)d.pad_top,
                 (long long)d.pad_bottom, (long long)d.pad_left, (long long)d.pad_right, (long long)d.groups,
                 d.dtype == FASTCONV_FLOAT64 ? "float64" : "float32", e, errs[e], tol, fastconv_last_error());
          ++failures;
          break;
        }
      fastconv_plan_destroy(plan);
    }
    if (!ok) {
      printf("case %ld FAILED: %s\n", i, fastconv_last_error());
      ++failures;
    }
    void* all[13] = {x, w, bias, dy, y_ref, dx_ref, dw_ref, db_ref, y, dx, dw, db, NULL};
    for (int j = 0; all[j] != NULL; ++j) free(all[j]);
    fastconv_plan_destroy(oracle);
  }
  printf("runs: auto %ld, direct %ld, winograd f4 %ld, f2 %ld, f6 %ld; %ld failures\n", runs[0], runs[1], runs[2],
         runs[3], runs[4], failures);
  return failures == 0 && runs[2] > 0 ? 0 : 1;
}

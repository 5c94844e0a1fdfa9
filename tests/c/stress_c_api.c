/* Many calls, and calls from inside an OpenMP region, through the C API:
 *
 *   stress_c_api [iterations]
 *
 * Each iteration makes plans for three shapes (implicit GEMM, depthwise, Winograd), runs all
 * three directions and a failing call, and frees everything, so that a leak checker run over
 * it sees every path. Then each thread of an OpenMP team makes and runs its own plans at once,
 * which nests the library's parallel regions inside the caller's. Every result must equal the
 * first serial one bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv/fastconv.h"

enum { SHAPES = 3, N = 2, C = 4, H = 8, W = 8, K = 4, X = N * C * H * W, Y = N * K * H * W, WT = K * C * 9 };

typedef struct {
  float y[Y], dx[X], dw[WT], db[K];
} results;

static float x[X], w[WT], b[K];

static fastconv_desc shape(int i, fastconv_algorithm* algorithm) {
  fastconv_desc d;
  fastconv_desc_init(&d);
  d.n = N, d.c = C, d.h = H, d.w = W, d.k = K, d.r = 3, d.s = 3;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;
  *algorithm = i == 2 ? FASTCONV_ALGORITHM_WINOGRAD : FASTCONV_ALGORITHM_DIRECT;
  if (i == 1) d.groups = C; /* depthwise: weights then use C/groups = 1 channel of 9 taps */
  return d;
}

/* One plan's life: create, all three directions, destroy. Returns 0 on success. */
static int run(int i, results* out) {
  fastconv_algorithm algorithm;
  fastconv_desc d = shape(i, &algorithm);
  fastconv_plan* plan = NULL;
  memset(out, 0, sizeof *out); /* depthwise fills only part of dw */
  if (fastconv_plan_create(&d, algorithm, &plan) != FASTCONV_OK) return 1;
  int bad = fastconv_forward(plan, x, w, b, out->y) != FASTCONV_OK;
  bad |= fastconv_backward_data(plan, out->y, w, out->dx) != FASTCONV_OK;
  bad |= fastconv_backward_weights(plan, x, out->y, out->dw, out->db) != FASTCONV_OK;
  bad |= fastconv_forward(plan, NULL, w, b, out->y) != FASTCONV_INVALID_ARGUMENT; /* an error path */
  fastconv_plan_destroy(plan);
  return bad;
}

static int same(const results* a, const results* b) { return memcmp(a, b, sizeof *a) == 0; }

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 100;
  for (int i = 0; i < X; ++i) x[i] = (float)((i * 37 % 101) - 50) / 25.0f;
  for (int i = 0; i < WT; ++i) w[i] = (float)((i * 53 % 97) - 48) / 30.0f;
  for (int i = 0; i < K; ++i) b[i] = 0.25f * (float)i;

  static results first[SHAPES], again;
  int failures = 0;
  for (int i = 0; i < SHAPES; ++i) failures += run(i, &first[i]);
  for (long it = 0; it < iterations; ++it)
    for (int i = 0; i < SHAPES; ++i) failures += run(i, &again) || !same(&again, &first[i]);
  printf("%ld iterations x %d shapes: %d failures\n", iterations, SHAPES, failures);

  int nested_failures = 0, team = 1;
#pragma omp parallel num_threads(4) reduction(+ : nested_failures)
  {
    results mine;
#pragma omp single
    team = 0;
#pragma omp atomic
    ++team;
    for (int i = 0; i < SHAPES; ++i) nested_failures += run(i, &mine) || !same(&mine, &first[i]);
  }
  printf("inside an OpenMP team of %d: %d failures\n", team, nested_failures);
  failures += nested_failures;
  printf("%s\n", failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}

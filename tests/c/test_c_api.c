/* The C API from C: plans, results against the reference plan, and every error path. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fastconv/fastconv.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      printf("FAILED line %d: %s (%s)\n", __LINE__, #cond, fastconv_last_error()); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

enum { X = 2 * 4 * 9 * 8, W = 6 * 2 * 3 * 3, Y = 2 * 6 * 9 * 8 };
static float x[X], w[W], b[6];

/* Runs all three directions on plan and on the reference plan; returns the largest difference. */
static double worst_difference(fastconv_plan* plan, fastconv_plan* oracle) {
  static float y[Y], y_ref[Y], dx[X], dx_ref[X], dw[W], dw_ref[W], db[6], db_ref[6];
  CHECK(fastconv_forward(plan, x, w, b, y) == FASTCONV_OK);
  CHECK(fastconv_forward(oracle, x, w, b, y_ref) == FASTCONV_OK);
  CHECK(fastconv_backward_data(plan, y_ref, w, dx) == FASTCONV_OK);
  CHECK(fastconv_backward_data(oracle, y_ref, w, dx_ref) == FASTCONV_OK);
  CHECK(fastconv_backward_weights(plan, x, y_ref, dw, db) == FASTCONV_OK);
  CHECK(fastconv_backward_weights(oracle, x, y_ref, dw_ref, db_ref) == FASTCONV_OK);
  double worst = 0;
  for (int i = 0; i < Y; ++i) worst = fmax(worst, fabs(y[i] - y_ref[i]) / (1.0 + fabs(y_ref[i])));
  for (int i = 0; i < X; ++i) worst = fmax(worst, fabs(dx[i] - dx_ref[i]) / (1.0 + fabs(dx_ref[i])));
  for (int i = 0; i < W; ++i) worst = fmax(worst, fabs(dw[i] - dw_ref[i]) / (1.0 + fabs(dw_ref[i])));
  for (int i = 0; i < 6; ++i) worst = fmax(worst, fabs(db[i] - db_ref[i]) / (1.0 + fabs(db_ref[i])));
  return worst;
}

int main(void) {
  fastconv_desc d;
  fastconv_desc_init(&d);
  d.n = 2, d.c = 4, d.h = 9, d.w = 8, d.k = 6, d.r = 3, d.s = 3, d.groups = 2;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;

  fastconv_plan *plan = NULL, *oracle = NULL;
  CHECK(fastconv_plan_create(&d, FASTCONV_ALGORITHM_AUTO, &plan) == FASTCONV_OK);
  CHECK(fastconv_plan_create(&d, FASTCONV_ALGORITHM_REFERENCE, &oracle) == FASTCONV_OK);
  CHECK(strcmp(fastconv_last_error(), "") == 0);
  int64_t p = 0, q = 0;
  CHECK(fastconv_plan_output_size(plan, &p, &q) == FASTCONV_OK && p == 9 && q == 8);
  printf("fastconv %s, implementation %s\n", fastconv_version(), fastconv_plan_implementation(plan));

  for (int i = 0; i < X; ++i) x[i] = (float)((i * 37 % 101) - 50) / 25.0f;
  for (int i = 0; i < W; ++i) w[i] = (float)((i * 53 % 97) - 48) / 30.0f;
  for (int i = 0; i < 6; ++i) b[i] = 0.5f * (float)i;
  double worst = worst_difference(plan, oracle);
  printf("largest difference from the reference: %.3g\n", worst);
  CHECK(worst < 1e-4);
  /* every Winograd tile, by name, and whatever measure combines */
  const fastconv_algorithm winograd[4] = {FASTCONV_ALGORITHM_WINOGRAD, FASTCONV_ALGORITHM_WINOGRAD_F2,
                                          FASTCONV_ALGORITHM_WINOGRAD_F6, FASTCONV_ALGORITHM_MEASURE};
  const char* tiles[4] = {"winograd/f4x4", "winograd/f2x2", "winograd/f6x6", "/"};
  for (int a = 0; a < 4; ++a) {
    fastconv_plan* named = NULL;
    CHECK(fastconv_plan_create(&d, winograd[a], &named) == FASTCONV_OK);
    if (named == NULL) continue;
    CHECK(strstr(fastconv_plan_implementation(named), tiles[a]) != NULL);
    worst = worst_difference(named, oracle);
    printf("%s: largest difference from the reference: %.3g\n", fastconv_plan_implementation(named), worst);
    CHECK(worst < 1e-4);
    fastconv_plan_destroy(named);
  }

  /* errors: status codes and messages, never a crash */
  float y[Y], dx[X], db[6];
  fastconv_desc bad = d;
  bad.stride_h = 0;
  fastconv_plan* none = (fastconv_plan*)1;
  CHECK(fastconv_plan_create(&bad, FASTCONV_ALGORITHM_AUTO, &none) == FASTCONV_INVALID_ARGUMENT);
  CHECK(none == NULL && strstr(fastconv_last_error(), "stride_h") != NULL);
  bad = d;
  bad.r = bad.s = 5;
  CHECK(fastconv_plan_create(&bad, FASTCONV_ALGORITHM_WINOGRAD, &none) == FASTCONV_INVALID_ARGUMENT);
  CHECK(strstr(fastconv_last_error(), "3x3") != NULL);
  bad = d;
  bad.groups = 3;
  CHECK(fastconv_plan_create(&bad, FASTCONV_ALGORITHM_AUTO, &none) == FASTCONV_INVALID_ARGUMENT);
  bad = d;
  bad.dtype = (fastconv_dtype)7;
  CHECK(fastconv_plan_create(&bad, FASTCONV_ALGORITHM_AUTO, &none) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_plan_create(&d, (fastconv_algorithm)9, &none) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_plan_create(NULL, FASTCONV_ALGORITHM_AUTO, &none) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_forward(plan, NULL, w, b, y) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_forward(NULL, x, w, b, y) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_backward_data(plan, y, NULL, dx) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_backward_weights(plan, x, y, NULL, db) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_plan_output_size(plan, NULL, &q) == FASTCONV_INVALID_ARGUMENT);
  CHECK(fastconv_forward(plan, x, w, NULL, y) == FASTCONV_OK && strcmp(fastconv_last_error(), "") == 0);

  /* the thread's workspace, which the runs above share: released, then allocated again */
  CHECK(fastconv_release_workspace() > 0);
  CHECK(fastconv_release_workspace() == 0);
  CHECK(worst_difference(plan, oracle) < 1e-4);

  fastconv_plan_destroy(plan);
  fastconv_plan_destroy(oracle);
  fastconv_plan_destroy(NULL);
  printf("%s\n", failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}

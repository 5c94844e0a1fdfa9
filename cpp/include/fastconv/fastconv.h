/* fastconv's C API: opaque plans, status codes, and a message for the last error of each thread.
 * No exception crosses it, so other languages can call it through their FFI. */
#ifndef FASTCONV_FASTCONV_H
#define FASTCONV_FASTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every call returns one of these; values never change between versions. */
typedef enum fastconv_status {
  FASTCONV_OK = 0,
  FASTCONV_INVALID_ARGUMENT = 1, /* a bad descriptor, algorithm, pointer or dtype: see fastconv_last_error */
  FASTCONV_OUT_OF_MEMORY = 2,    /* a workspace could not be allocated */
  FASTCONV_INTERNAL_ERROR = 3    /* anything else; a bug worth reporting */
} fastconv_status;

typedef enum fastconv_dtype { FASTCONV_FLOAT32 = 0, FASTCONV_FLOAT64 = 1 } fastconv_dtype;

typedef enum fastconv_algorithm {
  FASTCONV_ALGORITHM_AUTO = 0,
  FASTCONV_ALGORITHM_DIRECT = 1,
  FASTCONV_ALGORITHM_WINOGRAD = 2,
  FASTCONV_ALGORITHM_REFERENCE = 3,
  FASTCONV_ALGORITHM_WINOGRAD_F2 = 4,
  FASTCONV_ALGORITHM_WINOGRAD_F6 = 5,
  FASTCONV_ALGORITHM_MEASURE = 6 /* the fastest per direction, timed when the plan is made */
} fastconv_algorithm;

/* A 2-D convolution: input n x c x h x w (NCHW), weights k x c/groups x r x s, output n x k x p x q. */
typedef struct fastconv_desc {
  int64_t n, c, h, w, k, r, s;
  int64_t stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  int64_t groups;
  fastconv_dtype dtype;
} fastconv_desc;

typedef struct fastconv_plan fastconv_plan;

/* Fills every field with its default: sizes, strides, dilations and groups 1, padding 0, float32. */
void fastconv_desc_init(fastconv_desc* desc);

fastconv_status fastconv_plan_create(const fastconv_desc* desc, fastconv_algorithm algorithm, fastconv_plan** plan);
void fastconv_plan_destroy(fastconv_plan* plan); /* accepts NULL */

/* Output height and width; the implementation that runs (valid until the plan is destroyed). */
fastconv_status fastconv_plan_output_size(const fastconv_plan* plan, int64_t* p, int64_t* q);
const char* fastconv_plan_implementation(const fastconv_plan* plan);

/* Buffers are the plan's dtype, dense and caller-owned; bias and db may be NULL. */
fastconv_status fastconv_forward(fastconv_plan* plan, const void* x, const void* w, const void* bias, void* y);
fastconv_status fastconv_backward_data(fastconv_plan* plan, const void* dy, const void* w, void* dx);
fastconv_status fastconv_backward_weights(fastconv_plan* plan, const void* x, const void* dy, void* dw, void* db);

/* Frees the calling thread's workspace, which all its runs share, and returns its bytes. */
size_t fastconv_release_workspace(void);

/* The message of this thread's last failed call ("" if none); valid until its next call. */
const char* fastconv_last_error(void);
const char* fastconv_version(void);

#ifdef __cplusplus
}
#endif

#endif /* FASTCONV_FASTCONV_H */

/*
 * template.h - compiles the generic part of a source file twice, for float
 * and for double (README, Data-parallel training and determinism: one source for both precisions, not copies).
 * Private to src/.  A file is laid out as
 *
 *   #ifndef DNN_TMPL
 *   ...includes, the dispatching code...
 *   #define DNN_TMPL_FILE "model.c"
 *   #include "template.h"
 *   #else
 *   ...generic code written with `real` and SUF(name) (name_s / name_d)...
 *   #endif
 *
 * The file is included again from here (quote includes start in this
 * folder, which is the file's own), once with real = float and SUF(f) = f_s,
 * once with real = double and SUF(f) = f_d.
 */
#define DNN_TMPL
#define real float
#define SUF(f) f##_s
#include DNN_TMPL_FILE
#undef real
#undef SUF
#define real double
#define SUF(f) f##_d
#include DNN_TMPL_FILE
#undef real
#undef SUF
#undef DNN_TMPL
#undef DNN_TMPL_FILE

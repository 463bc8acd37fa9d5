/*
 * dnn_train.c - the dnn-train program.  Everything lives in train.c so that
 * tests can drive the same code.
 */
#include "dnn/train.h"

int main(int argc, char **argv) { return dnn_train_main(argc, argv); }

/*
 * train.h - the dnn-train program as a library call: set-up on every rank,
 * the gradient-descent loop, checkpoints, metrics and the `final ...` line.
 */
#ifndef DNN_TRAIN_H
#define DNN_TRAIN_H

/* Exit status of a run stopped by SIGTERM/SIGINT/SIGUSR1 after checkpointing. */
#define DNN_EXIT_STOPPED 75

/* Run dnn-train with MPI already initialized by the caller? No: this calls
 * MPI_Init and MPI_Finalize itself.  Returns the process exit status. */
int dnn_train_main(int argc, char **argv);

#endif

/*
 * det.h - --deterministic mini-batch: the batch's columns moved to the ranks
 * that own its groups (README "Data-parallel training and determinism").
 *
 * A mini-batch of nb members is cut by position into groups of DNN_DET_GROUP
 * (the last may be shorter): group j holds the members at positions
 * [64 j, 64 j + 64) of the batch, in that order, whatever the rank count.
 * Each group's gradient sum is one forward and backward over its columns, so
 * it is the same float sum on any rank, and the group sums are added exactly
 * as fixed point (exact.h).  The groups are dealt out in rounds of at most
 * DNN_DET_ROUND per rank: in a round of Gt groups rank r owns the contiguous
 * groups [Gt r / N, Gt (r + 1) / N), and one MPI_Alltoallv brings it their
 * columns (X, or its bf16 copy, and Y) from the ranks that hold them.  One
 * rank gathers its columns directly.  A batch of a single group (B <= 64),
 * or of at most DNN_FIX_BATCH groups on one rank, needs no fixed-point
 * totals in memory (det_step, det_fuse).
 * Private to dnn-train (train_step.c calls it, train_setup.c sets it up).
 */
#ifndef DNN_DET_H
#define DNN_DET_H

#include "train_run.h"

#define DNN_DET_GROUP 64 /* batch positions per group: the checkpoint's deterministic_groups */
#define DNN_DET_ROUND 16 /* groups a rank takes in one exchange, at most */

/* Buffers sized for this run (call after the bf16 copy of X is made); on
 * resume, a notice when the checkpoint's --deterministic sums were cut
 * differently.  Returns 0, DNN_ENOMEM or DNN_EMPI with msg. */
int det_init(run_t *r, const dnn_ckpt_t *ck, char *msg);
void det_free(run_t *r);

/* The bound of one group sum for exact totals of a batch of B (exact.h). */
double det_exact_max(uint64_t B);

/* Before a step's gradients (a batch of nb members): when this rank's group
 * sums are all it needs (a batch of one group, or all groups on one rank and
 * at most DNN_FIX_BATCH of them) they skip the fixed-point totals in memory
 * (r->exact = 0, no overlap this step) and det_fuse adds them instead. */
void det_step(run_t *r, uint64_t nb);

/* The group sums in gbuf[0 .. nfix) (P + 2 slots each) added as the
 * fixed-point totals add them (exact.h, the same arithmetic) and rounded
 * once, in one pass, into gbuf[0], which becomes model.grads; the other
 * buffers are zeroed.  A single group's sum, added to the other ranks' zeros
 * by a float sum, then gives the bits the totals give (the rounding changes
 * only values below about 2^-40 in float, 2^-11 in double; -0 becomes +0).
 * A term out of range (or not finite) makes the loss sum NaN, as the totals do. */
void det_fuse(run_t *r);

/* Rounds of a batch of nb members. */
size_t det_rounds(const run_t *r, uint64_t nb);

/* Round t of the batch perm[base .. base + nb): this rank's groups' columns
 * staged in batch order; returns how many groups it owns in the round
 * (collective: every rank calls it for every round). */
size_t det_exchange(run_t *r, uint64_t base, uint64_t nb, size_t t);

/* Group i of the round for step k: its inputs set on the model (dropout keys,
 * bf16 input); X and Y receive its columns; returns their count. */
size_t det_group(run_t *r, long k, size_t i, const void **X, const void **Y);

#endif

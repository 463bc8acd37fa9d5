/*
 * net.h - what dnn's own programs (dnn-predict, dnn-export) read from a
 * loaded net beyond the public API of dnn/dnn.h: the checkpoint's metadata
 * and its parameters.  Both stay owned by the net and are read-only.
 */
#ifndef DNN_NET_H
#define DNN_NET_H

#include "dnn/checkpoint.h"
#include "dnn/dnn.h"
#include "dnn/model.h"

/* Metadata of the checkpoint the net was loaded from (activations,
 * leaky_slope, scale, standardize with mean/std, binary_threshold, ...). */
const dnn_ckpt_t *dnn_net_checkpoint(const dnn_net_t *net);

/* The parameters: W[l], b[l] through dnn_model_W/dnn_model_b, in
 * model->prec.  Its activation buffers are not for use (the net is shared). */
const dnn_model_t *dnn_net_model(const dnn_net_t *net);

#endif

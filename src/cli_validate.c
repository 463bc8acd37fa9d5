/*
 * cli_validate.c - dnn-train's cross-option checks (ranges, required options,
 * conflicts), after the option table (cli.c) has parsed every value.  Each
 * message names the option as typed and the value.
 */
#include <math.h>
#include <string.h>

#include "dnn/cli.h"
#include "dnn/bn.h"
#include "dnn/optim.h"
#include "dnn/report.h"

/* A number in [lo, hi) (hi_open) or [lo, hi]; NaN fails. */
static int in_range(double v, double lo, double hi, int hi_open)
{
    return v >= lo && (hi_open ? v < hi : v <= hi);
}

/* Optimizer, regularization, schedule and dev-set options (README, Course 2: optimizers, regularization, schedules, dev sets). */
static int validate_course2(const dnn_options_t *o, char *msg)
{
    int rc = dnn_bn_check(o->bn_momentum, o->bn_epsilon, o->batch_norm ? o->n_layers : 1, msg);
    if (rc)
        return rc;
    if (!in_range(o->beta1, 0, 1, 1))
        return dnn_fail(msg, DNN_EINVAL, "--beta1 must be in [0, 1), got %g", o->beta1);
    if (!in_range(o->beta2, 0, 1, 1))
        return dnn_fail(msg, DNN_EINVAL, "--beta2 must be in [0, 1), got %g", o->beta2);
    if (!(o->epsilon > 0) || !isfinite(o->epsilon))
        return dnn_fail(msg, DNN_EINVAL, "--epsilon must be a finite number > 0, got %g", o->epsilon);
    if (!in_range(o->weight_decay, 0, INFINITY, 1))
        return dnn_fail(msg, DNN_EINVAL, "--weight-decay must be a finite number >= 0, got %g", o->weight_decay);
    if (o->weight_decay > 0 && o->optimizer != DNN_OPT_ADAMW)
        return dnn_fail(msg, DNN_EINVAL, "--weight-decay %g needs --optimizer adamw (for the other rules use --l2)",
                        o->weight_decay);
    if (!in_range(o->l2, 0, INFINITY, 1))
        return dnn_fail(msg, DNN_EINVAL, "--l2 (lambda) must be a finite number >= 0, got %g", o->l2);
    if (!in_range(o->keep_prob, 0, 1, 0) || o->keep_prob == 0)
        return dnn_fail(msg, DNN_EINVAL, "--keep-prob must be in (0, 1] (1 = no dropout), got %g", o->keep_prob);
    if (!in_range(o->clip_norm, 0, INFINITY, 1))
        return dnn_fail(msg, DNN_EINVAL, "--clip-norm must be a finite number >= 0 (0 = off), got %g", o->clip_norm);
    if (!in_range(o->decay_rate, 0, INFINITY, 1) || (o->lr_decay == DNN_DECAY_EXPONENTIAL && o->decay_rate == 0))
        return dnn_fail(msg, DNN_EINVAL, "--decay-rate must be a finite number >= 0 (> 0 for exponential), got %g",
                        o->decay_rate);
    if (o->decay_every < 1)
        return dnn_fail(msg, DNN_EINVAL, "--decay-every must be >= 1 (epochs), got %ld", o->decay_every);
    if (!in_range(o->validation_split, 0, 1, 1))
        return dnn_fail(msg, DNN_EINVAL, "--validation-split must be in [0, 1), got %g", o->validation_split);
    if (o->validation_split > 0 && o->validation[0])
        return dnn_fail(msg, DNN_EINVAL, "--validation-split and --validation FILE exclude each other");
    int dev = o->validation_split > 0 || o->validation[0];
    if (o->early_stopping < 0)
        return dnn_fail(msg, DNN_EINVAL, "--early-stopping must be >= 0 (0 = off), got %ld", o->early_stopping);
    if (o->early_stopping && !dev)
        return dnn_fail(msg, DNN_EINVAL, "--early-stopping needs a dev set (--validation-split F or --validation FILE)");
    if (o->best_checkpoint[0] && !dev)
        return dnn_fail(msg, DNN_EINVAL, "--best-checkpoint needs a dev set (--validation-split F or --validation FILE)");
    if (o->best_checkpoint[0] && o->checkpoint[0] && !strcmp(o->best_checkpoint, o->checkpoint))
        return dnn_fail(msg, DNN_EINVAL, "--best-checkpoint and --checkpoint name the same file '%s'", o->checkpoint);
    return 0;
}

int dnn_cli_validate(const dnn_options_t *o, char *msg)
{
    if (!o->data[0])
        return dnn_fail(msg, DNN_EINVAL, "--data FILE is required (an HDF5 file with datasets --x and --y)");
    if (!(o->lr > 0) || !isfinite(o->lr))
        return dnn_fail(msg, DNN_EINVAL, "--lr must be a finite number > 0, got %g", o->lr);
    if (o->epochs_set ? o->epochs < 1 : o->iterations < 1)
        return dnn_fail(msg, DNN_EINVAL, "--%s must be >= 1, got %ld", o->epochs_set ? "epochs" : "iterations",
                        o->epochs_set ? o->epochs : o->iterations);
    if (o->batch_size < 0)
        return dnn_fail(msg, DNN_EINVAL, "--batch-size must be >= 0 (0 = full batch), got %ld", o->batch_size);
    if (o->print_every < 1)
        return dnn_fail(msg, DNN_EINVAL, "--print-every must be >= 1, got %ld", o->print_every);
    if (o->checkpoint_every < 0)
        return dnn_fail(msg, DNN_EINVAL, "--checkpoint-every must be >= 0, got %ld", o->checkpoint_every);
    if (!isfinite(o->scale) || o->scale == 0)
        return dnn_fail(msg, DNN_EINVAL, "--scale must be a finite non-zero number, got %g", o->scale);
    if (!(o->leaky_slope >= 0) || !isfinite(o->leaky_slope))
        return dnn_fail(msg, DNN_EINVAL, "--leaky-slope must be a finite number >= 0, got %g", o->leaky_slope);
    if (o->output != DNN_ACT_SIGMOID && o->output != DNN_ACT_SOFTMAX && o->output != DNN_ACT_LINEAR)
        return dnn_fail(msg, DNN_EINVAL, "--output must be sigmoid, softmax or linear, got %s",
                        dnn_act_name((dnn_act_t)o->output));
    if (o->classes < 0 || (o->classes == 1))
        return dnn_fail(msg, DNN_EINVAL, "--classes must be >= 2 (or 0 to infer), got %ld", o->classes);
    if (o->classes && o->output != DNN_ACT_SOFTMAX)
        return dnn_fail(msg, DNN_EINVAL, "--classes %ld needs --output softmax", o->classes);
    if (o->seed < 0)
        return dnn_fail(msg, DNN_EINVAL, "--seed must be >= 0, got %ld", o->seed);
    if (o->rng == DNN_RNG_NUMPY && o->seed > 4294967295L)
        return dnn_fail(msg, DNN_EINVAL, "--seed must be below 2^32 with --rng numpy, got %ld", o->seed);
    if (o->shuffle_seed < -1)
        return dnn_fail(msg, DNN_EINVAL, "--shuffle-seed must be >= 0 (or -1 for --seed), got %ld", o->shuffle_seed);
    if (o->rng == DNN_RNG_NUMPY && o->shuffle_seed > 4294967295L)
        return dnn_fail(msg, DNN_EINVAL, "--shuffle-seed must be below 2^32 with --rng numpy, got %ld", o->shuffle_seed);
    if (o->threads < 0)
        return dnn_fail(msg, DNN_EINVAL, "--threads must be >= 0, got %ld", o->threads);
    if (o->resume && !o->checkpoint[0])
        return dnn_fail(msg, DNN_EINVAL, "--resume needs --checkpoint FILE");
    if (o->checkpoint_every && !o->checkpoint[0])
        return dnn_fail(msg, DNN_EINVAL, "--checkpoint-every needs --checkpoint FILE");
    if (!isnan(o->binary_threshold) && o->output != DNN_ACT_SIGMOID)
        return dnn_fail(msg, DNN_EINVAL, "--binary-threshold needs --output sigmoid");
    if (o->transfer_layers < 0 || o->freeze < 0)
        return dnn_fail(msg, DNN_EINVAL, "--%s must be >= 0, got %ld", o->freeze < 0 ? "freeze" : "transfer-layers",
                        o->freeze < 0 ? o->freeze : o->transfer_layers);
    if (o->freeze > o->n_layers)
        return dnn_fail(msg, DNN_EINVAL, "--freeze %ld is beyond L-1 = %d: this network has %d hidden layer%s and the "
                        "output layer, which must train", o->freeze, o->n_layers, o->n_layers, o->n_layers == 1 ? "" : "s");
    if (o->transfer_layers > o->n_layers + 1)
        return dnn_fail(msg, DNN_EINVAL, "--transfer-layers %ld is beyond L = %d", o->transfer_layers, o->n_layers + 1);
    if ((o->freeze || o->transfer_layers) && !o->init_from[0])
        return dnn_fail(msg, DNN_EINVAL, "--%s needs --init-from CKPT", o->freeze ? "freeze" : "transfer-layers");
    if (o->report[0] && !dnn_report_name_ok(o->report))
        return dnn_fail(msg, DNN_EINVAL, "--report '%s': the name must end in .md or .json", o->report);
    if (o->report[0] && !o->validation[0] && !(o->validation_split > 0))
        return dnn_fail(msg, DNN_EINVAL, "--report needs a dev set: --validation FILE or --validation-split F");
    if (o->report[0] && o->output == DNN_ACT_LINEAR)
        return dnn_fail(msg, DNN_EINVAL, "--report needs a classifier (--output sigmoid or softmax)");
    if (o->freeze && o->batch_norm)
        return dnn_fail(msg, DNN_EINVAL, "--freeze with --batch-norm is not supported yet (--init-from is)");
    if (o->freeze && o->transfer_layers && o->freeze > o->transfer_layers)
        return dnn_fail(msg, DNN_EINVAL, "--freeze %ld exceeds --transfer-layers %ld (only transferred layers can be frozen)",
                        o->freeze, o->transfer_layers);
    if (o->quiet && o->verbose)
        return dnn_fail(msg, DNN_EINVAL, "--quiet and --verbose exclude each other");
    return validate_course2(o, msg);
}

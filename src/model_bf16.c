/*
 * model_bf16.c - --precision bf16: the hooks of model.c's float code
 * (README, Data-parallel training and determinism).
 *
 * The products of layers whose sides are all >= DNN_BF16_MIN run on bfloat16
 * copies written by passes that touch the data anyway: the activation pass
 * writes the copy of A[l] column by column, the activation-derivative pass
 * that of dZ[l], the update that of W.
 */
#include "model_bf16.h"

#include <stdint.h>
#include <string.h>

#include "dnn/activation.h"
#include "dnn/matrix.h"

#define BF16_PARTS 8       /* column ranges of a parallel element-wise pass, at most */
#define BF16_PART_MIN 8192 /* elements per range, at least */

static int bf16_on(const dnn_model_t *m, int l) { return m->prec == DNN_BF16 && (m->bf16 >> l & 1); }

/* The column count of a bf16 product: cols rounded up to bf16_q.  The extra
 * columns of the bf16 operands are zeros (so dW's sum over them adds 0) and
 * those of the outputs are never read. */
static size_t bf16_cols(const dnn_model_t *m, size_t cols) { return (cols + m->bf16_q - 1) / m->bf16_q * m->bf16_q; }

static void bf16_zero_tail(const dnn_model_t *m, uint16_t *X, size_t rows, size_t cols)
{
    memset(X + rows * cols, 0, rows * (bf16_cols(m, cols) - cols) * sizeof *X);
}

/* Buffers, the choice of layers, and the primitives of full blocks, at set-up. */
int dnn_bf16_init(dnn_model_t *m, char *msg)
{
    int rc = dnn_matrix_bf16_init(msg);
    size_t ab = 0, nmax = 0, B = (m->bmax + m->bf16_q - 1) / m->bf16_q * m->bf16_q;
    for (int l = 1; l <= m->L && !rc; l++) {
        size_t nl = m->n[l], np = m->n[l - 1];
        nmax = nl > nmax ? nl : nmax;
        m->off_ab[l - 1] = ab;
        if (nl < DNN_BF16_MIN || np < DNN_BF16_MIN)
            continue;
        m->bf16 |= (uint64_t)1 << l;
        ab += np * B; /* sizes were checked against the float buffers */
        rc = dnn_matrix_bf16_prepare(1, 0, nl, B, np, np, np, nl, 0, msg);
        for (int beta = 0; beta < 2 && !rc; beta++)
            rc = dnn_matrix_bf16_prepare(0, 1, np, nl, B, np, nl, np, (float)beta, msg);
        if (!rc && l > 1)
            rc = dnn_matrix_bf16_prepare(0, 0, np, B, nl, np, nl, np, 0, msg);
    }
    if (!rc) {
        m->wb = dnn_alloc(m->nparams, sizeof(uint16_t));
        m->ab = dnn_alloc(ab ? ab : 1, sizeof(uint16_t));
        m->dzb = dnn_alloc(nmax * B, sizeof(uint16_t));
        m->dbp = dnn_alloc(nmax * BF16_PARTS, sizeof(float));
        if (!m->wb || !m->ab || !m->dzb || !m->dbp)
            rc = dnn_fail(msg, DNN_ENOMEM, "cannot allocate the bf16 copies of the network's buffers");
    }
    m->wb_stale = 1;
    if (rc)
        dnn_model_free(m);
    return rc;
}

void dnn_model_params_changed(dnn_model_t *m) { m->wb_stale = 1; }

void dnn_model_set_input_bf16(dnn_model_t *m, const uint16_t *xb) { m->xb = xb; }

int dnn_model_bf16_input(const dnn_model_t *m) { return bf16_on(m, 1); }

void dnn_model_bf16_refresh(dnn_model_t *m, size_t lo, size_t hi)
{
    for (int l = 1; l <= m->L; l++) {
        size_t a = m->off_W[l] > lo ? m->off_W[l] : lo, b = m->off_b[l] < hi ? m->off_b[l] : hi;
        if (bf16_on(m, l) && a < b)
            dnn_matrix_to_bf16(m->wb + a, (const float *)m->params + a, b - a);
    }
}

/* Start of a pass: W's copy up to date, and the bf16 X that layer 1 reads. */
void dnn_bf16_begin(dnn_model_t *m, const void *X, size_t cols)
{
    if (m->prec != DNN_BF16)
        return;
    if (m->wb_stale) {
        dnn_model_bf16_refresh(m, 0, m->nparams);
        m->wb_stale = 0;
    }
    m->x0b = m->xb;
    m->xb = NULL;
    if (!bf16_on(m, 1))
        return;
    uint16_t *x0 = m->ab + m->off_ab[0];
    if (!m->x0b)
        dnn_matrix_to_bf16(x0, X, m->n[0] * cols);
    else if (cols % m->bf16_q) /* the given copy has no zero columns after cols: make them here */
        memcpy(x0, m->x0b, m->n[0] * cols * sizeof *x0);
    else
        return;
    bf16_zero_tail(m, x0, m->n[0], cols);
    m->x0b = x0;
}

/* What layer l reads, in bf16. */
static const uint16_t *bf16_input(const dnn_model_t *m, int l) { return l == 1 ? m->x0b : m->ab + m->off_ab[l - 1]; }

int dnn_bf16_forward(dnn_model_t *m, int l, void *A, size_t cols)
{
    if (!bf16_on(m, l))
        return 0;
    size_t nl = m->n[l], np = m->n[l - 1];
    dnn_matrix_gemm_bf16(1, 0, nl, bf16_cols(m, cols), np, 1, m->wb + m->off_W[l], np, bf16_input(m, l), np, 0, A, nl);
    return 1;
}

/* The element-wise passes of bf16 layers run on the matrix pool in BF16_PARTS
 * column ranges that depend only on cols (so any thread count gives the same
 * bits); db is summed per range, then the ranges in order. */

typedef struct {
    dnn_model_t *m;
    int l, overwrite, parts;
    float *Z; /* A (forward) or dZ (backward) */
    size_t cols;
} bf16_pass_t;

static void bf16_range(const bf16_pass_t *q, int t, size_t *j0, size_t *j1)
{
    *j0 = q->cols * (size_t)t / (size_t)q->parts;
    *j1 = q->cols * (size_t)(t + 1) / (size_t)q->parts;
}

static int bf16_parts(size_t n, size_t cols)
{
    int P = 1;
    while (P < BF16_PARTS && cols >= (size_t)(2 * P) && n * cols / (size_t)(2 * P) >= BF16_PART_MIN)
        P *= 2;
    return P;
}

static void bf16_forward_part(void *ctx, size_t lo, size_t hi)
{
    const bf16_pass_t *q = ctx;
    dnn_model_t *m = q->m;
    size_t nl = m->n[q->l], j0, j1;
    const float *b = (const float *)m->params + m->off_b[q->l];
    uint16_t *out = m->ab + m->off_ab[q->l];
    for (size_t t = lo; t < hi; t++) {
        bf16_range(q, (int)t, &j0, &j1);
        for (size_t j = j0; j < j1; j++) { /* the column is still in cache for its copy */
            float *a = q->Z + j * nl;
            dnn_act_forward_s(a, b, nl, 1, m->hidden, (float)m->slope);
            dnn_matrix_to_bf16(out + j * nl, a, nl);
        }
    }
}

/* Hidden layer l's activation, writing layer l+1's bf16 input column by column
 * while the column is in cache (with dropout the copy is made after it). */
int dnn_bf16_act_forward(dnn_model_t *m, int l, void *A, size_t cols, int drop)
{
    if (!bf16_on(m, l + 1) || drop)
        return 0;
    bf16_pass_t q = {m, l, 0, bf16_parts(m->n[l], cols), A, cols};
    dnn_matrix_parallel(bf16_forward_part, &q, (size_t)q.parts, 1);
    bf16_zero_tail(m, m->ab + m->off_ab[l], m->n[l], cols);
    return 1;
}

void dnn_bf16_after_dropout(dnn_model_t *m, int l, size_t cols)
{
    if (!bf16_on(m, l + 1))
        return;
    dnn_matrix_to_bf16(m->ab + m->off_ab[l], (const float *)m->dropped + m->off_A[l], m->n[l] * cols);
    bf16_zero_tail(m, m->ab + m->off_ab[l], m->n[l], cols);
}

/* dZ[L] from the loss: its bf16 copy (layers below get theirs in bf16_act_backward). */
void dnn_bf16_dz(dnn_model_t *m, int l, const void *dZ, size_t cols)
{
    if (!bf16_on(m, l))
        return;
    dnn_matrix_to_bf16(m->dzb, dZ, m->n[l] * cols);
    bf16_zero_tail(m, m->dzb, m->n[l], cols);
}

int dnn_bf16_dw(dnn_model_t *m, int l, float beta, size_t cols)
{
    if (!bf16_on(m, l))
        return 0;
    size_t nl = m->n[l], np = m->n[l - 1];
    float *G = (float *)m->grads + m->off_W[l];
    dnn_matrix_gemm_bf16(0, 1, np, nl, bf16_cols(m, cols), 1, bf16_input(m, l), np, m->dzb, nl, beta, G, np);
    return 1;
}

int dnn_bf16_da(dnn_model_t *m, int l, void *dA, size_t cols)
{
    if (!bf16_on(m, l))
        return 0;
    size_t nl = m->n[l], np = m->n[l - 1];
    dnn_matrix_gemm_bf16(0, 0, np, bf16_cols(m, cols), nl, 1, m->wb + m->off_W[l], np, m->dzb, nl, 0, dA, np);
    return 1;
}

static void bf16_backward_part(void *ctx, size_t lo, size_t hi)
{
    const bf16_pass_t *q = ctx;
    dnn_model_t *m = q->m;
    size_t nl = m->n[q->l], j0, j1;
    const float *A = (const float *)m->acts + m->off_A[q->l];
    for (size_t t = lo; t < hi; t++) {
        float *db = m->dbp + t * nl; /* this range's db */
        bf16_range(q, (int)t, &j0, &j1);
        for (size_t j = j0; j < j1; j++) {
            float *dz = q->Z + j * nl;
            dnn_act_backward_s(dz, A + j * nl, db, nl, 1, m->hidden, (float)m->slope, j == j0);
            dnn_matrix_to_bf16(m->dzb + j * nl, dz, nl);
        }
    }
}

/* dZ[l] = dA[l] g'(Z[l]) and db[l], writing dZ[l]'s bf16 copy column by column. */
int dnn_bf16_act_backward(dnn_model_t *m, int l, void *dZ, size_t cols, int overwrite)
{
    if (!bf16_on(m, l))
        return 0;
    size_t nl = m->n[l];
    float *db = (float *)m->grads + m->off_b[l];
    bf16_pass_t q = {m, l, overwrite, bf16_parts(nl, cols), dZ, cols};
    dnn_matrix_parallel(bf16_backward_part, &q, (size_t)q.parts, 1);
    bf16_zero_tail(m, m->dzb, nl, cols);
    for (int t = 0; t < q.parts; t++) { /* the ranges' sums, in order */
        const float *p = m->dbp + (size_t)t * nl;
        for (size_t i = 0; i < nl; i++)
            db[i] = overwrite && t == 0 ? p[i] : db[i] + p[i];
    }
    return 1;
}

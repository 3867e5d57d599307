/* The oneDNN backend: the only file that includes oneDNN. It runs the whole ResNet trunk (stem to
 * the last block) as plans of oneDNN primitives made once per batch size, with activations in the
 * layouts oneDNN chooses (format_tag_any: nChw8c on AVX2, nChw16c on AVX-512) from end to end;
 * reorders happen only at the edges: the input image batch, the feature map handed to the head
 * (plain NCHW), the weights (fp32 OIHW master copies in model->params) and their gradients.
 *
 * Training plan: convolution forward/backward-data/backward-weights, batch normalisation with the
 * ReLU fused where one follows (dnnl_fuse_norm_relu), binary add + ReLU post-op for the residual,
 * max pooling with its workspace. Running statistics and num_batches_tracked are updated as
 * PyTorch does (unbiased variance into running_var). Backward gradients flow through four shared
 * buffers, as in the reference path.
 *
 * Inference plan: BatchNorm folded into the convolution weights and a bias, ReLU as an eltwise
 * post-op, the residual add as a sum post-op into the shortcut's buffer; folded weights are made
 * once per change of the model's parameters (model->generation).
 *
 * bf16: the same plans with bf16 activations and weights (reordered from the fp32 masters) in
 * channels-last (nhwc), the layout of oneDNN's AMX kernels; weight gradients, BatchNorm statistics
 * and the convolution bias (inference) stay fp32, and so does everything at the edges. */
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/status.h"
#include "nn/pool.h"
#include "nn/resnet.h"

#if DNNL_VERSION_MAJOR != 2
#error "relage's oneDNN backend is written for oneDNN 2.x (Debian 12: libdnnl-dev 2.6.3)"
#endif

static const float BN_MOMENTUM = 0.1f, BN_EPS = 1e-5f;
enum { MAX_ARGS = 12, MAX_PLANS = 4 };

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
}

/* ---- steps: a primitive and its arguments ---- */

typedef struct step {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[MAX_ARGS];
} step;

typedef struct seq {
    step *s;
    int n, cap;
} seq;

/* What a unit (convolution + batch normalisation) needs in a plan. */
typedef struct unit_plan {
    const conv_bn *u;
    dnnl_primitive_desc_t conv_pd, bwd_data_pd, bwd_w_pd, bn_pd, bn_bwd_pd;
    dnnl_memory_t src; /* the unit's input activation */
    dnnl_memory_t w_fwd, w_bwd, dw, conv_out, bn_out, ws, mean, var, dscale, dshift;
    dnnl_memory_t bias;            /* inference: over fold_b */
    dnnl_memory_t bw_src, bw_ddst; /* plain copies for a plain-layout backward weights, or NULL */
    float *fold_w, *fold_b;        /* inference: folded weights (OIHW) and bias */
    size_t per_channel;            /* B*OH*OW, for the unbiased variance */
} unit_plan;

typedef struct plan {
    int B, training;
    dnnl_data_type_t dt;  /* of activations and weights: f32 or bf16 */
    uint64_t generation; /* inference: of the folded weights */
    seq pre, fwd, bwd;   /* pre: weight reorders (training) or folding reorders (inference) */
    unit_plan *units;
    int n_units;
    dnnl_memory_t *mems;
    int n_mems, cap_mems;
    dnnl_primitive_desc_t *pds;
    int n_pds, cap_pds;
    void *shared[4]; /* backward gradients (training) or rotating activations (inference) */
    size_t shared_bytes;
    dnnl_memory_t input, feat, dfeat; /* user memories whose handles are set per call */
    relage_status status;
} plan;

struct backend_trunk {
    dnnl_stream_t stream;
    dnnl_data_type_t dt;
    plan *plans[MAX_PLANS];
    int n_plans;
};

static relage_status fail_dnnl(dnnl_status_t s, const char *what) {
    return relage_fail(RELAGE_ERR_UNSUPPORTED, "oneDNN: %s failed: %s", what, dnnl_status2str(s));
}

#define TRY(p, call, what)                                                                         \
    do {                                                                                           \
        if ((p)->status == RELAGE_OK) {                                                            \
            dnnl_status_t s_ = (call);                                                             \
            if (s_ != dnnl_success) (p)->status = fail_dnnl(s_, what);                             \
        }                                                                                          \
    } while (0)

static int grow(void **arr, int *cap, int n, size_t size) {
    if (n < *cap) return 1;
    int c = *cap ? 2 * *cap : 64;
    void *a = realloc(*arr, (size_t)c * size);
    if (!a) return 0;
    *arr = a;
    *cap = c;
    return 1;
}

static void keep_pd(plan *p, dnnl_primitive_desc_t pd) {
    if (!grow((void **)&p->pds, &p->cap_pds, p->n_pds, sizeof *p->pds)) {
        dnnl_primitive_desc_destroy(pd);
        p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
        return;
    }
    p->pds[p->n_pds++] = pd;
}

/* A memory object on md: plan-owned storage when handle is DNNL_MEMORY_ALLOCATE, else the
 * given buffer (or none yet, DNNL_MEMORY_NONE). */
static dnnl_memory_t new_mem(plan *p, const dnnl_memory_desc_t *md, void *handle) {
    dnnl_memory_t m = NULL;
    if (p->status != RELAGE_OK) return NULL;
    if (!grow((void **)&p->mems, &p->cap_mems, p->n_mems, sizeof *p->mems)) {
        p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
        return NULL;
    }
    TRY(p, dnnl_memory_create(&m, md, engine, handle), "memory_create");
    if (p->status != RELAGE_OK) return NULL;
    p->mems[p->n_mems++] = m;
    return m;
}

static const dnnl_memory_desc_t *md_of(dnnl_memory_t m) {
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

static const dnnl_memory_desc_t *pd_md(dnnl_primitive_desc_t pd, int arg) {
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* Appends a step running pd's primitive with the given (arg, memory) pairs. */
static void push(plan *p, seq *q, dnnl_primitive_desc_t pd, int nargs,
                 const dnnl_exec_arg_t *args) {
    if (p->status != RELAGE_OK) return;
    if (!grow((void **)&q->s, &q->cap, q->n, sizeof *q->s)) {
        p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
        return;
    }
    step *st = &q->s[q->n];
    memset(st, 0, sizeof *st);
    TRY(p, dnnl_primitive_create(&st->prim, pd), "primitive_create");
    if (p->status != RELAGE_OK) return;
    st->nargs = nargs;
    memcpy(st->args, args, (size_t)nargs * sizeof *args);
    q->n++;
}

static dnnl_primitive_desc_t make_pd(plan *p, const void *desc, const_dnnl_primitive_attr_t attr,
                                     const_dnnl_primitive_desc_t hint, const char *what) {
    dnnl_primitive_desc_t pd = NULL;
    TRY(p, dnnl_primitive_desc_create(&pd, desc, attr, engine, hint), what);
    if (p->status != RELAGE_OK) return NULL;
    keep_pd(p, pd);
    return p->status == RELAGE_OK ? pd : NULL;
}

/* Reorders src into dst; with accumulate, dst += src (a sum post-op). */
static void push_reorder(plan *p, seq *q, dnnl_memory_t src, dnnl_memory_t dst, int accumulate) {
    if (p->status != RELAGE_OK) return;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (accumulate) {
        TRY(p, dnnl_primitive_attr_create(&attr), "attr_create");
        TRY(p, dnnl_post_ops_create(&po), "post_ops_create");
        TRY(p, dnnl_post_ops_append_sum(po, 1.0f), "post_ops_append_sum");
        TRY(p, dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    }
    dnnl_primitive_desc_t pd = NULL;
    TRY(p, dnnl_reorder_primitive_desc_create(&pd, md_of(src), engine, md_of(dst), engine, attr),
        "reorder");
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (p->status != RELAGE_OK) return;
    keep_pd(p, pd);
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    push(p, q, pd, 2, a);
}

static int same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
    return dnnl_memory_desc_equal(a, b) != 0;
}

/* The layouts oneDNN picked must chain; relage does not insert reorders inside the trunk. */
static void need_same(plan *p, const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b,
                      const char *where) {
    if (p->status == RELAGE_OK && !same_md(a, b))
        p->status = relage_fail(RELAGE_ERR_UNSUPPORTED,
                                "oneDNN chose different layouts at %s; not supported", where);
}

static void plain_md(plan *p, dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                     dnnl_format_tag_t tag) {
    TRY(p, dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag), "memory_desc");
}

static float *alloc_floats(plan *p, size_t n) {
    if (p->status != RELAGE_OK) return NULL;
    float *f = calloc(n ? n : 1, sizeof(float));
    if (!f) p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
    return f;
}

/* ---- building a plan ---- */

typedef struct builder {
    plan *p;
    model *m;
    size_t max_bytes; /* largest activation, for the shared buffers */
} builder;

static void note_size(builder *b, const dnnl_memory_desc_t *md) {
    size_t s = dnnl_memory_desc_get_size(md);
    if (s > b->max_bytes) b->max_bytes = s;
}

static void conv_dims(const conv_bn *u, int B, dnnl_dims_t src, dnnl_dims_t wei, dnnl_dims_t dst) {
    const conv2d_shape *s = &u->conv;
    int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    dnnl_dims_t sv = {B, s->C, s->H, s->W}, wv = {s->OC, s->C, s->KH, s->KW},
                dv = {B, s->OC, OH, OW};
    memcpy(src, sv, sizeof sv);
    memcpy(wei, wv, sizeof wv);
    memcpy(dst, dv, sizeof dv);
}

/* Creates the unit's primitive descriptors and forward memories; src is its input activation
 * (NULL for the stem: its input layout is left to oneDNN and reordered from the user's NCHW).
 * The output layout is oneDNN's choice unless want_dst is given: the two branches of a residual
 * add must agree, which oneDNN's choices do by themselves only for channel counts that are
 * multiples of the vector width. */
static int impl_is_ref(dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
           impl && strncmp(impl, "ref", 3) == 0;
}

/* oneDNN 2.6 has no AVX2 kernel for backward weights on some tiny maps (3x3 on 2x2, as a 64 px
 * input leaves ResNet's last stage) and falls back to its reference code, ~1 s per call. Its GEMM
 * kernels take plain NCHW: when they do, the unit's backward weights reads plain copies of its
 * input and output gradient instead (two reorders). */
static void plain_backward_weights(plan *p, unit_plan *up, const dnnl_dims_t sd,
                                   const dnnl_memory_desc_t *wmd /* f32 */, const dnnl_dims_t dd,
                                   const dnnl_dims_t strides, const dnnl_dims_t pad) {
    dnnl_memory_desc_t ps, pdst;
    plain_md(p, &ps, 4, sd, dnnl_nchw);
    plain_md(p, &pdst, 4, dd, dnnl_nchw);
    dnnl_convolution_desc_t hint_desc, bw_desc;
    dnnl_primitive_desc_t hint = NULL, bw = NULL;
    if (p->status != RELAGE_OK ||
        dnnl_convolution_forward_desc_init(&hint_desc, dnnl_forward_training,
                                           dnnl_convolution_direct, &ps, wmd, NULL, &pdst, strides,
                                           pad, pad) != dnnl_success ||
        dnnl_convolution_backward_weights_desc_init(&bw_desc, dnnl_convolution_direct, &ps, wmd,
                                                    NULL, &pdst, strides, pad,
                                                    pad) != dnnl_success ||
        dnnl_primitive_desc_create(&hint, &hint_desc, NULL, engine, NULL) != dnnl_success ||
        dnnl_primitive_desc_create(&bw, &bw_desc, NULL, engine, hint) != dnnl_success ||
        impl_is_ref(bw)) { /* keep what there was */
        if (bw) dnnl_primitive_desc_destroy(bw);
        if (hint) dnnl_primitive_desc_destroy(hint);
        return;
    }
    keep_pd(p, hint);
    keep_pd(p, bw);
    up->bwd_w_pd = bw;
    up->bw_src = new_mem(p, &ps, DNNL_MEMORY_ALLOCATE);
    up->bw_ddst = new_mem(p, &pdst, DNNL_MEMORY_ALLOCATE);
}

/* The activation layout asked for: oneDNN's choice in f32; channels-last in bf16, the layout its
 * AMX kernels run on (in a blocked layout bf16 convolutions fall to kernels ~10x slower). */
static dnnl_format_tag_t act_layout(const plan *p) {
    return p->dt == dnnl_bf16 ? dnnl_nhwc : dnnl_format_tag_any;
}

static void build_unit_plan(builder *b, unit_plan *up, const conv_bn *u, dnnl_memory_t src,
                            int post_relu_sum, const dnnl_memory_desc_t *want_dst);

/* build_unit_plan, with a failure named after the unit's convolution (e.g. "layer3.1.conv2"). */
static void build_unit(builder *b, unit_plan *up, const conv_bn *u, dnnl_memory_t src,
                       int post_relu_sum, const dnnl_memory_desc_t *want_dst) {
    build_unit_plan(b, up, u, src, post_relu_sum, want_dst);
    if (b->p->status == RELAGE_OK) return;
    for (size_t i = 0; i < b->m->n_tensors; i++) {
        const model_tensor *t = &b->m->tensors[i];
        if (t->kind == TENSOR_PARAM && t->offset == u->weight) {
            relage_fail_context(b->p->status, "%.*s", (int)(strlen(t->name) - strlen(".weight")),
                                t->name);
            break;
        }
    }
}

static void build_unit_plan(builder *b, unit_plan *up, const conv_bn *u, dnnl_memory_t src,
                            int post_relu_sum, const dnnl_memory_desc_t *want_dst) {
    plan *p = b->p;
    model *m = b->m;
    up->u = u;
    dnnl_dims_t sd, wd, dd, bias_d = {u->conv.OC};
    conv_dims(u, p->B, sd, wd, dd);
    dnnl_dims_t strides = {u->conv.stride, u->conv.stride}, pad = {u->conv.pad, u->conv.pad};
    dnnl_memory_desc_t smd, wmd, dwmd, dmd, bmd, plain_w;
    TRY(p, dnnl_memory_desc_init_by_tag(&smd, 4, sd, p->dt, dnnl_format_tag_any), "md");
    TRY(p, dnnl_memory_desc_init_by_tag(&wmd, 4, wd, p->dt, dnnl_format_tag_any), "md");
    TRY(p, dnnl_memory_desc_init_by_tag(&dwmd, 4, wd, dnnl_f32, dnnl_format_tag_any), "md");
    TRY(p, dnnl_memory_desc_init_by_tag(&dmd, 4, dd, p->dt, act_layout(p)), "md");
    plain_md(p, &bmd, 1, bias_d, dnnl_x);
    plain_md(p, &plain_w, 4, wd, dnnl_oihw);
    if (src) smd = *md_of(src);
    if (want_dst) dmd = *want_dst;
    up->per_channel = (size_t)dd[0] * dd[2] * dd[3];
    if (p->status != RELAGE_OK) return;

    if (!p->training) {
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        TRY(p, dnnl_primitive_attr_create(&attr), "attr");
        TRY(p, dnnl_post_ops_create(&po), "post_ops");
        if (post_relu_sum) TRY(p, dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        if (u->relu || post_relu_sum)
            TRY(p, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu");
        TRY(p, dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
        dnnl_convolution_desc_t cd;
        TRY(p,
            dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                               &smd, &wmd, &bmd, &dmd, strides, pad, pad),
            "convolution desc");
        if (p->status == RELAGE_OK) up->conv_pd = make_pd(p, &cd, attr, NULL, "inference conv");
        if (po) dnnl_post_ops_destroy(po);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (p->status != RELAGE_OK) return;
        if (src) need_same(p, pd_md(up->conv_pd, DNNL_ARG_SRC), md_of(src), "a convolution input");
        size_t wn = (size_t)wd[0] * wd[1] * wd[2] * wd[3];
        up->fold_w = alloc_floats(p, wn);
        up->fold_b = alloc_floats(p, (size_t)u->conv.OC);
        dnnl_memory_t wplain = new_mem(p, &plain_w, up->fold_w);
        up->w_fwd = new_mem(p, pd_md(up->conv_pd, DNNL_ARG_WEIGHTS), DNNL_MEMORY_ALLOCATE);
        up->bias = new_mem(p, &bmd, up->fold_b);
        push_reorder(p, &p->pre, wplain, up->w_fwd, 0);
        note_size(b, pd_md(up->conv_pd, DNNL_ARG_DST));
        return;
    }

    dnnl_convolution_desc_t cf, cbd, cbw;
    TRY(p,
        dnnl_convolution_forward_desc_init(&cf, dnnl_forward_training, dnnl_convolution_direct,
                                           &smd, &wmd, NULL, &dmd, strides, pad, pad),
        "convolution desc");
    if (p->status == RELAGE_OK) up->conv_pd = make_pd(p, &cf, NULL, NULL, "training conv");
    if (p->status != RELAGE_OK) return;
    const dnnl_memory_desc_t *src_md = pd_md(up->conv_pd, DNNL_ARG_SRC),
                             *dst_md = pd_md(up->conv_pd, DNNL_ARG_DST);
    if (src) need_same(p, src_md, md_of(src), "a convolution input");
    TRY(p,
        dnnl_convolution_backward_weights_desc_init(&cbw, dnnl_convolution_direct, src_md, &dwmd,
                                                    NULL, dst_md, strides, pad, pad),
        "backward weights desc");
    if (p->status == RELAGE_OK)
        up->bwd_w_pd = make_pd(p, &cbw, NULL, up->conv_pd, "conv backward weights");
    if (src) {
        TRY(p,
            dnnl_convolution_backward_data_desc_init(&cbd, dnnl_convolution_direct, src_md, &wmd,
                                                     dst_md, strides, pad, pad),
            "backward data desc");
        if (p->status == RELAGE_OK)
            up->bwd_data_pd = make_pd(p, &cbd, NULL, up->conv_pd, "conv backward data");
    }
    if (p->status != RELAGE_OK) return;
    if (impl_is_ref(up->bwd_w_pd)) plain_backward_weights(p, up, sd, &dwmd, dd, strides, pad);
    if (!up->bw_src) {
        need_same(p, pd_md(up->bwd_w_pd, DNNL_ARG_SRC), src_md, "backward weights (src)");
        need_same(p, pd_md(up->bwd_w_pd, DNNL_ARG_DIFF_DST), dst_md, "backward weights (diff)");
    }
    if (up->bwd_data_pd) {
        need_same(p, pd_md(up->bwd_data_pd, DNNL_ARG_DIFF_SRC), src_md, "backward data");
        need_same(p, pd_md(up->bwd_data_pd, DNNL_ARG_DIFF_DST), dst_md, "backward data (dst)");
    }

    unsigned flags = dnnl_use_scale | dnnl_use_shift | (u->relu ? dnnl_fuse_norm_relu : 0);
    dnnl_batch_normalization_desc_t bf, bb;
    TRY(p,
        dnnl_batch_normalization_forward_desc_init(&bf, dnnl_forward_training, dst_md, BN_EPS,
                                                   flags),
        "batch norm desc");
    if (p->status == RELAGE_OK) up->bn_pd = make_pd(p, &bf, NULL, NULL, "batch norm");
    TRY(p,
        dnnl_batch_normalization_backward_desc_init(&bb, dnnl_backward, dst_md, dst_md, BN_EPS,
                                                    flags),
        "batch norm backward desc");
    if (p->status == RELAGE_OK)
        up->bn_bwd_pd = make_pd(p, &bb, NULL, up->bn_pd, "batch norm backward");
    if (p->status != RELAGE_OK) return;
    need_same(p, pd_md(up->bn_pd, DNNL_ARG_DST), dst_md, "batch norm");

    dnnl_memory_t wplain = new_mem(p, &plain_w, m->params + u->weight);
    up->w_fwd = new_mem(p, pd_md(up->conv_pd, DNNL_ARG_WEIGHTS), DNNL_MEMORY_ALLOCATE);
    push_reorder(p, &p->pre, wplain, up->w_fwd, 0);
    if (up->bwd_data_pd) {
        const dnnl_memory_desc_t *bw = pd_md(up->bwd_data_pd, DNNL_ARG_WEIGHTS);
        if (p->status == RELAGE_OK && same_md(bw, md_of(up->w_fwd))) {
            up->w_bwd = up->w_fwd;
        } else {
            up->w_bwd = new_mem(p, bw, DNNL_MEMORY_ALLOCATE);
            push_reorder(p, &p->pre, wplain, up->w_bwd, 0);
        }
    }
    up->dw = new_mem(p, pd_md(up->bwd_w_pd, DNNL_ARG_DIFF_WEIGHTS), DNNL_MEMORY_ALLOCATE);
    up->src = src;
    up->conv_out = new_mem(p, dst_md, DNNL_MEMORY_ALLOCATE);
    up->bn_out = new_mem(p, dst_md, DNNL_MEMORY_ALLOCATE);
    const dnnl_memory_desc_t *ws = pd_md(up->bn_pd, DNNL_ARG_WORKSPACE);
    if (ws && ws->ndims) up->ws = new_mem(p, ws, DNNL_MEMORY_ALLOCATE);
    dnnl_memory_desc_t cmd;
    plain_md(p, &cmd, 1, bias_d, dnnl_x);
    up->mean = new_mem(p, &cmd, DNNL_MEMORY_ALLOCATE);
    up->var = new_mem(p, &cmd, DNNL_MEMORY_ALLOCATE);
    up->dscale = new_mem(p, &cmd, DNNL_MEMORY_ALLOCATE);
    up->dshift = new_mem(p, &cmd, DNNL_MEMORY_ALLOCATE);
    note_size(b, dst_md);
}

/* Forward steps of a training unit: convolution, then batch normalisation (+ReLU). */
static void push_unit_forward(plan *p, unit_plan *up, dnnl_memory_t src, float *params) {
    dnnl_memory_t gamma = NULL, beta = NULL;
    dnnl_memory_desc_t cmd;
    dnnl_dims_t c = {up->u->conv.OC};
    plain_md(p, &cmd, 1, c, dnnl_x);
    gamma = new_mem(p, &cmd, params + up->u->gamma);
    beta = new_mem(p, &cmd, params + up->u->beta);
    dnnl_exec_arg_t conv[3] = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, up->w_fwd}, {DNNL_ARG_DST, up->conv_out}};
    push(p, &p->fwd, up->conv_pd, 3, conv);
    dnnl_exec_arg_t bn[7] = {{DNNL_ARG_SRC, up->conv_out}, {DNNL_ARG_DST, up->bn_out},
                             {DNNL_ARG_MEAN, up->mean},    {DNNL_ARG_VARIANCE, up->var},
                             {DNNL_ARG_SCALE, gamma},      {DNNL_ARG_SHIFT, beta},
                             {DNNL_ARG_WORKSPACE, up->ws}};
    push(p, &p->fwd, up->bn_pd, up->ws ? 7 : 6, bn);
}

/* Backward steps of a training unit: d (the gradient of its output, in a shared buffer) through
 * batch normalisation into q, then the weight gradient (accumulated into model->grads) and, if
 * dsrc, the input gradient. */
static void push_unit_backward(plan *p, model *m, unit_plan *up, dnnl_memory_t d, dnnl_memory_t q,
                               dnnl_memory_t dsrc, dnnl_memory_t src) {
    dnnl_memory_desc_t cmd;
    dnnl_dims_t c = {up->u->conv.OC};
    plain_md(p, &cmd, 1, c, dnnl_x);
    dnnl_memory_t gamma = new_mem(p, &cmd, m->params + up->u->gamma);
    dnnl_memory_t beta = new_mem(p, &cmd, m->params + up->u->beta); /* asked for, not read */
    dnnl_exec_arg_t bn[10] = {{DNNL_ARG_SRC, up->conv_out},
                              {DNNL_ARG_MEAN, up->mean},
                              {DNNL_ARG_VARIANCE, up->var},
                              {DNNL_ARG_DIFF_DST, d},
                              {DNNL_ARG_SCALE, gamma},
                              {DNNL_ARG_SHIFT, beta},
                              {DNNL_ARG_DIFF_SRC, q},
                              {DNNL_ARG_DIFF_SCALE, up->dscale},
                              {DNNL_ARG_DIFF_SHIFT, up->dshift},
                              {DNNL_ARG_WORKSPACE, up->ws}};
    push(p, &p->bwd, up->bn_bwd_pd, up->ws ? 10 : 9, bn);
    if (up->bw_src) { /* the plain-layout backward weights */
        push_reorder(p, &p->bwd, src, up->bw_src, 0);
        push_reorder(p, &p->bwd, q, up->bw_ddst, 0);
    }
    dnnl_exec_arg_t bw[3] = {{DNNL_ARG_SRC, up->bw_src ? up->bw_src : src},
                             {DNNL_ARG_DIFF_DST, up->bw_ddst ? up->bw_ddst : q},
                             {DNNL_ARG_DIFF_WEIGHTS, up->dw}};
    push(p, &p->bwd, up->bwd_w_pd, 3, bw);
    dnnl_dims_t wd = {up->u->conv.OC, up->u->conv.C, up->u->conv.KH, up->u->conv.KW};
    dnnl_memory_desc_t plain_w;
    plain_md(p, &plain_w, 4, wd, dnnl_oihw);
    push_reorder(p, &p->bwd, up->dw, new_mem(p, &plain_w, m->grads + up->u->weight), 1);
    if (dsrc) {
        dnnl_exec_arg_t bd[3] = {
            {DNNL_ARG_DIFF_DST, q}, {DNNL_ARG_WEIGHTS, up->w_bwd}, {DNNL_ARG_DIFF_SRC, dsrc}};
        push(p, &p->bwd, up->bwd_data_pd, 3, bd);
    }
}

/* A memory object over shared buffer i with the layout of md. */
static dnnl_memory_t shared(plan *p, int i, const dnnl_memory_desc_t *md) {
    return new_mem(p, md, p->shared[i]);
}

static void alloc_shared(plan *p, size_t bytes) {
    p->shared_bytes = bytes;
    for (int i = 0; i < 4 && p->status == RELAGE_OK; i++) {
        p->shared[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!p->shared[i])
            p->status =
                relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory (%zu MiB)", bytes >> 20);
    }
}

/* Per block, the units' plans: unit[0..n-1], then the downsample. */
static unit_plan *block_units(plan *p, model *m, int i) {
    int at = 1;
    for (int k = 0; k < i; k++) at += m->blocks[k].n_units + m->blocks[k].has_downsample;
    return &p->units[at];
}

/* The max pooling after the stem: 3x3, stride 2, padding 1, as torchvision's. */
static const dnnl_dims_t POOL_KERNEL = {3, 3}, POOL_STRIDES = {2, 2}, POOL_PAD = {1, 1};

static dnnl_primitive_desc_t maxpool_pd(plan *p, const model *m, dnnl_prop_kind_t prop,
                                        const dnnl_memory_desc_t *src) {
    int side = maxpool_out_size(conv2d_out_h(&m->stem.conv));
    dnnl_dims_t dims = {p->B, m->stem.conv.OC, side, side};
    dnnl_memory_desc_t dst;
    dnnl_pooling_desc_t desc;
    TRY(p, dnnl_memory_desc_init_by_tag(&dst, 4, dims, p->dt, dnnl_format_tag_any), "md");
    TRY(p,
        dnnl_pooling_forward_desc_init(&desc, prop, dnnl_pooling_max, src, &dst, POOL_STRIDES,
                                       POOL_KERNEL, POOL_PAD, POOL_PAD),
        "pooling desc");
    return p->status == RELAGE_OK ? make_pd(p, &desc, NULL, NULL, "max pooling") : NULL;
}

/* The feature map handed to the head: x reordered into the caller's plain NCHW (p->feat, whose
 * buffer is set per call). */
static void push_feature_out(plan *p, const model *m, dnnl_memory_t x) {
    dnnl_dims_t dims = {p->B, m->feat_c, m->feat_h, m->feat_w};
    dnnl_memory_desc_t md;
    plain_md(p, &md, 4, dims, dnnl_nchw);
    p->feat = new_mem(p, &md, DNNL_MEMORY_NONE);
    push_reorder(p, &p->fwd, x, p->feat, 0);
}

/* The stem unit, and the input image batch reordered from the user's NCHW if the stem wants
 * another layout; returns the memory the stem reads. */
static dnnl_memory_t build_stem(builder *b, dnnl_memory_t input) {
    plan *p = b->p;
    unit_plan *stem = &p->units[0];
    build_unit(b, stem, &b->m->stem, NULL, 0, NULL);
    if (p->status != RELAGE_OK) return NULL;
    const dnnl_memory_desc_t *want = pd_md(stem->conv_pd, DNNL_ARG_SRC);
    if (same_md(want, md_of(input))) return input;
    dnnl_memory_t x = new_mem(p, want, DNNL_MEMORY_ALLOCATE);
    push_reorder(p, &p->fwd, input, x, 0);
    return x;
}

static void build_training(builder *b, dnnl_memory_t input) {
    plan *p = b->p;
    model *m = b->m;
    unit_plan *stem = &p->units[0];
    dnnl_memory_t x = build_stem(b, input);
    if (p->status != RELAGE_OK) return;
    stem->src = x;
    push_unit_forward(p, stem, x, m->params);

    dnnl_primitive_desc_t pool_pd = maxpool_pd(p, m, dnnl_forward_training, md_of(stem->bn_out));
    if (p->status != RELAGE_OK) return;
    const dnnl_memory_desc_t *pool_md = pd_md(pool_pd, DNNL_ARG_DST);
    dnnl_pooling_desc_t pb;
    TRY(p,
        dnnl_pooling_backward_desc_init(&pb, dnnl_pooling_max, md_of(stem->bn_out), pool_md,
                                        POOL_STRIDES, POOL_KERNEL, POOL_PAD, POOL_PAD),
        "pooling backward desc");
    dnnl_primitive_desc_t pool_bwd_pd = make_pd(p, &pb, NULL, pool_pd, "max pooling backward");
    dnnl_memory_t pooled = new_mem(p, pool_md, DNNL_MEMORY_ALLOCATE);
    dnnl_memory_t pool_ws = new_mem(p, pd_md(pool_pd, DNNL_ARG_WORKSPACE), DNNL_MEMORY_ALLOCATE);
    dnnl_exec_arg_t pa[3] = {
        {DNNL_ARG_SRC, stem->bn_out}, {DNNL_ARG_DST, pooled}, {DNNL_ARG_WORKSPACE, pool_ws}};
    push(p, &p->fwd, pool_pd, 3, pa);
    note_size(b, pool_md);

    /* Forward through the blocks; remember each block's input and output. */
    dnnl_memory_t *block_in = calloc((size_t)m->n_blocks + 1, sizeof *block_in);
    dnnl_memory_t *block_out = calloc((size_t)m->n_blocks + 1, sizeof *block_out);
    dnnl_primitive_desc_t *relu_bwd = calloc((size_t)m->n_blocks + 1, sizeof *relu_bwd);
    dnnl_primitive_desc_t *add_pd = calloc((size_t)m->n_blocks + 1, sizeof *add_pd);
    if (!block_in || !block_out || !relu_bwd || !add_pd) {
        p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
        goto done;
    }
    x = pooled;
    for (int i = 0; i < m->n_blocks && p->status == RELAGE_OK; i++) {
        res_block *blk = &m->blocks[i];
        unit_plan *ups = block_units(p, m, i);
        block_in[i] = x;
        dnnl_memory_t in = x;
        for (int u = 0; u < blk->n_units; u++) {
            int last = u == blk->n_units - 1;
            build_unit(b, &ups[u], &blk->unit[u], in, 0,
                       last && !blk->has_downsample ? md_of(x) : NULL);
            if (p->status != RELAGE_OK) goto done;
            push_unit_forward(p, &ups[u], in, m->params);
            in = ups[u].bn_out;
        }
        dnnl_memory_t shortcut = x;
        if (blk->has_downsample) {
            unit_plan *ds = &ups[blk->n_units];
            build_unit(b, ds, &blk->downsample, x, 0, md_of(in));
            if (p->status != RELAGE_OK) goto done;
            push_unit_forward(p, ds, x, m->params);
            shortcut = ds->bn_out;
        }
        const dnnl_memory_desc_t *omd = md_of(in);
        need_same(p, md_of(shortcut), omd, "a residual add");
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        TRY(p, dnnl_primitive_attr_create(&attr), "attr");
        TRY(p, dnnl_post_ops_create(&po), "post_ops");
        TRY(p, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu");
        TRY(p, dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
        dnnl_binary_desc_t bd;
        TRY(p, dnnl_binary_desc_init(&bd, dnnl_binary_add, omd, omd, omd), "binary desc");
        dnnl_primitive_desc_t add_relu = make_pd(p, &bd, attr, NULL, "residual add");
        if (po) dnnl_post_ops_destroy(po);
        if (attr) dnnl_primitive_attr_destroy(attr);
        add_pd[i] = make_pd(p, &bd, NULL, NULL, "gradient add");
        dnnl_eltwise_desc_t eb;
        TRY(p,
            dnnl_eltwise_backward_desc_init(&eb, dnnl_eltwise_relu_use_dst_for_bwd, omd, omd, 0.0f,
                                            0.0f),
            "relu backward desc");
        dnnl_eltwise_desc_t ef;
        TRY(p,
            dnnl_eltwise_forward_desc_init(&ef, dnnl_forward_training,
                                           dnnl_eltwise_relu_use_dst_for_bwd, omd, 0.0f, 0.0f),
            "relu desc");
        dnnl_primitive_desc_t relu_fwd = make_pd(p, &ef, NULL, NULL, "relu");
        relu_bwd[i] = make_pd(p, &eb, NULL, relu_fwd, "relu backward");
        block_out[i] = new_mem(p, omd, DNNL_MEMORY_ALLOCATE);
        dnnl_exec_arg_t aa[3] = {
            {DNNL_ARG_SRC_0, in}, {DNNL_ARG_SRC_1, shortcut}, {DNNL_ARG_DST, block_out[i]}};
        push(p, &p->fwd, add_relu, 3, aa);
        x = block_out[i];
    }
    if (p->status != RELAGE_OK) goto done;
    /* The feature map to the head, as plain NCHW. */
    push_feature_out(p, m, x);
    p->dfeat = new_mem(p, md_of(p->feat), DNNL_MEMORY_NONE);

    /* Backward through shared buffers P (block output gradient), X (block input gradient),
     * Q (batch norm input gradient) and R (unit input gradient). */
    alloc_shared(p, b->max_bytes);
    if (p->status != RELAGE_OK) goto done;
    int P = 0, X = 1, Q = 2, R = 3;
    push_reorder(p, &p->bwd, p->dfeat, shared(p, P, md_of(x)), 0);
    for (int i = m->n_blocks - 1; i >= 0 && p->status == RELAGE_OK; i--) {
        res_block *blk = &m->blocks[i];
        unit_plan *ups = block_units(p, m, i);
        const dnnl_memory_desc_t *omd = md_of(block_out[i]);
        dnnl_memory_t dout = shared(p, P, omd);
        dnnl_exec_arg_t rb[3] = {
            {DNNL_ARG_DST, block_out[i]}, {DNNL_ARG_DIFF_DST, dout}, {DNNL_ARG_DIFF_SRC, dout}};
        push(p, &p->bwd, relu_bwd[i], 3, rb);
        const dnnl_memory_desc_t *xmd = md_of(block_in[i]);
        dnnl_memory_t dx = shared(p, X, xmd);
        if (blk->has_downsample) {
            unit_plan *ds = &ups[blk->n_units];
            push_unit_backward(p, m, ds, dout, shared(p, Q, omd), dx, block_in[i]);
        }
        dnnl_memory_t d = dout;
        for (int u = blk->n_units - 1; u >= 0; u--) {
            dnnl_memory_t src = u == 0 ? block_in[i] : ups[u - 1].bn_out;
            dnnl_memory_t r = shared(p, R, md_of(src));
            push_unit_backward(p, m, &ups[u], d, shared(p, Q, md_of(ups[u].conv_out)), r, src);
            d = r;
        }
        /* dx = shortcut gradient + main path gradient */
        dnnl_primitive_desc_t xadd = add_pd[i];
        if (!same_md(xmd, omd)) {
            dnnl_binary_desc_t bd;
            TRY(p, dnnl_binary_desc_init(&bd, dnnl_binary_add, xmd, xmd, xmd), "binary desc");
            xadd = make_pd(p, &bd, NULL, NULL, "gradient add");
        }
        dnnl_memory_t first = blk->has_downsample ? dx : shared(p, P, xmd);
        dnnl_exec_arg_t ga[3] = {{DNNL_ARG_SRC_0, first}, {DNNL_ARG_SRC_1, d}, {DNNL_ARG_DST, dx}};
        push(p, &p->bwd, xadd, 3, ga);
        int t = P;
        P = X;
        X = t;
    }
    if (p->status != RELAGE_OK) goto done;
    dnnl_memory_t dpool = shared(p, P, pool_md), dstem = shared(p, Q, md_of(stem->bn_out));
    dnnl_exec_arg_t pbw[3] = {
        {DNNL_ARG_DIFF_DST, dpool}, {DNNL_ARG_WORKSPACE, pool_ws}, {DNNL_ARG_DIFF_SRC, dstem}};
    push(p, &p->bwd, pool_bwd_pd, 3, pbw);
    push_unit_backward(p, m, stem, dstem, shared(p, R, md_of(stem->conv_out)), NULL, stem->src);
done:
    free(block_in);
    free(block_out);
    free(relu_bwd);
    free(add_pd);
}

/* Inference: activations rotate through four shared buffers: the block input X, T1 and T2 for
 * the units inside, S for the downsample (which becomes the next X). */
static void build_inference(builder *b, dnnl_memory_t input) {
    plan *p = b->p;
    model *m = b->m;
    /* First pass: descriptors only, to size the shared buffers. */
    unit_plan *stem = &p->units[0];
    dnnl_memory_t x = build_stem(b, input);
    if (p->status != RELAGE_OK) return;
    const dnnl_memory_desc_t *stem_md = pd_md(stem->conv_pd, DNNL_ARG_DST);
    dnnl_memory_t stem_out = new_mem(p, stem_md, DNNL_MEMORY_ALLOCATE);
    dnnl_exec_arg_t sa[4] = {{DNNL_ARG_SRC, x},
                             {DNNL_ARG_WEIGHTS, stem->w_fwd},
                             {DNNL_ARG_BIAS, stem->bias},
                             {DNNL_ARG_DST, stem_out}};
    push(p, &p->fwd, stem->conv_pd, 4, sa);

    dnnl_primitive_desc_t pool_pd = maxpool_pd(p, m, dnnl_forward_inference, stem_md);
    if (p->status != RELAGE_OK) return;
    const dnnl_memory_desc_t *pool_md = pd_md(pool_pd, DNNL_ARG_DST);
    note_size(b, pool_md);
    /* Descriptors of every unit, with the input layouts chained through a placeholder. */
    dnnl_memory_desc_t cur = *pool_md;
    for (int i = 0; i < m->n_blocks && p->status == RELAGE_OK; i++) {
        res_block *blk = &m->blocks[i];
        unit_plan *ups = block_units(p, m, i);
        dnnl_memory_t in = new_mem(p, &cur, DNNL_MEMORY_NONE);
        dnnl_memory_t block_x = in;
        for (int u = 0; u < blk->n_units && p->status == RELAGE_OK; u++) {
            int last = u == blk->n_units - 1;
            build_unit(b, &ups[u], &blk->unit[u], in, last,
                       last && !blk->has_downsample ? &cur : NULL);
            if (p->status == RELAGE_OK)
                in = new_mem(p, pd_md(ups[u].conv_pd, DNNL_ARG_DST), DNNL_MEMORY_NONE);
        }
        if (blk->has_downsample && p->status == RELAGE_OK)
            build_unit(b, &ups[blk->n_units], &blk->downsample, block_x, 0,
                       pd_md(ups[blk->n_units - 1].conv_pd, DNNL_ARG_DST));
        if (p->status == RELAGE_OK) cur = *pd_md(ups[blk->n_units - 1].conv_pd, DNNL_ARG_DST);
    }
    alloc_shared(p, b->max_bytes);
    if (p->status != RELAGE_OK) return;
    int X = 0, T1 = 1, T2 = 2, S = 3;
    dnnl_memory_t pooled = shared(p, X, pool_md);
    dnnl_exec_arg_t pa[2] = {{DNNL_ARG_SRC, stem_out}, {DNNL_ARG_DST, pooled}};
    push(p, &p->fwd, pool_pd, 2, pa);
    x = pooled;
    for (int i = 0; i < m->n_blocks && p->status == RELAGE_OK; i++) {
        res_block *blk = &m->blocks[i];
        unit_plan *ups = block_units(p, m, i);
        const dnnl_memory_desc_t *out_md = pd_md(ups[blk->n_units - 1].conv_pd, DNNL_ARG_DST);
        int out_buf = X;
        if (blk->has_downsample) {
            unit_plan *ds = &ups[blk->n_units];
            need_same(p, pd_md(ds->conv_pd, DNNL_ARG_DST), out_md, "a residual add");
            dnnl_exec_arg_t da[4] = {{DNNL_ARG_SRC, x},
                                     {DNNL_ARG_WEIGHTS, ds->w_fwd},
                                     {DNNL_ARG_BIAS, ds->bias},
                                     {DNNL_ARG_DST, shared(p, S, out_md)}};
            push(p, &p->fwd, ds->conv_pd, 4, da);
            out_buf = S;
        } else {
            need_same(p, md_of(x), out_md, "a residual add");
        }
        dnnl_memory_t in = x;
        for (int u = 0; u < blk->n_units && p->status == RELAGE_OK; u++) {
            int last = u == blk->n_units - 1;
            const dnnl_memory_desc_t *dmd = pd_md(ups[u].conv_pd, DNNL_ARG_DST);
            dnnl_memory_t out = shared(p, last ? out_buf : (u % 2 ? T2 : T1), dmd);
            dnnl_exec_arg_t ua[4] = {{DNNL_ARG_SRC, in},
                                     {DNNL_ARG_WEIGHTS, ups[u].w_fwd},
                                     {DNNL_ARG_BIAS, ups[u].bias},
                                     {DNNL_ARG_DST, out}};
            push(p, &p->fwd, ups[u].conv_pd, 4, ua);
            in = out;
        }
        x = in;
        if (out_buf == S) {
            S = X;
            X = out_buf;
        }
    }
    if (p->status != RELAGE_OK) return;
    push_feature_out(p, m, x);
}

static void plan_free(plan *p) {
    if (!p) return;
    seq *seqs[3] = {&p->pre, &p->fwd, &p->bwd};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < seqs[k]->n; i++) dnnl_primitive_destroy(seqs[k]->s[i].prim);
        free(seqs[k]->s);
    }
    for (int i = 0; i < p->n_mems; i++) dnnl_memory_destroy(p->mems[i]);
    for (int i = 0; i < p->n_pds; i++) dnnl_primitive_desc_destroy(p->pds[i]);
    for (int i = 0; i < p->n_units; i++) {
        free(p->units[i].fold_w);
        free(p->units[i].fold_b);
    }
    for (int i = 0; i < 4; i++) free(p->shared[i]);
    free(p->mems);
    free(p->pds);
    free(p->units);
    free(p);
}

static relage_status plan_create(plan **out, model *m, int B, int training,
                                 dnnl_data_type_t dt) {
    *out = NULL;
    plan *p = calloc(1, sizeof *p);
    if (!p) return relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
    p->B = B;
    p->training = training;
    p->dt = dt;
    p->n_units = 1;
    for (int i = 0; i < m->n_blocks; i++)
        p->n_units += m->blocks[i].n_units + m->blocks[i].has_downsample;
    p->units = calloc((size_t)p->n_units, sizeof *p->units);
    if (!p->units) p->status = relage_fail(RELAGE_ERR_NOMEM, "oneDNN plan: out of memory");
    dnnl_dims_t in_dims = {B, 3, m->config.input, m->config.input};
    dnnl_memory_desc_t in_md;
    plain_md(p, &in_md, 4, in_dims, dnnl_nchw);
    p->input = new_mem(p, &in_md, DNNL_MEMORY_NONE);
    builder b = {p, m, 0};
    if (p->status == RELAGE_OK) {
        if (training)
            build_training(&b, p->input);
        else
            build_inference(&b, p->input);
    }
    relage_status st = p->status;
    if (st != RELAGE_OK) {
        plan_free(p);
        return st;
    }
    *out = p;
    return RELAGE_OK;
}

static relage_status run_seq(dnnl_stream_t stream, const seq *q) {
    for (int i = 0; i < q->n; i++) {
        dnnl_status_t s = dnnl_primitive_execute(q->s[i].prim, stream, q->s[i].nargs, q->s[i].args);
        if (s != dnnl_success) {
            const_dnnl_primitive_desc_t pd = NULL;
            dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
            dnnl_primitive_get_primitive_desc(q->s[i].prim, &pd);
            if (pd) dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind);
            return relage_fail(RELAGE_ERR_UNSUPPORTED, "oneDNN: %s (step %d) failed: %s",
                               dnnl_prim_kind2str(kind), i, dnnl_status2str(s));
        }
    }
    dnnl_status_t s = dnnl_stream_wait(stream);
    return s == dnnl_success ? RELAGE_OK : fail_dnnl(s, "stream_wait");
}

/* Inference: BatchNorm folded into each convolution: w' = w * g / sqrt(v + eps),
 * b' = beta - mean * g / sqrt(v + eps). */
static void fold_weights(plan *p, const model *m) {
    for (int i = 0; i < p->n_units; i++) {
        unit_plan *up = &p->units[i];
        const conv_bn *u = up->u;
        size_t per = (size_t)u->conv.C * u->conv.KH * u->conv.KW;
        const float *w = m->params + u->weight, *g = m->params + u->gamma,
                    *beta = m->params + u->beta, *rm = m->buffers + u->running_mean,
                    *rv = m->buffers + u->running_var;
        for (int oc = 0; oc < u->conv.OC; oc++) {
            float scale = g[oc] / sqrtf(rv[oc] + BN_EPS);
            for (size_t j = 0; j < per; j++) up->fold_w[oc * per + j] = w[oc * per + j] * scale;
            up->fold_b[oc] = beta[oc] - rm[oc] * scale;
        }
    }
}

static void *data_of(dnnl_memory_t mem) {
    void *h = NULL;
    dnnl_memory_get_data_handle(mem, &h);
    return h;
}

/* The plan for (B, training), made if needed; plans are kept least recently used first, and the
 * least recently used goes when MAX_PLANS are held. */
static relage_status find_plan(backend_trunk *t, model *m, int B, int training, plan **out) {
    for (int i = 0; i < t->n_plans; i++)
        if (t->plans[i]->B == B && t->plans[i]->training == training) {
            plan *p = t->plans[i];
            memmove(t->plans + i, t->plans + i + 1, (size_t)(t->n_plans - i - 1) * sizeof p);
            t->plans[t->n_plans - 1] = p;
            *out = p;
            return RELAGE_OK;
        }
    if (training) /* one training plan at a time: they hold every activation */
        for (int i = t->n_plans - 1; i >= 0; i--)
            if (t->plans[i]->training) {
                plan_free(t->plans[i]);
                memmove(t->plans + i, t->plans + i + 1,
                        (size_t)(t->n_plans - i - 1) * sizeof *t->plans);
                t->n_plans--;
            }
    plan *p;
    relage_status st = plan_create(&p, m, B, training, t->dt);
    if (st != RELAGE_OK) return st;
    if (t->n_plans == MAX_PLANS) { /* drop the least recently used */
        plan_free(t->plans[0]);
        memmove(t->plans, t->plans + 1, (MAX_PLANS - 1) * sizeof *t->plans);
        t->n_plans--;
    }
    t->plans[t->n_plans++] = p;
    *out = p;
    return RELAGE_OK;
}

static relage_status dnnl_trunk_forward(model *m, const float *input, int B, int training,
                                        float *feat) {
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success) return fail_dnnl(engine_status, "engine_create");
    backend_trunk *t = m->trunk;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return relage_fail(RELAGE_ERR_NOMEM, "oneDNN: out of memory");
        t->dt = m->be->precision == PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
        dnnl_status_t s = dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags);
        if (s != dnnl_success) {
            free(t);
            return fail_dnnl(s, "stream_create");
        }
        m->trunk = t;
    }
    plan *p;
    relage_status st = find_plan(t, m, B, training, &p);
    if (st != RELAGE_OK) return st;
    dnnl_memory_set_data_handle(p->input, (void *)input);
    dnnl_memory_set_data_handle(p->feat, feat);
    if (!training && p->generation != m->generation + 1) {
        fold_weights(p, m);
        if ((st = run_seq(t->stream, &p->pre)) != RELAGE_OK) return st;
        p->generation = m->generation + 1;
    }
    if (training && (st = run_seq(t->stream, &p->pre)) != RELAGE_OK) return st;
    if ((st = run_seq(t->stream, &p->fwd)) != RELAGE_OK) return st;
    if (training) { /* running statistics as PyTorch keeps them */
        for (int i = 0; i < p->n_units; i++) {
            const unit_plan *up = &p->units[i];
            const float *mean = data_of(up->mean), *var = data_of(up->var);
            float *rm = m->buffers + up->u->running_mean, *rv = m->buffers + up->u->running_var;
            double n = (double)up->per_channel, unbias = n > 1 ? n / (n - 1) : 1.0;
            for (int c = 0; c < up->u->conv.OC; c++) {
                rm[c] = (1.0f - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mean[c];
                rv[c] =
                    (1.0f - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * (float)((double)var[c] * unbias);
            }
            m->counters[up->u->counter]++;
        }
    }
    return RELAGE_OK;
}

static relage_status dnnl_trunk_backward(model *m, const float *dfeat) {
    backend_trunk *t = m->trunk;
    plan *p = NULL;
    for (int i = 0; t && i < t->n_plans; i++)
        if (t->plans[i]->B == m->batch && t->plans[i]->training) p = t->plans[i];
    if (!p)
        return relage_fail(RELAGE_ERR_UNSUPPORTED,
                           "oneDNN backend: backward needs a training-mode forward first");
    dnnl_memory_set_data_handle(p->dfeat, (void *)dfeat);
    relage_status st = run_seq(t->stream, &p->bwd);
    if (st != RELAGE_OK) return st;
    for (int i = 0; i < p->n_units; i++) {
        const unit_plan *up = &p->units[i];
        const float *ds = data_of(up->dscale), *dh = data_of(up->dshift);
        float *dg = m->grads + up->u->gamma, *db = m->grads + up->u->beta;
        for (int c = 0; c < up->u->conv.OC; c++) {
            dg[c] += ds[c];
            db[c] += dh[c];
        }
    }
    return RELAGE_OK;
}

static void dnnl_trunk_free(backend_trunk *t) {
    if (!t) return;
    for (int i = 0; i < t->n_plans; i++) plan_free(t->plans[i]);
    if (t->stream) dnnl_stream_destroy(t->stream);
    free(t);
}

static backend dnnl_backend, dnnl_bf16_backend;
static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;

static void dnnl_backend_init(void) {
    dnnl_backend = *backend_ref();
    dnnl_backend.name = "dnnl";
    dnnl_backend.trunk_forward = dnnl_trunk_forward;
    dnnl_backend.trunk_backward = dnnl_trunk_backward;
    dnnl_backend.trunk_free = dnnl_trunk_free;
    dnnl_bf16_backend = dnnl_backend;
    dnnl_bf16_backend.precision = PRECISION_BF16;
}

/* dnnl_cpu_isa_t is a set of bits, each ISA holding the bits of those it extends (avx2_vnni has
 * a larger value than avx512_core_bf16 without containing it). */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t want) {
    return ((unsigned)isa & (unsigned)want) == (unsigned)want;
}

relage_status backend_dnnl(const backend **out, backend_precision precision) {
    *out = NULL;
    if (precision == PRECISION_BF16) {
        dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        if (!isa_has(isa, dnnl_cpu_isa_avx512_core_bf16)) {
            const char *name = isa_has(isa, dnnl_cpu_isa_avx512_core) ? "AVX-512 without BF16"
                               : isa_has(isa, dnnl_cpu_isa_avx2)      ? "AVX2"
                                                                      : "no AVX2";
            return relage_fail(RELAGE_ERR_UNSUPPORTED,
                               "precision bf16 needs AVX512-BF16 or AMX, and this CPU offers %s; "
                               "use fp32",
                               name);
        }
    }
    pthread_once(&dnnl_once, dnnl_backend_init);
    *out = precision == PRECISION_BF16 ? &dnnl_bf16_backend : &dnnl_backend;
    return RELAGE_OK;
}

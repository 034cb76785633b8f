/* p4_ta.h: p4's trusted application as both worlds see it: its UUID, its
 * commands and their parameters.  Included by the TA (freestanding) and by
 * the host (tee/optee/host/).
 *
 * Doubles travel in a value parameter as their IEEE-754 bits (a: low word,
 * b: high word); p4_ta_value_double/p4_ta_double_value convert.
 *
 * Commands (p0..p3; every other parameter TEE_PARAM_TYPE_NONE):
 *   OPEN_LEDGER   p0 VALUE_IN delta, p1 VALUE_IN target epsilon (finite > 0),
 *                 p2 VALUE_OUT the stored delta, p3 VALUE_OUT the stored target.
 *                 The first open fixes delta and target in secure storage;
 *                 later opens keep the stored ones and report them (the host
 *                 refuses a mismatch).  The other p4 commands need it first.
 *   CHARGE        p0 VALUE_IN q, p1 VALUE_IN sigma, p2 VALUE_IN steps (a low,
 *                 b high), p3 VALUE_OUT epsilon after.  Records the steps, or
 *                 refuses with P4_TA_ERROR_BUDGET if they would pass the target.
 *   ADD_NOISE     p0 MEMREF_INOUT float32 values, p1 VALUE_IN stddev.
 *   RELEASE_ROWS  p0 MEMREF_INOUT float32 rows (rows x classes), p1 VALUE_IN
 *                 (a rows, b classes), p2 VALUE_IN clip, p3 VALUE_IN sigma.
 *                 Clips each row to L2 norm clip, charges one Gaussian release
 *                 with noise multiplier sigma / (2 sqrt(rows)) at q = 1, adds
 *                 N(0, (sigma clip)^2) to every value and returns the rows.
 *   SPENT         p0 VALUE_OUT epsilon spent, p1 VALUE_OUT target.
 * The protected layers (DarkneTZ-style: a range of the proxy model,
 * connected, convolutional and max-pool layers ending in the softmax or
 * below it, live in the TA; see docs/tee.md):
 *   LAYERS_LOAD   p0 MEMREF_IN p4_ta_layers_spec, p1 MEMREF_IN the initial
 *                 weights and biases, layer by layer (float32; none for a
 *                 max-pool), p2 VALUE_OUT
 *                 (a low, b high) the bytes the layers need.  Allocates
 *                 exactly p4_ta_layers_bytes() - P4_TA_RESERVE_BYTES, or
 *                 OUT_OF_MEMORY.  Replaces layers loaded before.
 *   LAYERS_TRAIN  p0 MEMREF_IN m inputs (m x inputs of the first layer),
 *                 p1 MEMREF_IN m target rows (m x classes), p2 MEMREF_OUT
 *                 the gradient at the inputs (darknet's sign; NONE when the
 *                 first layer is the model's first), p3 VALUE_OUT the summed
 *                 cross-entropy.  Forward and backward of one pass; the
 *                 per-example gradients wait in the TA for LAYERS_CLIP.
 *   LAYERS_CLIP   p0 MEMREF_IN m doubles: the normal world's per-example
 *                 squared gradient norms, p1 MEMREF_OUT m float clip factors
 *                 min(1, clip / combined norm), p2 VALUE_IN clip.  Adds the
 *                 pass's clipped per-example gradients to the TA's sums.
 *   LAYERS_STEP   p0 MEMREF_INOUT the normal world's clipped sums
 *                 (normal_floats float32; NONE if 0), p1 MEMREF_IN
 *                 p4_ta_step_args, p2 VALUE_OUT epsilon after.  Charges one
 *                 step (q, sigma), adds N(0, (sigma clip)^2) to the normal
 *                 world's sums (tensor by tensor) and to its own, returns the
 *                 former and applies SGD to its layers.  The noise is drawn
 *                 bottom-up as the software backend draws it: the tensors
 *                 below, the TA's layers, then the above_tensors last ones.
 *   LAYERS_TOP1   p0 MEMREF_IN n inputs, p1 MEMREF_OUT n int32 classes.
 *                 Only the top-1 class leaves; logits and probabilities stay.
 *   SEED_NOISE    p0 MEMREF_IN a 32-byte key: --reproducible runs only.  The
 *                 session's noise becomes the software backend's stream
 *                 (common/fs_ziggurat.h) under that key: not private.  Only
 *                 in a TA built with P4_TA_TEST_COMMANDS (the harness's) or
 *                 P4_TA_ALLOW_SEEDED_NOISE; others answer NOT_SUPPORTED.
 *                 p1 and p2 both NONE: the serial layout from the stream's
 *                 start.  Or p1 VALUE_IN (a: 0 serial or
 *                 P4_TA_SPEC_NOISE_CHUNKED, any other bit refused; b: 0) and
 *                 p2 VALUE_IN (a low, b high): the layout ([dp]
 *                 noise_layout) and the byte of the stream to go on from
 *                 (NOISE_POSITION's, for a restarted node; 0 at the start).
 *   NOISE_POSITION p0 VALUE_OUT (a low, b high): the bytes of the seeded
 *                 stream drawn so far; BAD_STATE in a session not seeded.
 *                 Gated as SEED_NOISE.
 * The distillation loss of a P4 proxy (ta_kd.c, docs/tee.md "Nodes"):
 *   KD_TRAIN      LAYERS_TRAIN with (1 - alpha) CE(softmax(z), y) +
 *                 alpha T^2 KL(p || softmax(z / T)) (distill/kd_loss.h):
 *                 p1 MEMREF_IN a p4_ta_kd_args, then m label rows, then m
 *                 teacher rows (the private model's softened probabilities),
 *                 m x classes float32 each.  The logits stay in the TA.
 *   KD_TEACH      p0 MEMREF_IN m inputs, p1 MEMREF_OUT m x classes float32
 *                 softmax(z / T), p2 VALUE_IN T: the proxy's teaching
 *                 probabilities for the private model's step (they cross).
 *   LAYERS_EXPORT p0 MEMREF_OUT the layers' weights and biases (LAYERS_LOAD's
 *                 layout): a proxy-weights release; every value is the public
 *                 initialisation or LAYERS_IMPORT's, moved only by the TA's
 *                 noised and charged LAYERS_STEP updates.
 *   LAYERS_IMPORT p0 MEMREF_IN the same layout: the group's aggregate.
 * Logits mode with protected layers (ta_logits.c, docs/tee.md "Nodes"):
 *   LOGITS_RELEASE p0 MEMREF_IN n inputs (n x inputs of the first layer, any
 *                 n >= 1; run in passes of the spec's capacity), p1 MEMREF_OUT
 *                 n x classes float32, p2 VALUE_IN clip, p3 VALUE_IN sigma.
 *                 The proxy's mean-centred log-probabilities on the public
 *                 inputs, then RELEASE_ROWS's mechanism on them in TA memory:
 *                 rows clipped to clip, one charge (q = 1, sigma / (2
 *                 sqrt(n))), N(0, (sigma clip)^2) added.  Only the noised
 *                 rows cross.
 *   PUBLIC_STEP   p0 MEMREF_IN p4_ta_public_step_args.  A plain SGD step of
 *                 the protected layers on the sums LAYERS_CLIP gathered (the
 *                 host clips at a bound no example reaches, so they are the
 *                 plain sums): the distillation on public inputs and the
 *                 group's noised logits, post-processing of released values,
 *                 so neither noised nor charged.  Only for layers loaded with
 *                 P4_TA_LAYERS_STAY, which LAYERS_EXPORT refuses: un-noised
 *                 updates never leave as weights.
 * A range that ends below the softmax (spec flag P4_TA_SPEC_SOFTMAX_OUTSIDE;
 * the normal world runs the layers above, DarkneTZ's split):
 *   LAYERS_FORWARD  p0 MEMREF_IN m inputs, p1 MEMREF_OUT m x outputs of the
 *                 last layer (its activations leave the TA), p2 VALUE_IN a:
 *                 1 a training pass (kept for LAYERS_BACKWARD), 0 inference.
 *   LAYERS_BACKWARD p0 MEMREF_IN m x outputs: the gradient at the last
 *                 layer's outputs from the layers above (darknet's sign),
 *                 p1 MEMREF_OUT the gradient at the inputs (NONE when the
 *                 first layer is the model's first).  The training pass's
 *                 backward; the per-example gradients wait for LAYERS_CLIP.
 * Persistence (ta_store.c):
 *   LAYERS_STORE  (no parameters) writes the layers, their momentum and, in
 *                 a seeded session, the noise stream's state to secure storage.
 *   LAYERS_RESUME p0 MEMREF_IN p4_ta_layers_spec, p1 VALUE_OUT (a: 1 if the
 *                 stored layers of exactly that spec were loaded, else 0;
 *                 b: 1 if the seeded noise position was restored too).
 *   LAYERS_SNAPSHOT p0 VALUE_IN (a: round, 0..P4_TA_MAX_ROUND; b: 0).  As
 *                 LAYERS_STORE, into the snapshot slot of that round's
 *                 parity, under the round: the node's round checkpoint.
 *                 The ledger is not in it.  BAD_STATE without layers.
 *   LAYERS_RESTORE p0 MEMREF_IN p4_ta_layers_spec, p1 VALUE_IN (a: round,
 *                 b: 0), p2 VALUE_OUT (a: 1 if that round's snapshot of
 *                 exactly that spec replaced the layers, else 0 and the
 *                 layers are as they were; b: 1 if the seeded noise
 *                 position came back too), p3 VALUE_OUT (a, b: the rounds
 *                 the even and odd slots hold, P4_TA_NO_ROUND if none).  The
 *                 ledger is never rolled back; an OS-keyed noise key never
 *                 comes back (docs/tee.md, "Restarts").
 * Test-only commands (a TA built with P4_TA_TEST_COMMANDS, the harness's):
 *   TEST_PANIC    TEE_Panic.
 *   TEST_ALLOC    p0 VALUE_IN bytes (a low, b high): TEE_Malloc and free. */
#ifndef P4_TA_H
#define P4_TA_H

#include <stdint.h>

/* 991a17f5-56f0-4bd9-8e29-8ff28f926bb4 */
#define P4_TA_UUID \
    { 0x991a17f5, 0x56f0, 0x4bd9, { 0x8e, 0x29, 0x8f, 0xf2, 0x8f, 0x92, 0x6b, 0xb4 } }
#define P4_TA_UUID_TEXT "991a17f5-56f0-4bd9-8e29-8ff28f926bb4"

enum {
    P4_TA_CMD_OPEN_LEDGER = 1,
    P4_TA_CMD_CHARGE = 2,
    P4_TA_CMD_ADD_NOISE = 3,
    P4_TA_CMD_RELEASE_ROWS = 4,
    P4_TA_CMD_SPENT = 5,
    P4_TA_CMD_LAYERS_LOAD = 6,
    P4_TA_CMD_LAYERS_TRAIN = 7,
    P4_TA_CMD_LAYERS_CLIP = 8,
    P4_TA_CMD_LAYERS_STEP = 9,
    P4_TA_CMD_LAYERS_TOP1 = 10,
    P4_TA_CMD_SEED_NOISE = 11,
    P4_TA_CMD_KD_TRAIN = 0x20,
    P4_TA_CMD_KD_TEACH = 0x21,
    P4_TA_CMD_LAYERS_EXPORT = 0x22,
    P4_TA_CMD_LAYERS_IMPORT = 0x23,
    P4_TA_CMD_LAYERS_STORE = 0x24,
    P4_TA_CMD_LAYERS_RESUME = 0x25,
    P4_TA_CMD_LAYERS_SNAPSHOT = 0x30,
    P4_TA_CMD_LAYERS_RESTORE = 0x31,
    P4_TA_CMD_LOGITS_RELEASE = 0x32,
    P4_TA_CMD_PUBLIC_STEP = 0x33,
    P4_TA_CMD_LAYERS_FORWARD = 0x34,
    P4_TA_CMD_LAYERS_BACKWARD = 0x35,
    P4_TA_CMD_NOISE_POSITION = 0x36,
    P4_TA_CMD_TEST_PANIC = 0x100,
    P4_TA_CMD_TEST_ALLOC = 0x101
};

/* The TA's refusal of a charge or release past the target (GP's "access
 * denied": the caller is not allowed this much). */
#define P4_TA_ERROR_BUDGET 0xFFFF0001u

/* The mechanisms the ledger accounts: q in [P4_TA_MIN_Q, 1], sigma in
 * [P4_TA_MIN_SIGMA, P4_TA_MAX_SIGMA].  Outside, the RDP series meets
 * infinities and NaNs (1/q, 1/sigma^2) and runs to its iteration cap. */
#define P4_TA_MIN_Q 1e-12
#define P4_TA_MIN_SIGMA 1e-6
#define P4_TA_MAX_SIGMA 1e6

/* A round checkpoint's number (LAYERS_SNAPSHOT, LAYERS_RESTORE), and the
 * mark of an empty snapshot slot. */
#define P4_TA_MAX_ROUND 1000000u
#define P4_TA_NO_ROUND 0xFFFFFFFFu

/* Most phases (distinct q, sigma) the ledger keeps. */
#define P4_TA_LEDGER_MAX_PHASES 64

/* The protected layers: at most this many connected, convolutional or
 * max-pool layers (the softmax after the last is implied), and this many
 * normal-world tensors per step. */
#define P4_TA_MAX_LAYERS 8
#define P4_TA_MAX_TENSORS 64
#define P4_TA_MAX_WIDTH (1u << 20)
/* TA heap kept for everything but the layers: the session, the ledger,
 * the noise state and the copies a command makes of small arguments. */
#define P4_TA_RESERVE_BYTES (64u * 1024u)

/* A protected layer's kind (p4_ta_dense.kind). */
enum {
    P4_TA_CONNECTED = 0,
    P4_TA_CONVOLUTIONAL = 1,     /* darknet's, without batch normalisation   */
    P4_TA_MAXPOOL = 2
};

/* One protected layer (named for the first kind the TA held).  inputs and
 * outputs are floats per example.  Convolutional and max-pool layers also
 * give their input's c x h x w and their window: size, stride and pad
 * (convolutional: darknet's pad on each side; max-pool: darknet's
 * `padding`, the total); filters for a convolution.  Max-pool layers have
 * no activation (P4_ACT_LINEAR) and no parameters. */
typedef struct {
    uint32_t inputs, outputs;
    uint32_t activation;         /* model/fs_activation.h's p4_activation */
    uint32_t kind;               /* P4_TA_CONNECTED, _CONVOLUTIONAL, _MAXPOOL */
    uint32_t c, h, w, filters, size, stride, pad;
    uint32_t reserved;
} p4_ta_dense;

/* p4_ta_layers_spec.flags: the layers stay in the TA for good (logits
 * mode): LAYERS_EXPORT refuses, PUBLIC_STEP is allowed.  Part of the spec,
 * so it is stored with the layers and LAYERS_RESUME keeps it. */
#define P4_TA_LAYERS_STAY 1u

typedef struct {
    uint32_t nlayers;            /* 1..P4_TA_MAX_LAYERS                       */
    uint32_t capacity;           /* examples per pass (TRAIN, TOP1)           */
    uint32_t normal_floats;      /* the normal world's trainable floats       */
    uint32_t flags;              /* P4_TA_LAYERS_STAY, P4_TA_SPEC_SOFTMAX_OUTSIDE,
                                    P4_TA_SPEC_NOISE_CHUNKED                  */
    p4_ta_dense layer[P4_TA_MAX_LAYERS]; /* the last one's outputs: classes  */
} p4_ta_layers_spec;

/* p4_ta_layers_spec.flags: the range ends below the model's softmax
 * (pp_end < its last layer).  The normal world runs the layers above; the
 * TA takes LAYERS_FORWARD and LAYERS_BACKWARD, and refuses the commands that
 * need the softmax inside (TRAIN, TOP1, KD_TRAIN, KD_TEACH).  The last
 * layer's outputs are then its activations, not classes. */
#define P4_TA_SPEC_SOFTMAX_OUTSIDE 2u

/* p4_ta_layers_spec.flags (and SEED_NOISE's p1): the seeded noise is drawn
 * in the chunked layout ([dp] noise_layout = chunked, docs/noise.md), as
 * the software backend draws it; without it, serial.  In a seeded session
 * LAYERS_LOAD refuses (BAD_STATE) a spec whose flag disagrees with
 * SEED_NOISE's; OS-keyed noise has no layout to match and ignores it.  A
 * TA older than the flag refuses it (unknown flags are refused). */
#define P4_TA_SPEC_NOISE_CHUNKED 4u

typedef struct {
    double q, sigma, clip;       /* the step's mechanism                      */
    double divisor;              /* the expected batch size q N               */
    double learning_rate, momentum, decay;
    uint32_t ntensors;           /* the normal world's tensors, in order      */
    uint32_t above_tensors;      /* the last ones: layers above the TA's (0
                                    when the softmax is inside)               */
    uint32_t tensor[P4_TA_MAX_TENSORS]; /* their sizes, summing to normal_floats */
} p4_ta_step_args;

/* A layer's weights and biases (0 for a max-pool). */
static inline uint64_t p4_ta_layer_weights(const p4_ta_dense *d)
{
    if (d->kind == P4_TA_CONVOLUTIONAL)
        return (uint64_t)d->filters * d->c * d->size * d->size;
    return d->kind == P4_TA_CONNECTED ? (uint64_t)d->inputs * d->outputs : 0;
}

static inline uint64_t p4_ta_layer_biases(const p4_ta_dense *d)
{
    if (d->kind == P4_TA_CONVOLUTIONAL)
        return d->filters;
    return d->kind == P4_TA_CONNECTED ? d->outputs : 0;
}

/* 1 if the layer's fields agree with each other (darknet's output sizes). */
static inline int p4_ta_layer_shape_ok(const p4_ta_dense *d)
{
    if (d->kind == P4_TA_CONNECTED)
        return 1;
    if (d->kind != P4_TA_CONVOLUTIONAL && d->kind != P4_TA_MAXPOOL)
        return 0;
    const uint32_t most = 1u << 14;
    if (d->c < 1 || d->h < 1 || d->w < 1 || d->size < 1 || d->stride < 1 || d->c > most ||
        d->h > most || d->w > most || d->size > 64 || d->stride > 64 ||
        (uint64_t)d->c * d->h * d->w != d->inputs)
        return 0;
    uint64_t out_h, out_w, planes;
    if (d->kind == P4_TA_CONVOLUTIONAL) {
        if (d->filters < 1 || d->filters > most || d->pad >= d->size ||
            p4_ta_layer_weights(d) > P4_TA_MAX_WIDTH * 256ull ||
            d->h + 2 * d->pad < d->size || d->w + 2 * d->pad < d->size)
            return 0;
        out_h = (d->h + 2 * d->pad - d->size) / d->stride + 1;
        out_w = (d->w + 2 * d->pad - d->size) / d->stride + 1;
        planes = d->filters;
    } else {
        if (d->activation != 0 || d->pad >= 2 * d->size || d->h + d->pad < d->size ||
            d->w + d->pad < d->size)
            return 0;
        out_h = (d->h + d->pad - d->size) / d->stride + 1;
        out_w = (d->w + d->pad - d->size) / d->stride + 1;
        /* every window touches the input (fs_maxpool.c's shape check) */
        int64_t offset = -(int64_t)(d->pad / 2);
        if (offset + (int64_t)(out_h - 1) * d->stride >= d->h ||
            offset + (int64_t)(out_w - 1) * d->stride >= d->w || offset + d->size <= 0)
            return 0;
        planes = d->c;
    }
    return planes * out_h * out_w == d->outputs;
}

/* Per-example floats a layer keeps for one pass besides its outputs and
 * deltas: a convolution's per-example gradients (its norm cannot be
 * factored as a dense layer's), a max-pool's winners (int32). */
static inline uint64_t p4_ta_layer_pass_floats(const p4_ta_dense *d)
{
    if (d->kind == P4_TA_CONVOLUTIONAL)
        return p4_ta_layer_weights(d) + p4_ta_layer_biases(d);
    return d->kind == P4_TA_MAXPOOL ? d->outputs : 0;
}

/* Or'd into a step's tensor size: a frozen normal-world tensor (no
 * gradient, so no noise; returned as it came), as dp/dpsgd.c skips it. */
#define P4_TA_TENSOR_FROZEN 0x80000000u

/* PUBLIC_STEP's p0: darknet's SGD on the gathered sums over divisor. */
typedef struct {
    double divisor, learning_rate, momentum, decay;
} p4_ta_public_step_args;

/* KD_TRAIN's header in p1.  alpha in [0, 1], T finite in (0, 1e6]. */
typedef struct {
    double alpha, temperature;
} p4_ta_kd_args;

/* The TA heap the protected layers need: weights, gradients and momentum;
 * one pass of inputs, outputs, deltas, per-example buffers (convolutions'
 * gradients, max-pools' winners), probabilities, targets, input deltas,
 * per-example norms and clip factors; the normal world's sums at a step;
 * and the reserve.  0 for a malformed spec. */
static inline uint64_t p4_ta_layers_bytes(const p4_ta_layers_spec *s)
{
    if (s->nlayers < 1 || s->nlayers > P4_TA_MAX_LAYERS || s->capacity < 1 ||
        s->capacity > P4_TA_MAX_WIDTH)
        return 0;
    uint64_t m = s->capacity, params = 0, activations = 0;
    for (uint32_t j = 0; j < s->nlayers; j++) {
        uint64_t in = s->layer[j].inputs, out = s->layer[j].outputs;
        if (in < 1 || out < 1 || in > P4_TA_MAX_WIDTH || out > P4_TA_MAX_WIDTH ||
            (j > 0 && in != s->layer[j - 1].outputs) || !p4_ta_layer_shape_ok(&s->layer[j]))
            return 0;
        params += p4_ta_layer_weights(&s->layer[j]) + p4_ta_layer_biases(&s->layer[j]);
        /* outputs, deltas and the per-example buffers */
        activations += 2 * m * out + m * p4_ta_layer_pass_floats(&s->layer[j]);
    }
    if (s->flags & ~(P4_TA_SPEC_SOFTMAX_OUTSIDE | P4_TA_LAYERS_STAY | P4_TA_SPEC_NOISE_CHUNKED))
        return 0;
    /* Softmax outside: no probabilities or targets; the activations that
     * leave are the last layer's outputs and the delta that comes in its
     * deltas, both counted above. */
    uint64_t in0 = s->layer[0].inputs;
    uint64_t classes = s->flags & P4_TA_SPEC_SOFTMAX_OUTSIDE ? 0 : s->layer[s->nlayers - 1].outputs;
    uint64_t floats = 3 * params + activations + 2 * m * in0 + 2 * m * classes + m +
                      s->normal_floats;
    return floats * 4 + m * 8 + P4_TA_RESERVE_BYTES;
}

static inline double p4_ta_value_double(uint32_t a, uint32_t b)
{
    union { uint64_t u; double d; } v;
    v.u = (uint64_t)a | (uint64_t)b << 32;
    return v.d;
}

static inline void p4_ta_double_value(double d, uint32_t *a, uint32_t *b)
{
    union { uint64_t u; double d; } v;
    v.d = d;
    *a = (uint32_t)v.u;
    *b = (uint32_t)(v.u >> 32);
}

#endif

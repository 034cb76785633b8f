/* dp_fixture.h: tiny models and a synthetic data set for the DP tests.
 *
 * The statistical DP tests repeat a step hundreds of times, so they run on
 * 8x8 grey images of 4 classes: a class is a bright 4x4 quadrant plus
 * uniform noise, which the models can learn, so gradients are not all zero.
 * Header-only (static inline) so that tests/CMakeLists.txt stays unchanged. */
#ifndef P4_TEST_DP_FIXTURE_H
#define P4_TEST_DP_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "common/rng.h"
#include "datasets/dataset.h"
#include "model/cfg.h"
#include "support/test_support.h"

#define TINY_SIDE 8
#define TINY_INPUTS (TINY_SIDE * TINY_SIDE)
#define TINY_CLASSES 4

static const p4_cfg_shape tiny_shape = { TINY_SIDE, TINY_SIDE, 1, TINY_CLASSES };

/* conv(3 filters 3x3) -> dense 8 -> dense classes: 3 parametrised layers,
 * one of each kind, 6 tensors. */
static const char tiny_conv_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[connected]\noutput=8\nactivation=relu\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n"
    "[softmax]\ngroups=1\n";

static const char tiny_mlp_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[connected]\noutput=12\nactivation=relu\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n"
    "[softmax]\ngroups=1\n";

static const char tiny_logreg_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n"
    "[softmax]\ngroups=1\n";

/* count examples; example i has label i % classes. */
static inline p4_dataset *tiny_dataset(int count, uint64_t seed)
{
    p4_dataset *ds = NULL;
    p4_error err = {0};
    if (p4_dataset_new(&ds, "tiny", count, TINY_SIDE, TINY_SIDE, 1, TINY_CLASSES, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "tiny-dataset");
    for (int i = 0; i < count; i++) {
        int label = i % TINY_CLASSES;
        ds->labels[i] = (uint16_t)label;
        uint8_t *px = ds->pixels + (size_t)i * TINY_INPUTS;
        for (int r = 0; r < TINY_SIDE; r++)
            for (int c = 0; c < TINY_SIDE; c++) {
                int quadrant = (r >= TINY_SIDE / 2) * 2 + (c >= TINY_SIDE / 2);
                int base = quadrant == label ? 160 : 0;
                px[r * TINY_SIDE + c] = (uint8_t)(base + p4_rng_below(&rng, 96));
            }
    }
    return ds;
}

#endif

/* test_augment.c: the image transforms of [dp] augmentations
 * (datasets/augment.h): shifts move pixels where they should and zero the
 * border, flips mirror rows, channel planes stay apart, random draws cover
 * exactly the allowed shifts, and flips happen only where they keep labels. */
#include "support/test_support.h"

#include <string.h>

#include "common/rng.h"
#include "datasets/augment.h"

#define W 5
#define H 4
#define C 2

/* A distinct value per pixel: 1 + c*100 + y*10 + x. */
static void fill(float *img)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                img[(c * H + y) * W + x] = (float)(1 + c * 100 + y * 10 + x);
}

static void test_shift_and_flip_move_pixels(void **state)
{
    (void)state;
    p4_augment a = { W, H, C, 2, 1 };
    float in[W * H * C], out[W * H * C];
    fill(in);
    assert_int_equal(p4_augment_apply(&a, 0, 0, 0, in, out), P4_OK);
    assert_memory_equal(in, out, sizeof in);
    const int shifts[][2] = { {1, 0}, {-2, 0}, {0, 1}, {0, -2}, {2, -1}, {-1, 2} };
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++)
        for (int flip = 0; flip < 2; flip++) {
            int dx = shifts[s][0], dy = shifts[s][1];
            assert_int_equal(p4_augment_apply(&a, dx, dy, flip, in, out), P4_OK);
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        int sx = x - dx, sy = y - dy;
                        if (flip)
                            sx = W - 1 - sx;
                        float expect = sx >= 0 && sx < W && sy >= 0 && sy < H
                                           ? (float)(1 + c * 100 + sy * 10 + sx) : 0.0f;
                        assert_true(out[(c * H + y) * W + x] == expect);
                    }
        }
    /* A flip is its own inverse; a shift loses the border it pushes out. */
    float back[W * H * C];
    assert_int_equal(p4_augment_apply(&a, 0, 0, 1, in, out), P4_OK);
    assert_int_equal(p4_augment_apply(&a, 0, 0, 1, out, back), P4_OK);
    assert_memory_equal(in, back, sizeof in);
    assert_int_equal(p4_augment_apply(&a, 1, 0, 0, in, out), P4_OK);
    for (int y = 0; y < H; y++)
        assert_true(out[y * W] == 0.0f);
    assert_int_equal(p4_augment_apply(&a, 0, 0, 0, in, in), P4_EINVAL);
    assert_int_equal(p4_augment_apply(NULL, 0, 0, 0, in, out), P4_EINVAL);
}

/* One bright pixel in the middle of a 7x7 image, no flips: where it lands
 * tells (dx, dy).  Each seeded draw is repeated from a twin generator. */
static void draw_counts(const p4_augment *a, uint64_t seed, int counts[5][5])
{
    enum { SIDE = 7 };
    float in[SIDE * SIDE] = {0}, out[SIDE * SIDE], out2[SIDE * SIDE];
    in[3 * SIDE + 3] = 1.0f;
    p4_rng rng, again;
    p4_rng_init_seeded(&rng, seed, "test-augment");
    p4_rng_init_seeded(&again, seed, "test-augment");
    memset(counts, 0, 25 * sizeof(int));
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(p4_augment_random(a, &rng, in, out), P4_OK);
        assert_int_equal(p4_augment_random(a, &again, in, out2), P4_OK);
        assert_memory_equal(out, out2, sizeof out); /* seeded: the same copies */
        int found = 0;
        for (int p = 0; p < SIDE * SIDE; p++)
            if (out[p] == 1.0f) {
                int dx = p % SIDE - 3, dy = p / SIDE - 3;
                assert_true(dx >= -2 && dx <= 2 && dy >= -2 && dy <= 2);
                counts[dy + 2][dx + 2]++;
                found++;
            }
        assert_int_equal(found, 1); /* a shift of <= 2 keeps the centre pixel inside */
    }
}

static void test_random_copies_cover_the_allowed_shifts(void **state)
{
    (void)state;
    int counts[5][5];
    p4_augment chars = { 7, 7, 1, 2, 0 };
    draw_counts(&chars, 3, counts);
    for (int dy = 0; dy < 5; dy++)
        for (int dx = 0; dx < 5; dx++)
            assert_true(counts[dy][dx] > 40 && counts[dy][dx] < 130); /* 80 expected */

    /* Flips alone (no shift): a marker left of the centre lands mirrored in
     * about half of the draws. */
    p4_augment clothes = { 7, 7, 1, 0, 1 };
    float in[49] = {0}, out[49];
    in[3 * 7 + 1] = 1.0f;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 4, "test-augment");
    int mirrored = 0;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(p4_augment_random(&clothes, &rng, in, out), P4_OK);
        assert_true(out[3 * 7 + 1] == 1.0f || out[3 * 7 + 5] == 1.0f);
        mirrored += out[3 * 7 + 5] == 1.0f;
    }
    assert_true(mirrored > 900 && mirrored < 1100); /* half, +- 4.5 sd */
}

static void test_flips_only_where_labels_survive(void **state)
{
    (void)state;
    assert_int_equal(p4_augment_flip_preserves_labels("fashion-mnist"), 1);
    assert_int_equal(p4_augment_flip_preserves_labels("cifar10"), 1);
    assert_int_equal(p4_augment_flip_preserves_labels("cifar100"), 1);
    assert_int_equal(p4_augment_flip_preserves_labels("femnist"), 0);
    assert_int_equal(p4_augment_flip_preserves_labels("mnist"), 0);
    assert_int_equal(p4_augment_flip_preserves_labels(NULL), 0);
    p4_augment a;
    assert_int_equal(p4_augment_for_dataset(&a, "femnist", 28, 28, 1, NULL), P4_OK);
    assert_true(a.flip == 0 && a.max_shift == P4_AUGMENT_SHIFT && a.width == 28);
    assert_int_equal(p4_augment_for_dataset(&a, "cifar10", 32, 32, 3, NULL), P4_OK);
    assert_true(a.flip == 1 && a.channels == 3);
    p4_error err = {0};
    assert_int_equal(p4_augment_for_dataset(&a, "cifar10", 0, 32, 3, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "augmentation"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shift_and_flip_move_pixels),
        cmocka_unit_test(test_random_copies_cover_the_allowed_shifts),
        cmocka_unit_test(test_flips_only_where_labels_survive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* augment.c: random shifts and flips of images; see augment.h. */
#include "datasets/augment.h"

#include <string.h>

int p4_augment_flip_preserves_labels(const char *dataset)
{
    static const char *const mirror_symmetric[] = {"fashion-mnist", "cifar10", "cifar100"};
    if (dataset == NULL)
        return 0;
    for (size_t i = 0; i < sizeof mirror_symmetric / sizeof mirror_symmetric[0]; i++)
        if (strcmp(dataset, mirror_symmetric[i]) == 0)
            return 1;
    return 0;
}

int p4_augment_for_dataset(p4_augment *out, const char *dataset, int width, int height,
                           int channels, p4_error *err)
{
    if (out == NULL || dataset == NULL || width < 1 || height < 1 || channels < 1)
        return p4_error_set(err, P4_EINVAL, "augmentation: bad image shape %dx%dx%d", width,
                            height, channels);
    *out = (p4_augment){ width, height, channels, P4_AUGMENT_SHIFT,
                         p4_augment_flip_preserves_labels(dataset) };
    return P4_OK;
}

int p4_augment_apply(const p4_augment *a, int dx, int dy, int flip, const float *in,
                     float *out)
{
    if (a == NULL || in == NULL || out == NULL || in == out || a->width < 1 || a->height < 1 ||
        a->channels < 1)
        return P4_EINVAL;
    const int w = a->width, h = a->height;
    for (int c = 0; c < a->channels; c++) {
        const float *src = in + (size_t)c * w * h;
        float *dst = out + (size_t)c * w * h;
        for (int y = 0; y < h; y++) {
            int sy = y - dy;
            for (int x = 0; x < w; x++) {
                int sx = x - dx;
                if (flip)
                    sx = w - 1 - sx;
                int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                dst[(size_t)y * w + x] = inside ? src[(size_t)sy * w + sx] : 0.0f;
            }
        }
    }
    return P4_OK;
}

int p4_augment_random(const p4_augment *a, p4_rng *rng, const float *in, float *out)
{
    if (a == NULL || rng == NULL || a->max_shift < 0)
        return P4_EINVAL;
    uint64_t span = 2 * (uint64_t)a->max_shift + 1;
    int dx = (int)p4_rng_below(rng, span) - a->max_shift;
    int dy = (int)p4_rng_below(rng, span) - a->max_shift;
    int flip = a->flip ? (int)p4_rng_below(rng, 2) : 0;
    return p4_augment_apply(a, dx, dy, flip, in, out);
}

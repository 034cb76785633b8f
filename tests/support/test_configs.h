/* test_configs.h: small configs that several tests run. */
#ifndef P4_TEST_CONFIGS_H
#define P4_TEST_CONFIGS_H

#include "common/config.h"

/* A small clustered fashion-mnist job (8 clients, 2 latent clusters of 3
 * classes, MLP models, 3 rounds, groups of 4) written to dir/small.ini and
 * loaded into cfg; p4_extra goes at the end of its [p4] section (further
 * sections may follow it).  -1 when the file cannot be written. */
int test_small_config(p4_config *cfg, const char *dir, const char *p4_extra);

#endif

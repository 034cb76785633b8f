/* test_configs.c: see test_configs.h. */
#include "support/test_configs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/test_support.h"

int test_small_config(p4_config *cfg, const char *dir, const char *p4_extra)
{
    char path[1024], text[2048];
    snprintf(path, sizeof path, "%s/small.ini", dir);
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 8\nclusters = 2\n"
             "cluster_classes = 0,1,2; 5,7,9\ntrain_per_client = 60\ntest_per_client = 60\n"
             "max_train = 6000\nmax_test = 2000\nseed = 3\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\nbatch = 15\nlearning_rate = 0.05\nseed = 3\n"
             "[dp]\ntarget_epsilon = 4\n"
             "[p4]\nrounds = 3\ngroup_size = 4\n%s",
             getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".", p4_extra);
    if (test_write_file(path, text, strlen(text)) != 0)
        return -1;
    p4_error err = {0};
    if (p4_config_load(path, cfg, &err) != P4_OK)
        fail_msg("%s", err.message);
    return 0;
}

/* method.c: method names; see method.h. */
#include "cluster/method.h"

#include <string.h>

#include "common/error.h"

static const char *const method_names[] = { "p4", "local", "proxyfl", "fedavg-dp",
                                            "proxyfl-avg" };
#define METHOD_COUNT (int)(sizeof method_names / sizeof method_names[0])

int p4_method_parse(const char *text, p4_method *out)
{
    for (int k = 0; k < METHOD_COUNT; k++)
        if (text && out && strcmp(text, method_names[k]) == 0) {
            *out = (p4_method)k;
            return P4_OK;
        }
    return P4_EINVAL;
}

int p4_method_is_proxyfl(p4_method method)
{
    return method == P4_METHOD_PROXYFL || method == P4_METHOD_PROXYFL_AVG;
}

const char *p4_method_name(p4_method method)
{
    return (int)method >= 0 && (int)method < METHOD_COUNT ? method_names[method] : "?";
}

int p4_method_predicts_ensemble(p4_method method, const char *predict)
{
    return predict && strcmp(predict, "ensemble") == 0 &&
           (method == P4_METHOD_P4 || p4_method_is_proxyfl(method));
}

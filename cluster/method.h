/* method.h: the algorithms the P4 protocol runs.
 *
 *   p4        DP warm-up, private grouping on the warm-up proxies, then rounds
 *             of co-training and proxy aggregation inside each group;
 *   local     each private model alone, no sharing, no DP;
 *   proxyfl   co-training, proxies averaged with one peer per round over an
 *             exponential graph (ProxyFL), no grouping;
 *   fedavg-dp every client's DP proxy averaged with all others each round
 *             (one global model, evaluated on each client's test split). */
#ifndef P4_CLUSTER_METHOD_H
#define P4_CLUSTER_METHOD_H

typedef enum { P4_METHOD_P4, P4_METHOD_LOCAL, P4_METHOD_PROXYFL, P4_METHOD_FEDAVG_DP } p4_method;

/* P4_OK and *out, or P4_EINVAL for an unknown name. */
int p4_method_parse(const char *text, p4_method *out);
const char *p4_method_name(p4_method method);

#endif

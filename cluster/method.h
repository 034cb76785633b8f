/* method.h: the algorithms the P4 protocol runs.
 *
 *   p4          DP warm-up, private grouping on the warm-up proxies, then
 *               rounds of co-training and proxy aggregation inside each group;
 *   local       each private model alone, no sharing, no DP;
 *   proxyfl     ProxyFL as published (Kalra et al., layer6ai-labs/ProxyFL): in
 *               round r each client pushes its proxy to client
 *               (i + 2^k) mod n, k = r mod (floor(log2(n-1)) + 1), and the proxy
 *               it receives from (i - 2^k) mod n REPLACES its own; mutual
 *               learning with weight 0.5 (kd_alpha is fixed at 0.5);
 *   proxyfl-avg the same graph, but the received proxy is averaged with the
 *               client's own and kd_alpha comes from the config (p4's earlier
 *               "proxyfl");
 *   fedavg-dp   every client's DP proxy averaged with all others each round
 *               (one global model, evaluated on each client's test split). */
#ifndef P4_CLUSTER_METHOD_H
#define P4_CLUSTER_METHOD_H

typedef enum {
    P4_METHOD_P4,
    P4_METHOD_LOCAL,
    P4_METHOD_PROXYFL,
    P4_METHOD_FEDAVG_DP,
    P4_METHOD_PROXYFL_AVG
} p4_method;

/* ProxyFL's mutual-learning weight, as in its published code. */
#define P4_PROXYFL_KD_ALPHA 0.5

/* 1 for the two ProxyFL variants (co-training over the exponential graph). */
int p4_method_is_proxyfl(p4_method method);

/* 1 when a client of `method` predicts with both its models under
 * [p4] predict = ensemble: the methods that have both (p4, the ProxyFL
 * variants); local has no proxy and fedavg-dp no private model. */
int p4_method_predicts_ensemble(p4_method method, const char *predict);

/* P4_OK and *out, or P4_EINVAL for an unknown name. */
int p4_method_parse(const char *text, p4_method *out);
const char *p4_method_name(p4_method method);

#endif

/* fs_kd.h: knowledge distillation's loss, gradient and tempered softmax
 * over plain arrays, freestanding, so the normal world (distill/kd_loss.c)
 * and the OP-TEE TA (tee/optee/ta/ta_kd.c) compute the same maths with one
 * code.  For a student's logits z, label rows y and a teacher's softened
 * distribution p, each row costs
 *   (1 - alpha) CE(softmax(z), y) + alpha T^2 KL(p || softmax(z / T)).
 * Everything goes through log-softmax, log q_k = z_k / T - logsumexp(z / T)
 * with the row maximum taken out first, so large logits neither overflow
 * exp() nor turn log(0) into -inf.
 *
 * The caller supplies exp and log: the normal world passes libm's (its
 * seeded runs stay bit-identical), the TA, which has no libm, passes
 * common/fs_math.h's.  No argument checks here: the callers check. */
#ifndef P4_MODEL_FS_KD_H
#define P4_MODEL_FS_KD_H

typedef struct {
    double (*exp)(double);
    double (*log)(double);
} p4_kd_math;

/* log sum_k exp(z_k / t) over one row of c >= 1 logits, stable. */
double p4_kd_log_sum_exp(const p4_kd_math *math, const float *z, int c, double t);

/* out = softmax(z / t) for one row of c >= 1 logits (out may be z). */
void p4_kd_softmax_row(const p4_kd_math *math, const float *z, int c, double t, float *out);

/* The loss summed over n rows of c logits; if delta is not NULL it gets
 * delta = (1 - alpha)(y - softmax(z)) + alpha T (p - softmax(z/T)), which is
 * -dL/dz (darknet's convention) when the rows of y and p sum to 1.
 * teacher_probs is read only when alpha > 0, onehot only when alpha < 1. */
double p4_kd_loss_rows(const p4_kd_math *math, const float *logits, const float *teacher_probs,
                       const float *onehot, int n, int c, double alpha, double temperature,
                       float *delta);

#endif

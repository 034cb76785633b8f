/* fs_connected.c: see fs_connected.h.  Plain loops (the TA has no BLAS);
 * sums run in double where darknet's gemm order is not reproducible anyway. */
#include "model/fs_connected.h"

#include <stddef.h>

void p4_connected_forward(float *out, const float *in, const float *w, const float *b,
                          int batch, int inputs, int outputs, p4_activation act)
{
    for (int i = 0; i < batch; i++) {
        const float *x = in + (size_t)i * inputs;
        float *y = out + (size_t)i * outputs;
        for (int o = 0; o < outputs; o++) {
            const float *wo = w + (size_t)o * inputs;
            double s = 0;
            for (int k = 0; k < inputs; k++)
                s += (double)x[k] * wo[k];
            y[o] = (float)s + b[o]; /* darknet adds the bias after the product */
        }
    }
    p4_activation_forward(out, batch * outputs, act);
}

void p4_connected_weight_gradient(const float *delta, const float *in, float *w_grad,
                                  float *b_grad, int batch, int inputs, int outputs)
{
    for (int o = 0; o < outputs; o++) {
        double s = 0;
        for (int i = 0; i < batch; i++)
            s += delta[(size_t)i * outputs + o];
        b_grad[o] += (float)s;
    }
    for (int o = 0; o < outputs; o++)
        for (int k = 0; k < inputs; k++) {
            double s = 0;
            for (int i = 0; i < batch; i++)
                s += (double)delta[(size_t)i * outputs + o] * in[(size_t)i * inputs + k];
            w_grad[(size_t)o * inputs + k] += (float)s;
        }
}

void p4_connected_input_delta(const float *delta, const float *w, float *in_delta, int batch,
                              int inputs, int outputs)
{
    for (int i = 0; i < batch; i++)
        for (int k = 0; k < inputs; k++) {
            double s = 0;
            for (int o = 0; o < outputs; o++)
                s += (double)delta[(size_t)i * outputs + o] * w[(size_t)o * inputs + k];
            in_delta[(size_t)i * inputs + k] += (float)s;
        }
}

void p4_connected_backward(float *delta, const float *out, const float *in, const float *w,
                           float *w_grad, float *b_grad, float *in_delta, int batch,
                           int inputs, int outputs, p4_activation act)
{
    p4_activation_gradient(out, batch * outputs, act, delta);
    p4_connected_weight_gradient(delta, in, w_grad, b_grad, batch, inputs, outputs);
    if (in_delta)
        p4_connected_input_delta(delta, w, in_delta, batch, inputs, outputs);
}

void p4_connected_update(float *w, float *b, float *w_grad, float *b_grad, int inputs,
                         int outputs, int batch, float learning_rate, float momentum,
                         float decay)
{
    const float step = learning_rate / batch, shrink = -decay * batch;
    for (int o = 0; o < outputs; o++) {
        b[o] += step * b_grad[o];
        b_grad[o] *= momentum;
    }
    size_t n = (size_t)inputs * outputs;
    for (size_t j = 0; j < n; j++) {
        w_grad[j] += shrink * w[j];
        w[j] += step * w_grad[j];
        w_grad[j] *= momentum;
    }
}

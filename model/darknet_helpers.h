/* darknet_helpers.h: functions libdarknet.so exports but darknet.h does
 * not declare.  p4 calls them, and replaces some of them with its own
 * (model/im2col.c, activation.c, maxpool.c, conv.c; darknet's calls resolve to p4's, see
 * model/gemm.h); declaring them once lets the compiler check that p4's
 * definitions and calls match darknet's signatures.  Include darknet.h
 * first. */
#ifndef P4_MODEL_DARKNET_HELPERS_H
#define P4_MODEL_DARKNET_HELPERS_H

void im2col_cpu(float *data_im, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_col);
void col2im_cpu(float *data_col, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_im);
void activate_array(float *x, const int n, const ACTIVATION a);
void gradient_array(const float *x, const int n, const ACTIVATION a, float *delta);
void add_bias(float *output, float *biases, int batch, int n, int size);
void backward_bias(float *bias_updates, float *delta, int batch, int n, int size);
layer make_maxpool_layer(int batch, int h, int w, int c, int size, int stride, int padding);
void forward_maxpool_layer(const layer l, network net);
void backward_maxpool_layer(const layer l, network net);
void forward_convolutional_layer(layer l, network net);
void backward_convolutional_layer(layer l, network net);

#endif

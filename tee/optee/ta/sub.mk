# sub.mk: p4's TA sources for OP-TEE's TA dev kit (see Makefile, docs/tee.md).
# The freestanding pieces shared with the normal world (the RDP arithmetic,
# its math, ChaCha20 and the Gaussian sampler) are compiled from p4's tree.
global-incdirs-y += include
global-incdirs-y += ../../..

srcs-y += p4_ta.c
srcs-y += ta_ledger.c
srcs-y += ta_release.c
srcs-y += ta_layers.c
srcs-y += ta_conv.c
srcs-y += ta_maxpool.c
srcs-y += ta_kd.c
srcs-y += ta_kd_exchange.c
srcs-y += ta_logits.c
srcs-y += ta_store.c
srcs-y += ../../../common/fs_math.c
srcs-y += ../../../common/chacha20.c
srcs-y += ../../../common/fs_gaussian.c
srcs-y += ../../../common/fs_ziggurat.c
srcs-y += ../../../dp/rdp_core.c
srcs-y += ../../../dp/rdp_freestanding.c
srcs-y += ../../../dp/clip_rows.c
srcs-y += ../../../model/fs_activation.c
srcs-y += ../../../model/fs_connected.c
srcs-y += ../../../model/fs_conv.c
srcs-y += ../../../model/fs_maxpool.c
srcs-y += ../../../model/fs_softmax.c
srcs-y += ../../../model/fs_sgd.c
srcs-y += ../../../model/fs_kd.c

ifneq ($(P4_TA_MEMORY_MIB),)
cflags-y += -DP4_TA_MEMORY_MIB=$(P4_TA_MEMORY_MIB)
endif
# --reproducible runs need SEED_NOISE, which lets the normal world choose the
# noise key: a production TA is built without it (docs/tee.md).
ifneq ($(P4_TA_ALLOW_SEEDED_NOISE),)
cflags-y += -DP4_TA_ALLOW_SEEDED_NOISE=1
endif

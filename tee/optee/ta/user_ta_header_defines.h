/* user_ta_header_defines.h: what OP-TEE's TA dev kit needs to know about
 * p4's TA (its UUID, flags, stack and heap), read by ta_dev_kit.mk. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include "p4_ta.h"

/* The TA heap (TEE_Malloc), DarkneTZ's TA_DATA_SIZE by default; build with
 * P4_TA_MEMORY_MIB=<n> to match [tee] ta_memory_mib. */
#ifndef P4_TA_MEMORY_MIB
#define P4_TA_MEMORY_MIB 10
#endif

#define TA_UUID P4_TA_UUID
/* One instance, one session: the ledger has one writer. */
#define TA_FLAGS TA_FLAG_SINGLE_INSTANCE
#define TA_STACK_SIZE (16 * 1024)
#define TA_DATA_SIZE (P4_TA_MEMORY_MIB * 1024 * 1024)
#define TA_VERSION "0.1"
#define TA_DESCRIPTION "p4: DP noise, the privacy ledger, releases and protected layers"

#endif

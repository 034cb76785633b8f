/* evidence_source.h: what each evidence source implements (private to
 * tee/cca: evidence.c dispatches, evidence_tsm.c and evidence_command.c
 * implement). */
#ifndef P4_TEE_CCA_EVIDENCE_SOURCE_H
#define P4_TEE_CCA_EVIDENCE_SOURCE_H

#include "tee/cca/evidence.h"

#define P4_CCA_EVIDENCE_TEXT_MAX 1024

struct p4_cca_evidence {
    int (*get)(p4_cca_evidence *self, const uint8_t challenge[64], uint8_t **token,
               size_t *token_len, p4_error *err);
    char description[P4_CCA_EVIDENCE_TEXT_MAX + 64];
    /* configfs-tsm */
    char root[P4_CCA_EVIDENCE_TEXT_MAX];
    char report_name[256];       /* "" = a fresh directory per request */
    unsigned long sequence;      /* numbers this source's fresh directories */
    /* command */
    char command[P4_CCA_EVIDENCE_TEXT_MAX];
    int timeout_ms;
};

int p4_cca_tsm_get(p4_cca_evidence *self, const uint8_t challenge[64], uint8_t **token,
                   size_t *token_len, p4_error *err);
int p4_cca_command_get(p4_cca_evidence *self, const uint8_t challenge[64], uint8_t **token,
                       size_t *token_len, p4_error *err);

#endif

/* tee_internal_api.h: the subset of the GlobalPlatform TEE Internal Core API
 * (GPD_SPE_010, v1.2/1.3 signatures: sizes are size_t) that p4's TA uses, as
 * the harness implements it.  Names, types, values and signatures follow the
 * specification, so the TA builds unchanged against OP-TEE's TA dev kit.
 * Freestanding: only the headers a GP TA may include.
 * Written from the specification; no code taken from an implementation. */
#ifndef TEE_INTERNAL_API_H
#define TEE_INTERNAL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t TEE_Result;

#define TEE_SUCCESS                       0x00000000u
#define TEE_ERROR_CORRUPT_OBJECT          0xF0100001u
#define TEE_ERROR_STORAGE_NOT_AVAILABLE   0xF0100003u
#define TEE_ERROR_GENERIC                 0xFFFF0000u
#define TEE_ERROR_ACCESS_DENIED           0xFFFF0001u
#define TEE_ERROR_CANCEL                  0xFFFF0002u
#define TEE_ERROR_ACCESS_CONFLICT         0xFFFF0003u
#define TEE_ERROR_EXCESS_DATA             0xFFFF0004u
#define TEE_ERROR_BAD_FORMAT              0xFFFF0005u
#define TEE_ERROR_BAD_PARAMETERS          0xFFFF0006u
#define TEE_ERROR_BAD_STATE               0xFFFF0007u
#define TEE_ERROR_ITEM_NOT_FOUND          0xFFFF0008u
#define TEE_ERROR_NOT_IMPLEMENTED         0xFFFF0009u
#define TEE_ERROR_NOT_SUPPORTED           0xFFFF000Au
#define TEE_ERROR_NO_DATA                 0xFFFF000Bu
#define TEE_ERROR_OUT_OF_MEMORY           0xFFFF000Cu
#define TEE_ERROR_BUSY                    0xFFFF000Du
#define TEE_ERROR_COMMUNICATION           0xFFFF000Eu
#define TEE_ERROR_SECURITY                0xFFFF000Fu
#define TEE_ERROR_SHORT_BUFFER            0xFFFF0010u
#define TEE_ERROR_OVERFLOW                0xFFFF300Fu
#define TEE_ERROR_TARGET_DEAD             0xFFFF3024u
#define TEE_ERROR_STORAGE_NO_SPACE        0xFFFF3041u

/* Parameters of the entry points. */
#define TEE_PARAM_TYPE_NONE           0u
#define TEE_PARAM_TYPE_VALUE_INPUT    1u
#define TEE_PARAM_TYPE_VALUE_OUTPUT   2u
#define TEE_PARAM_TYPE_VALUE_INOUT    3u
#define TEE_PARAM_TYPE_MEMREF_INPUT   5u
#define TEE_PARAM_TYPE_MEMREF_OUTPUT  6u
#define TEE_PARAM_TYPE_MEMREF_INOUT   7u

#define TEE_PARAM_TYPES(t0, t1, t2, t3) \
    ((uint32_t)(t0) | ((uint32_t)(t1) << 4) | ((uint32_t)(t2) << 8) | ((uint32_t)(t3) << 12))
#define TEE_PARAM_TYPE_GET(t, i) (((t) >> ((i) * 4)) & 0xFu)

typedef union {
    struct {
        void *buffer;
        size_t size;
    } memref;
    struct {
        uint32_t a;
        uint32_t b;
    } value;
} TEE_Param;

/* The TA's entry points, which the TA defines and the framework calls. */
TEE_Result TA_CreateEntryPoint(void);
void TA_DestroyEntryPoint(void);
TEE_Result TA_OpenSessionEntryPoint(uint32_t paramTypes, TEE_Param params[4],
                                    void **sessionContext);
void TA_CloseSessionEntryPoint(void *sessionContext);
TEE_Result TA_InvokeCommandEntryPoint(void *sessionContext, uint32_t commandID,
                                      uint32_t paramTypes, TEE_Param params[4]);

/* Memory. */
#define TEE_MALLOC_FILL_ZERO 0x00000000u
#define TEE_MALLOC_NO_FILL   0x00000001u

void *TEE_Malloc(size_t size, uint32_t hint);
void TEE_Free(void *buffer);
void TEE_MemMove(void *dest, const void *src, size_t size);
void TEE_MemFill(void *buffer, uint32_t x, size_t size);
int32_t TEE_MemCompare(const void *buffer1, const void *buffer2, size_t size);

/* Randomness and panics. */
void TEE_GenerateRandom(void *randomBuffer, size_t randomBufferLen);
void TEE_Panic(TEE_Result panicCode) __attribute__((noreturn));

/* Trusted storage: persistent data objects. */
typedef struct __TEE_ObjectHandle *TEE_ObjectHandle;
#define TEE_HANDLE_NULL ((TEE_ObjectHandle)0)

#define TEE_STORAGE_PRIVATE      0x00000001u
#define TEE_OBJECT_ID_MAX_LEN    64u
#define TEE_DATA_MAX_POSITION    0xFFFFFFFFu

#define TEE_DATA_FLAG_ACCESS_READ        0x00000001u
#define TEE_DATA_FLAG_ACCESS_WRITE       0x00000002u
#define TEE_DATA_FLAG_ACCESS_WRITE_META  0x00000004u
#define TEE_DATA_FLAG_SHARE_READ         0x00000010u
#define TEE_DATA_FLAG_SHARE_WRITE        0x00000020u
#define TEE_DATA_FLAG_OVERWRITE          0x00000400u

typedef enum {
    TEE_DATA_SEEK_SET = 0,
    TEE_DATA_SEEK_CUR = 1,
    TEE_DATA_SEEK_END = 2
} TEE_Whence;

TEE_Result TEE_CreatePersistentObject(uint32_t storageID, const void *objectID,
                                      size_t objectIDLen, uint32_t flags,
                                      TEE_ObjectHandle attributes, const void *initialData,
                                      size_t initialDataLen, TEE_ObjectHandle *object);
TEE_Result TEE_OpenPersistentObject(uint32_t storageID, const void *objectID,
                                    size_t objectIDLen, uint32_t flags,
                                    TEE_ObjectHandle *object);
TEE_Result TEE_ReadObjectData(TEE_ObjectHandle object, void *buffer, size_t size,
                              size_t *count);
TEE_Result TEE_WriteObjectData(TEE_ObjectHandle object, const void *buffer, size_t size);
TEE_Result TEE_TruncateObjectData(TEE_ObjectHandle object, size_t size);
TEE_Result TEE_SeekObjectData(TEE_ObjectHandle object, intmax_t offset, TEE_Whence whence);
void TEE_CloseObject(TEE_ObjectHandle object);
TEE_Result TEE_CloseAndDeletePersistentObject1(TEE_ObjectHandle object);

#endif

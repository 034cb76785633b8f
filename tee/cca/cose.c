/* cose.c: COSE_Sign1 decode, Sig_structure, ES256/384/512 verify and sign,
 * and EC public keys as COSE_Key or raw points.  See cose.h. */
#include "tee/cca/cose.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>

#include "tee/cca/cbor_util.h"

/* What each accepted algorithm needs: its curve, coordinate size and hash. */
typedef struct {
    int64_t alg;
    const char *name;
    const char *group;      /* OpenSSL's group name */
    int cose_curve;         /* COSE_Key crv: 1 P-256, 2 P-384, 3 P-521 */
    size_t coordinate;      /* bytes of x, y, r and s */
} cose_alg_info;

static const cose_alg_info ALGS[] = {
    {P4_COSE_ES256, "ES256", "prime256v1", 1, 32},
    {P4_COSE_ES384, "ES384", "secp384r1", 2, 48},
    {P4_COSE_ES512, "ES512", "secp521r1", 3, 66},
};
#define N_ALGS (sizeof ALGS / sizeof ALGS[0])

static const cose_alg_info *alg_info(int64_t alg)
{
    for (size_t i = 0; i < N_ALGS; i++)
        if (ALGS[i].alg == alg)
            return &ALGS[i];
    return NULL;
}

static const EVP_MD *alg_digest(int64_t alg)
{
    switch (alg) {
    case P4_COSE_ES256: return EVP_sha256();
    case P4_COSE_ES384: return EVP_sha384();
    case P4_COSE_ES512: return EVP_sha512();
    default: return NULL;
    }
}

const char *p4_cose_alg_name(int64_t alg)
{
    const cose_alg_info *info = alg_info(alg);
    return info ? info->name : NULL;
}

void p4_cose_sign1_clear(p4_cose_sign1 *s)
{
    if (s == NULL)
        return;
    free(s->protected_header);
    free(s->payload);
    free(s->signature);
    memset(s, 0, sizeof *s);
}

static uint8_t *copy_bytes(const cbor_item_t *bstr, size_t *len)
{
    *len = cbor_bytestring_length(bstr);
    uint8_t *copy = malloc(*len > 0 ? *len : 1);
    if (copy != NULL && *len > 0)
        memcpy(copy, cbor_bytestring_handle(bstr), *len);
    return copy;
}

/* Reads the algorithm from the protected header's bytes. */
static int protected_alg(const uint8_t *bytes, size_t len, const char *what, int64_t *alg,
                         p4_error *err)
{
    char where[96];
    snprintf(where, sizeof where, "%s protected header", what);
    if (len == 0)
        return p4_error_set(err, P4_EFORMAT,
                            "%s is empty, so no algorithm is signed: the token is unsigned or "
                            "not a COSE_Sign1 p4 accepts", where);
    cbor_item_t *header = NULL;
    int rc = p4_cbor_load(bytes, len, where, &header, err);
    if (rc != P4_OK)
        return rc;
    int duplicate = 0;
    if (!cbor_isa_map(header)) {
        rc = p4_error_set(err, P4_EFORMAT, "%s is not a CBOR map", where);
    } else if (p4_cbor_map_get(header, 2, NULL) != NULL) {
        rc = p4_error_set(err, P4_EFORMAT,
                          "%s has critical parameters (label 2), which p4 does not support",
                          where);
    } else {
        cbor_item_t *value = p4_cbor_map_get(header, 1, &duplicate);
        if (value == NULL)
            rc = p4_error_set(err, P4_EFORMAT, "%s has no algorithm (label 1)", where);
        else if (duplicate)
            rc = p4_error_set(err, P4_EFORMAT, "%s gives the algorithm twice", where);
        else if (p4_cbor_int(value, alg) != 0)
            rc = p4_error_set(err, P4_EFORMAT,
                              "%s: the algorithm is not an integer (named algorithms are not "
                              "supported)", where);
        else if (alg_info(*alg) == NULL)
            rc = p4_error_set(err, P4_EFORMAT,
                              "%s: algorithm %lld is not ES256 (-7), ES384 (-35) or ES512 (-36)",
                              where, (long long)*alg);
    }
    cbor_decref(&header);
    return rc;
}

static int decode_sign1_item(const cbor_item_t *item, const char *what, p4_cose_sign1 *out,
                             p4_error *err)
{
    if (!cbor_isa_array(item))
        return p4_error_set(err, P4_EFORMAT,
                            "%s is not a COSE_Sign1: want a CBOR array of 4, found another "
                            "CBOR type (an unsigned claim set?)", what);
    if (cbor_array_size(item) != 4)
        return p4_error_set(err, P4_EFORMAT,
                            "%s is not a COSE_Sign1: an array of %zu items, want 4", what,
                            cbor_array_size(item));
    cbor_item_t **parts = cbor_array_handle(item);
    if (!p4_cbor_is_bytes(parts[0]))
        return p4_error_set(err, P4_EFORMAT,
                            "%s: the protected header is not a definite-length byte string",
                            what);
    if (!cbor_isa_map(parts[1]))
        return p4_error_set(err, P4_EFORMAT, "%s: the unprotected header is not a map", what);
    if (!p4_cbor_is_bytes(parts[2]))
        return p4_error_set(err, P4_EFORMAT,
                            "%s: the payload is not a definite-length byte string (a detached "
                            "payload is not accepted)", what);
    if (!p4_cbor_is_bytes(parts[3]))
        return p4_error_set(err, P4_EFORMAT,
                            "%s: the signature is not a definite-length byte string", what);
    out->protected_header = copy_bytes(parts[0], &out->protected_len);
    out->payload = copy_bytes(parts[2], &out->payload_len);
    out->signature = copy_bytes(parts[3], &out->signature_len);
    if (!out->protected_header || !out->payload || !out->signature)
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", what);
    int rc = protected_alg(out->protected_header, out->protected_len, what, &out->alg, err);
    if (rc != P4_OK)
        return rc;
    const cose_alg_info *info = alg_info(out->alg);
    if (out->signature_len == 0)
        return p4_error_set(err, P4_EFORMAT, "%s is unsigned: its signature is empty", what);
    if (out->signature_len != 2 * info->coordinate)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: the %s signature is %zu bytes; want %zu (r||s)", what,
                            info->name, out->signature_len, 2 * info->coordinate);
    return P4_OK;
}

int p4_cose_sign1_decode(const uint8_t *bytes, size_t len, const char *what,
                         p4_cose_sign1 *out, p4_error *err)
{
    if (out == NULL || what == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sign1_decode: NULL argument");
    memset(out, 0, sizeof *out);
    if (bytes == NULL && len > 0)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sign1_decode: NULL bytes");
    /* libcbor 0.8 (Debian 12) refuses the one-byte forms of tags 6..20 as
     * "unassigned", and tag 18 is one of them (0xd2): read it here. */
    int one_byte_tag = len > 0 && bytes[0] == 0xc0 + P4_COSE_SIGN1_TAG;
    cbor_item_t *root = NULL;
    int rc = p4_cbor_load(bytes + one_byte_tag, len - one_byte_tag, what, &root, err);
    if (rc != P4_OK)
        return rc;
    cbor_item_t *item = root;
    cbor_item_t *tagged = NULL;
    if (one_byte_tag && cbor_isa_tag(root)) {
        rc = p4_error_set(err, P4_EFORMAT, "%s: tag 18 wraps another tag", what);
        cbor_decref(&root);
        return rc;
    }
    if (cbor_isa_tag(root)) {
        if (cbor_tag_value(root) != P4_COSE_SIGN1_TAG) {
            rc = p4_error_set(err, P4_EFORMAT,
                              "%s: CBOR tag %llu; want 18 (COSE_Sign1) or no tag", what,
                              (unsigned long long)cbor_tag_value(root));
            cbor_decref(&root);
            return rc;
        }
        tagged = cbor_tag_item(root); /* a new reference */
        item = tagged;
    }
    rc = decode_sign1_item(item, what, out, err);
    if (tagged != NULL)
        cbor_decref(&tagged);
    cbor_decref(&root);
    if (rc != P4_OK)
        p4_cose_sign1_clear(out);
    return rc;
}

int p4_cose_sig_structure(const p4_cose_sign1 *s, uint8_t **out, size_t *out_len,
                          p4_error *err)
{
    if (s == NULL || out == NULL || out_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sig_structure: NULL argument");
    cbor_item_t *array = cbor_new_definite_array(4);
    int ok = array != NULL &&
             cbor_array_push(array, cbor_move(cbor_build_string("Signature1"))) &&
             cbor_array_push(array, cbor_move(cbor_build_bytestring(s->protected_header,
                                                                    s->protected_len))) &&
             cbor_array_push(array, cbor_move(cbor_build_bytestring(NULL, 0))) &&
             cbor_array_push(array, cbor_move(cbor_build_bytestring(s->payload,
                                                                    s->payload_len)));
    int rc = ok ? p4_cbor_serialize(array, out, out_len, err)
                : p4_error_set(err, P4_ENOMEM, "out of memory building a COSE Sig_structure");
    if (array != NULL)
        cbor_decref(&array);
    return rc;
}

/* Checks that key is an EC key on the curve of info. */
static int key_fits(EVP_PKEY *key, const cose_alg_info *info, const char *what, p4_error *err)
{
    char group[64] = "";
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(key, group, sizeof group, NULL) != 1)
        return p4_error_set(err, P4_ECRYPTO, "%s is signed with %s but the key is not an EC key",
                            what, info->name);
    if (strcmp(group, info->group) != 0)
        return p4_error_set(err, P4_ECRYPTO,
                            "%s is signed with %s (curve %s) but the key is on curve %s", what,
                            info->name, info->group, group);
    return P4_OK;
}

/* r||s -> the DER ECDSA-Sig-Value OpenSSL verifies. */
static int raw_to_der(const uint8_t *raw, size_t coordinate, uint8_t **der, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coordinate, NULL);
    BIGNUM *s = BN_bin2bn(raw + coordinate, (int)coordinate, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        ECDSA_SIG_free(sig);
        BN_free(r);
        BN_free(s);
        return -1;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return *der_len > 0 ? 0 : -1;
}

int p4_cose_sign1_verify(const p4_cose_sign1 *s, EVP_PKEY *key, const char *what,
                         p4_error *err)
{
    if (s == NULL || key == NULL || what == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sign1_verify: NULL argument");
    const cose_alg_info *info = alg_info(s->alg);
    if (info == NULL || s->signature_len != 2 * info->coordinate)
        return p4_error_set(err, P4_EFORMAT, "%s: unsupported algorithm or signature size",
                            what);
    int rc = key_fits(key, info, what, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    rc = p4_cose_sig_structure(s, &tbs, &tbs_len, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *der = NULL;
    int der_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int verified = -1;
    if (ctx != NULL && raw_to_der(s->signature, info->coordinate, &der, &der_len) == 0 &&
        EVP_DigestVerifyInit(ctx, NULL, alg_digest(s->alg), NULL, key) == 1)
        verified = EVP_DigestVerify(ctx, der, (size_t)der_len, tbs, tbs_len);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(tbs);
    if (verified != 1)
        return p4_error_set(err, P4_ECRYPTO,
                            "%s: the %s signature does not verify under the given key (wrong "
                            "key, or the signed content was changed)", what, info->name);
    return P4_OK;
}

int p4_cose_alg_for_key(EVP_PKEY *key, int64_t *alg, p4_error *err)
{
    if (key == NULL || alg == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_alg_for_key: NULL argument");
    char group[64] = "";
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
        EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1)
        for (size_t i = 0; i < N_ALGS; i++)
            if (strcmp(group, ALGS[i].group) == 0) {
                *alg = ALGS[i].alg;
                return P4_OK;
            }
    return p4_error_set(err, P4_EUNSUPPORTED,
                        "the key is not an EC key on P-256, P-384 or P-521 (curve '%s')",
                        group);
}

/* Builds the protected header {1: alg}. */
static int protected_for(int64_t alg, uint8_t **out, size_t *out_len, p4_error *err)
{
    cbor_item_t *map = cbor_new_definite_map(1);
    cbor_item_t *label = p4_cbor_build_int(1), *value = p4_cbor_build_int(alg);
    int rc;
    if (map != NULL && label != NULL && value != NULL &&
        cbor_map_add(map, (struct cbor_pair){label, value}))
        rc = p4_cbor_serialize(map, out, out_len, err);
    else
        rc = p4_error_set(err, P4_ENOMEM, "out of memory building a COSE header");
    /* The map holds its own references to label and value. */
    if (label != NULL)
        cbor_decref(&label);
    if (value != NULL)
        cbor_decref(&value);
    if (map != NULL)
        cbor_decref(&map);
    return rc;
}

/* DER ECDSA signature -> r||s of coordinate bytes each. */
static int der_to_raw(const uint8_t *der, size_t der_len, size_t coordinate, uint8_t *raw)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL)
        return -1;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, (int)coordinate) == (int)coordinate &&
             BN_bn2binpad(s, raw + coordinate, (int)coordinate) == (int)coordinate;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

int p4_cose_sign1_sign(int64_t alg, const uint8_t *payload, size_t payload_len,
                       EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err)
{
    if ((payload == NULL && payload_len > 0) || key == NULL || out == NULL || out_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sign1_sign: NULL argument");
    const cose_alg_info *info = alg_info(alg);
    if (info == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_sign1_sign: algorithm %lld unsupported",
                            (long long)alg);
    int rc = key_fits(key, info, "the message to sign", err);
    if (rc != P4_OK)
        return rc;
    p4_cose_sign1 s = {.alg = alg, .payload = (uint8_t *)payload, .payload_len = payload_len};
    rc = protected_for(alg, &s.protected_header, &s.protected_len, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *tbs = NULL, *der = NULL;
    size_t tbs_len = 0, der_len = 0;
    uint8_t raw[2 * 66];
    rc = p4_cose_sig_structure(&s, &tbs, &tbs_len, err);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (rc == P4_OK &&
        (ctx == NULL || EVP_DigestSignInit(ctx, NULL, alg_digest(alg), NULL, key) != 1 ||
         EVP_DigestSign(ctx, NULL, &der_len, tbs, tbs_len) != 1 ||
         (der = OPENSSL_malloc(der_len)) == NULL ||
         EVP_DigestSign(ctx, der, &der_len, tbs, tbs_len) != 1 ||
         der_to_raw(der, der_len, info->coordinate, raw) != 0))
        rc = p4_error_set(err, P4_ECRYPTO, "signing with %s failed (is the key private?)",
                          info->name);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(tbs);
    if (rc == P4_OK) {
        cbor_item_t *array = cbor_new_definite_array(4);
        int ok = array != NULL &&
                 cbor_array_push(array, cbor_move(cbor_build_bytestring(s.protected_header,
                                                                        s.protected_len))) &&
                 cbor_array_push(array, cbor_move(cbor_new_definite_map(0))) &&
                 cbor_array_push(array, cbor_move(cbor_build_bytestring(payload,
                                                                        payload_len))) &&
                 cbor_array_push(array, cbor_move(cbor_build_bytestring(raw,
                                                                        2 * info->coordinate)));
        cbor_item_t *tag = ok ? cbor_build_tag(P4_COSE_SIGN1_TAG, array) : NULL;
        rc = tag != NULL ? p4_cbor_serialize(tag, out, out_len, err)
                         : p4_error_set(err, P4_ENOMEM, "out of memory encoding a COSE_Sign1");
        if (tag != NULL)
            cbor_decref(&tag);
        if (array != NULL)
            cbor_decref(&array);
    }
    free(s.protected_header);
    return rc;
}

/* An EC public key from the uncompressed point on info's curve, checked to
 * lie on the curve. */
static int key_from_point(const cose_alg_info *info, const uint8_t *point, size_t len,
                          EVP_PKEY **out, p4_error *err)
{
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)info->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    int ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        ok = check != NULL && EVP_PKEY_public_check(check) == 1;
        EVP_PKEY_CTX_free(check);
    }
    if (!ok) {
        EVP_PKEY_free(key);
        return p4_error_set(err, P4_EFORMAT, "the %zu-byte public key is not a point on %s",
                            len, info->group);
    }
    *out = key;
    return P4_OK;
}

static int key_from_cose_key(const uint8_t *bytes, size_t len, EVP_PKEY **out, p4_error *err)
{
    cbor_item_t *map = NULL;
    int rc = p4_cbor_load(bytes, len, "public key (COSE_Key)", &map, err);
    if (rc != P4_OK)
        return rc;
    int64_t kty = 0, crv = 0;
    cbor_item_t *x = p4_cbor_map_get(map, -2, NULL), *y = p4_cbor_map_get(map, -3, NULL);
    const cose_alg_info *info = NULL;
    if (!cbor_isa_map(map) || p4_cbor_int(p4_cbor_map_get(map, 1, NULL), &kty) != 0 ||
        kty != 2) {
        rc = p4_error_set(err, P4_EFORMAT,
                          "public key: neither a raw EC point nor a COSE_Key of kty 2 (EC2)");
    } else if (p4_cbor_int(p4_cbor_map_get(map, -1, NULL), &crv) != 0) {
        rc = p4_error_set(err, P4_EFORMAT, "public key (COSE_Key): no curve (label -1)");
    } else {
        for (size_t i = 0; i < N_ALGS; i++)
            if (ALGS[i].cose_curve == crv)
                info = &ALGS[i];
        if (info == NULL)
            rc = p4_error_set(err, P4_EFORMAT,
                              "public key (COSE_Key): curve %lld is not P-256 (1), P-384 (2) "
                              "or P-521 (3)", (long long)crv);
        else if (!p4_cbor_is_bytes(x) || !p4_cbor_is_bytes(y) ||
                 cbor_bytestring_length(x) != info->coordinate ||
                 cbor_bytestring_length(y) != info->coordinate)
            rc = p4_error_set(err, P4_EFORMAT,
                              "public key (COSE_Key): x and y must be %zu-byte strings on %s "
                              "(compressed points are not supported)", info->coordinate,
                              info->group);
    }
    if (rc == P4_OK) {
        uint8_t point[1 + 2 * 66];
        point[0] = 0x04;
        memcpy(point + 1, cbor_bytestring_handle(x), info->coordinate);
        memcpy(point + 1 + info->coordinate, cbor_bytestring_handle(y), info->coordinate);
        rc = key_from_point(info, point, 1 + 2 * info->coordinate, out, err);
    }
    cbor_decref(&map);
    return rc;
}

int p4_cose_public_key_decode(const uint8_t *bytes, size_t len, EVP_PKEY **out, p4_error *err)
{
    if (bytes == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_public_key_decode: NULL argument");
    *out = NULL;
    if (len > 0 && bytes[0] == 0x04)
        for (size_t i = 0; i < N_ALGS; i++)
            if (len == 1 + 2 * ALGS[i].coordinate)
                return key_from_point(&ALGS[i], bytes, len, out, err);
    return key_from_cose_key(bytes, len, out, err);
}

int p4_cose_public_key_point(EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_public_key_point: NULL argument");
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &len) != 1 ||
        len == 0)
        return p4_error_set(err, P4_ECRYPTO, "the key has no EC public point");
    uint8_t *point = malloc(len);
    if (point == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, len, &len) != 1 ||
        point[0] != 0x04) {
        free(point);
        return p4_error_set(err, P4_ECRYPTO, "the key's public point is not uncompressed");
    }
    *out = point;
    *out_len = len;
    return P4_OK;
}

int p4_cose_public_key_encode(EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err)
{
    int64_t alg = 0;  /* set by the key-type lookup below; 0 quiets -O2 */
    int rc = p4_cose_alg_for_key(key, &alg, err);
    if (rc != P4_OK)
        return rc;
    if (out == NULL || out_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cose_public_key_encode: NULL argument");
    const cose_alg_info *info = alg_info(alg);
    uint8_t *point = NULL;
    size_t point_len = 0;
    rc = p4_cose_public_key_point(key, &point, &point_len, err);
    if (rc != P4_OK)
        return rc;
    if (point_len != 1 + 2 * info->coordinate) {
        free(point);
        return p4_error_set(err, P4_ECRYPTO, "unexpected public point size %zu", point_len);
    }
    cbor_item_t *map = cbor_new_definite_map(4);
    int ok = map != NULL &&
             cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_uint8(1)),
                                                  cbor_move(cbor_build_uint8(2))}) &&
             cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_negint8(0)),
                                                  cbor_move(cbor_build_uint8(
                                                      (uint8_t)info->cose_curve))}) &&
             cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_negint8(1)),
                                                  cbor_move(cbor_build_bytestring(
                                                      point + 1, info->coordinate))}) &&
             cbor_map_add(map, (struct cbor_pair){
                                   cbor_move(cbor_build_negint8(2)),
                                   cbor_move(cbor_build_bytestring(
                                       point + 1 + info->coordinate, info->coordinate))});
    rc = ok ? p4_cbor_serialize(map, out, out_len, err)
            : p4_error_set(err, P4_ENOMEM, "out of memory encoding a COSE_Key");
    if (map != NULL)
        cbor_decref(&map);
    free(point);
    return rc;
}

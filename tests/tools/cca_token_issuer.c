/* cca_token_issuer: makes Arm CCA attestation tokens in the real format
 * (CBOR tag 399; platform token under 44234 and realm token under 44241,
 * each a COSE_Sign1) signed with keys it generates with OpenSSL, so that the
 * verifier and admission can be tested end to end without a realm.
 *
 *   cca_token_issuer keygen DIR [--alg ES256|ES384|ES512] [--realm-alg A]
 *       writes DIR/cpak.pem (platform private key), DIR/cpak.pub.pem (what
 *       a verifier trusts) and DIR/rak.pem (realm attestation key)
 *   cca_token_issuer issue DIR [options] CHALLENGE_HEX
 *       prints a token answering the 64-byte challenge on stdout; this is
 *       the "external command" evidence source's contract
 *     --rim HEX               realm initial measurement (default 32 x 0x11)
 *     --personalization HEX   64 bytes (default zeros)
 *     --sw-measurement HEX    first platform software component's measurement
 *     --lifecycle N           platform security lifecycle (default 0x3000)
 *     --rak-format raw|cose-key  how claim 44237 carries the RAK (default raw)
 *     --unbound               platform challenge not the RAK's hash
 *     --out FILE              write the token to FILE instead of stdout
 * Test-only: the keys are plain files and nothing here is secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tee/cca/cbor_util.h"
#include "tee/cca/cose.h"
#include "tee/cca/hex.h"
#include "tee/cca/token.h"

static int die(const char *what, const p4_error *err)
{
    fprintf(stderr, "cca_token_issuer: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    return 1;
}

static const char *curve_for(const char *alg)
{
    if (strcmp(alg, "ES256") == 0) return "P-256";
    if (strcmp(alg, "ES384") == 0) return "P-384";
    if (strcmp(alg, "ES512") == 0) return "P-521";
    return NULL;
}

static int write_key(const char *dir, const char *name, EVP_PKEY *key, int public_only)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = public_only ? PEM_write_PUBKEY(f, key)
                         : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int keygen(int argc, char **argv)
{
    if (argc < 1)
        return die("keygen DIR [--alg A] [--realm-alg A]", NULL);
    const char *dir = argv[0], *alg = "ES384", *realm_alg = "ES384";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--alg") == 0) alg = argv[i + 1];
        else if (strcmp(argv[i], "--realm-alg") == 0) realm_alg = argv[i + 1];
        else return die("keygen: unknown option", NULL);
    }
    if (!curve_for(alg) || !curve_for(realm_alg))
        return die("keygen: --alg wants ES256, ES384 or ES512", NULL);
    EVP_PKEY *cpak = EVP_EC_gen(curve_for(alg));
    EVP_PKEY *rak = EVP_EC_gen(curve_for(realm_alg));
    int rc = cpak && rak && write_key(dir, "cpak.pem", cpak, 0) == 0 &&
                     write_key(dir, "cpak.pub.pem", cpak, 1) == 0 &&
                     write_key(dir, "rak.pem", rak, 0) == 0
                 ? 0
                 : die("keygen: cannot make or write the keys", NULL);
    EVP_PKEY_free(cpak);
    EVP_PKEY_free(rak);
    return rc;
}

static EVP_PKEY *read_private(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return key;
}

static void put(cbor_item_t *map, int64_t key, cbor_item_t *value)
{
    cbor_map_add(map, (struct cbor_pair){cbor_move(p4_cbor_build_int(key)), cbor_move(value)});
}

static cbor_item_t *bytes_of(const uint8_t *data, size_t len)
{
    return cbor_build_bytestring(data, len);
}

typedef struct {
    uint8_t challenge[64];
    uint8_t rim[64];
    size_t rim_len;
    uint8_t personalization[64];
    uint8_t sw_measurement[64];
    size_t sw_measurement_len;
    unsigned lifecycle;
    int cose_key;
    int unbound;
} issue_options;

static cbor_item_t *platform_claims(const issue_options *o, const uint8_t *rak_hash)
{
    uint8_t implementation[32], instance[33], config[4] = {0xcf, 0xcf, 0xcf, 0xcf};
    uint8_t signer[32], other[32];
    memset(implementation, 0x7f, sizeof implementation);
    memset(instance, 0x42, sizeof instance);
    instance[0] = 0x01;
    memset(signer, 0x5a, sizeof signer);
    memset(other, 0x22, sizeof other);
    cbor_item_t *map = cbor_new_definite_map(9);
    put(map, P4_CCA_PLATFORM_PROFILE, cbor_build_string("http://arm.com/CCA-SSD/1.0.0"));
    put(map, P4_CCA_CHALLENGE, bytes_of(rak_hash, 32));
    put(map, P4_CCA_PLATFORM_IMPLEMENTATION_ID, bytes_of(implementation, sizeof implementation));
    put(map, P4_CCA_PLATFORM_INSTANCE_ID, bytes_of(instance, sizeof instance));
    put(map, P4_CCA_PLATFORM_CONFIG, bytes_of(config, sizeof config));
    put(map, P4_CCA_PLATFORM_LIFECYCLE, p4_cbor_build_int(o->lifecycle));
    cbor_item_t *components = cbor_new_definite_array(2);
    for (int i = 0; i < 2; i++) {
        cbor_item_t *c = cbor_new_definite_map(5);
        put(c, 1, cbor_build_string(i == 0 ? "BL" : "RMM"));
        put(c, 2, i == 0 ? bytes_of(o->sw_measurement, o->sw_measurement_len)
                         : bytes_of(other, sizeof other));
        put(c, 4, cbor_build_string("1.0.0"));
        put(c, 5, bytes_of(signer, sizeof signer));
        put(c, 6, cbor_build_string("sha-256"));
        cbor_array_push(components, cbor_move(c));
    }
    put(map, P4_CCA_PLATFORM_SW_COMPONENTS, components);
    put(map, P4_CCA_PLATFORM_VERIFICATION_SERVICE, cbor_build_string("https://p4.test"));
    put(map, P4_CCA_PLATFORM_HASH_ALGO, cbor_build_string("sha-256"));
    return map;
}

static cbor_item_t *realm_claims(const issue_options *o, const uint8_t *rak, size_t rak_len)
{
    uint8_t zeros[32] = {0};
    cbor_item_t *map = cbor_new_definite_map(8);
    if (o->cose_key)
        put(map, P4_CCA_REALM_PROFILE, cbor_build_string("tag:arm.com,2023:realm#1.0.0"));
    put(map, P4_CCA_CHALLENGE, bytes_of(o->challenge, 64));
    put(map, P4_CCA_REALM_PERSONALIZATION, bytes_of(o->personalization, 64));
    put(map, P4_CCA_REALM_HASH_ALGO, cbor_build_string("sha-256"));
    put(map, P4_CCA_REALM_PUBLIC_KEY, bytes_of(rak, rak_len));
    put(map, P4_CCA_REALM_PUBLIC_KEY_HASH_ALGO, cbor_build_string("sha-256"));
    put(map, P4_CCA_REALM_INITIAL_MEASUREMENT, bytes_of(o->rim, o->rim_len));
    cbor_item_t *rem = cbor_new_definite_array(4);
    for (int i = 0; i < 4; i++)
        cbor_array_push(rem, cbor_move(bytes_of(zeros, sizeof zeros)));
    put(map, P4_CCA_REALM_EXTENSIBLE_MEASUREMENTS, rem);
    return map;
}

/* Serializes claims and signs them into a COSE_Sign1. */
static int sign_claims(cbor_item_t *claims, EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    int64_t alg;
    p4_error err = {0};
    int rc = p4_cbor_serialize(claims, &payload, &payload_len, &err);
    if (rc == P4_OK)
        rc = p4_cose_alg_for_key(key, &alg, &err);
    if (rc == P4_OK)
        rc = p4_cose_sign1_sign(alg, payload, payload_len, key, out, out_len, &err);
    free(payload);
    if (rc != P4_OK)
        die("signing", &err);
    return rc;
}

static int hex_option(const char *hex, const char *what, uint8_t *out, size_t cap,
                      size_t *len)
{
    p4_error err = {0};
    size_t n = 0;
    if (p4_hex_decode(hex, what, out, cap, &n, &err) != P4_OK)
        return die("bad hex", &err);
    if (len != NULL)
        *len = n;
    else if (n != cap)
        return die(what, NULL);
    return 0;
}

static int issue(int argc, char **argv)
{
    if (argc < 2)
        return die("issue DIR [options] CHALLENGE_HEX", NULL);
    const char *dir = argv[0], *out_path = NULL;
    issue_options o;
    memset(&o, 0, sizeof o);
    memset(o.rim, 0x11, 32);
    o.rim_len = 32;
    memset(o.sw_measurement, 0x33, 32);
    o.sw_measurement_len = 32;
    o.lifecycle = 0x3000;
    int i = 1;
    for (; i < argc - 1; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--unbound") == 0) { o.unbound = 1; continue; }
        if (i + 1 >= argc - 1)
            return die("an option lacks its value, or the challenge is missing", NULL);
        const char *v = argv[++i];
        int bad = 0;
        if (strcmp(opt, "--rim") == 0) bad = hex_option(v, "--rim", o.rim, 64, &o.rim_len);
        else if (strcmp(opt, "--personalization") == 0)
            bad = hex_option(v, "--personalization", o.personalization, 64, NULL);
        else if (strcmp(opt, "--sw-measurement") == 0)
            bad = hex_option(v, "--sw-measurement", o.sw_measurement, 64, &o.sw_measurement_len);
        else if (strcmp(opt, "--lifecycle") == 0) o.lifecycle = (unsigned)strtoul(v, NULL, 0);
        else if (strcmp(opt, "--rak-format") == 0) o.cose_key = strcmp(v, "cose-key") == 0;
        else if (strcmp(opt, "--out") == 0) out_path = v;
        else return die("unknown option", NULL);
        if (bad)
            return 1;
    }
    if (hex_option(argv[argc - 1], "challenge (64 bytes)", o.challenge, 64, NULL))
        return 1;

    EVP_PKEY *cpak = read_private(dir, "cpak.pem"), *rak = read_private(dir, "rak.pem");
    if (cpak == NULL || rak == NULL)
        return die("cannot read DIR/cpak.pem and DIR/rak.pem (run keygen first)", NULL);
    p4_error err = {0};
    uint8_t *rak_bytes = NULL, *platform = NULL, *realm = NULL, *token = NULL;
    size_t rak_len = 0, platform_len = 0, realm_len = 0, token_len = 0;
    int rc = o.cose_key ? p4_cose_public_key_encode(rak, &rak_bytes, &rak_len, &err)
                        : p4_cose_public_key_point(rak, &rak_bytes, &rak_len, &err);
    if (rc != P4_OK)
        return die("encoding the RAK", &err);
    uint8_t rak_hash[32];
    EVP_Digest(rak_bytes, rak_len, rak_hash, NULL, EVP_sha256(), NULL);
    if (o.unbound)
        rak_hash[0] ^= 0xff;
    cbor_item_t *pc = platform_claims(&o, rak_hash), *rc_claims = realm_claims(&o, rak_bytes,
                                                                              rak_len);
    rc = sign_claims(pc, cpak, &platform, &platform_len);
    if (rc == P4_OK)
        rc = sign_claims(rc_claims, rak, &realm, &realm_len);
    if (rc == P4_OK) {
        cbor_item_t *collection = cbor_new_definite_map(2);
        put(collection, P4_CCA_PLATFORM_TOKEN, bytes_of(platform, platform_len));
        put(collection, P4_CCA_REALM_TOKEN, bytes_of(realm, realm_len));
        cbor_item_t *tagged = cbor_build_tag(P4_CCA_TOKEN_TAG, collection);
        rc = p4_cbor_serialize(tagged, &token, &token_len, &err);
        cbor_decref(&tagged);
        cbor_decref(&collection);
    }
    if (rc == P4_OK) {
        FILE *f = out_path ? fopen(out_path, "wb") : stdout;
        if (f == NULL || fwrite(token, 1, token_len, f) != token_len ||
            (out_path ? fclose(f) : fflush(f)) != 0)
            rc = die("cannot write the token", NULL);
    }
    cbor_decref(&pc);
    cbor_decref(&rc_claims);
    free(rak_bytes);
    free(platform);
    free(realm);
    free(token);
    EVP_PKEY_free(cpak);
    EVP_PKEY_free(rak);
    return rc == P4_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "issue") == 0)
        return issue(argc - 2, argv + 2);
    fprintf(stderr, "usage: cca_token_issuer keygen DIR [--alg A] [--realm-alg A]\n"
                    "       cca_token_issuer issue DIR [options] CHALLENGE_HEX\n");
    return 2;
}

/* token.c: parsing the CCA attestation token and its two claim sets; see
 * token.h.  Every check names the part (platform or realm token), the claim
 * number and what was expected, so a rejected token says what to fix. */
#include "tee/cca/token.h"

#include <stdlib.h>
#include <string.h>

#include "tee/cca/cbor_util.h"

static const size_t DIGEST_SIZES[] = {32, 48, 64, 0};

size_t p4_cca_hash_size(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "sha-256") == 0) return 32;
    if (strcmp(name, "sha-384") == 0) return 48;
    if (strcmp(name, "sha-512") == 0) return 64;
    return 0;
}

/* A claims map being read, with the words that name it in errors. */
typedef struct {
    const cbor_item_t *map;
    const char *where;
    p4_error *err;
} claims_reader;

/* Finds label; P4_EFORMAT if it is missing (and required) or repeated. */
static int find_claim(claims_reader *r, int64_t label, const char *name, int required,
                      cbor_item_t **value)
{
    int duplicate = 0;
    *value = p4_cbor_map_get(r->map, label, &duplicate);
    if (duplicate)
        return p4_error_set(r->err, P4_EFORMAT, "%s: claim %lld (%s) is given twice", r->where,
                            (long long)label, name);
    if (*value == NULL && required)
        return p4_error_set(r->err, P4_EFORMAT, "%s: claim %lld (%s) is missing", r->where,
                            (long long)label, name);
    return P4_OK;
}

static int size_allowed(size_t len, const size_t *sizes)
{
    if (sizes == NULL)
        return len <= P4_CCA_VALUE_MAX;
    for (; *sizes != 0; sizes++)
        if (len == *sizes)
            return 1;
    return 0;
}

static int bytes_value(claims_reader *r, const cbor_item_t *value, int64_t label,
                       const char *name, const size_t *sizes, p4_cca_bytes *out)
{
    if (!p4_cbor_is_bytes(value))
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim %lld (%s) is not a definite-length byte string",
                            r->where, (long long)label, name);
    size_t len = cbor_bytestring_length(value);
    if (!size_allowed(len, sizes)) {
        if (sizes == NULL)
            return p4_error_set(r->err, P4_EFORMAT,
                                "%s: claim %lld (%s) is %zu bytes; p4 accepts at most %d",
                                r->where, (long long)label, name, len, P4_CCA_VALUE_MAX);
        char want[64] = "";
        for (const size_t *s = sizes; *s != 0; s++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%zu",
                     s == sizes ? "" : s[1] == 0 ? " or " : ", ", *s);
        return p4_error_set(r->err, P4_EFORMAT, "%s: claim %lld (%s) is %zu bytes; want %s",
                            r->where, (long long)label, name, len, want);
    }
    memcpy(out->data, cbor_bytestring_handle(value), len);
    out->len = len;
    return P4_OK;
}

static int get_bytes(claims_reader *r, int64_t label, const char *name, int required,
                     const size_t *sizes, p4_cca_bytes *out)
{
    cbor_item_t *value;
    int rc = find_claim(r, label, name, required, &value);
    if (rc != P4_OK || value == NULL)
        return rc;
    return bytes_value(r, value, label, name, sizes, out);
}

static int text_value(claims_reader *r, const cbor_item_t *value, int64_t label,
                      const char *name, char *out)
{
    if (!p4_cbor_is_text(value))
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim %lld (%s) is not a definite-length text string",
                            r->where, (long long)label, name);
    size_t len = cbor_string_length(value);
    const unsigned char *text = cbor_string_handle(value);
    if (len >= P4_CCA_TEXT_MAX)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim %lld (%s) is %zu bytes; p4 accepts text of at most %d",
                            r->where, (long long)label, name, len, P4_CCA_TEXT_MAX - 1);
    /* Printable ASCII only: claims are printed to terminals and JSON, and
     * a hostile token must not reach either with escapes or bad UTF-8. */
    for (size_t i = 0; i < len; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            return p4_error_set(r->err, P4_EFORMAT,
                                "%s: claim %lld (%s) holds byte 0x%02x at %zu; p4 accepts "
                                "printable ASCII text only", r->where, (long long)label, name,
                                text[i], i);
    if (len > 0)
        memcpy(out, text, len);
    out[len] = '\0';
    return P4_OK;
}

static int get_text(claims_reader *r, int64_t label, const char *name, int required, char *out)
{
    cbor_item_t *value;
    int rc = find_claim(r, label, name, required, &value);
    if (rc != P4_OK || value == NULL)
        return rc;
    return text_value(r, value, label, name, out);
}

/* Loads bytes as one CBOR map. */
static int load_map(const uint8_t *bytes, size_t len, const char *where, cbor_item_t **map,
                    p4_error *err)
{
    int rc = p4_cbor_load(bytes, len, where, map, err);
    if (rc != P4_OK)
        return rc;
    if (!cbor_isa_map(*map)) {
        cbor_decref(map);
        return p4_error_set(err, P4_EFORMAT, "%s: the claims are not a CBOR map", where);
    }
    return P4_OK;
}

static int parse_sw_component(claims_reader *parent, const cbor_item_t *item, size_t index,
                              p4_cca_sw_component *out)
{
    char where[160];
    snprintf(where, sizeof where, "%s: claim 2399 (software components) entry %zu",
             parent->where, index);
    if (!cbor_isa_map(item))
        return p4_error_set(parent->err, P4_EFORMAT, "%s is not a map", where);
    claims_reader r = {item, where, parent->err};
    int rc;
    if ((rc = get_text(&r, 1, "component type", 0, out->type)) != P4_OK ||
        (rc = get_bytes(&r, 2, "measurement value", 1, DIGEST_SIZES, &out->measurement)) !=
            P4_OK ||
        (rc = get_text(&r, 4, "version", 0, out->version)) != P4_OK ||
        (rc = get_bytes(&r, 5, "signer id", 1, DIGEST_SIZES, &out->signer_id)) != P4_OK ||
        (rc = get_text(&r, 6, "hash algorithm", 0, out->hash_algo)) != P4_OK)
        return rc;
    return P4_OK;
}

static int parse_platform_map(claims_reader *r, p4_cca_platform_claims *out)
{
    static const size_t IMPLEMENTATION_ID_SIZE[] = {32, 0};
    static const size_t INSTANCE_ID_SIZE[] = {33, 0};
    int rc;
    if ((rc = get_text(r, P4_CCA_PLATFORM_PROFILE, "profile", 1, out->profile)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_CHALLENGE, "challenge", 1, DIGEST_SIZES, &out->challenge)) !=
            P4_OK ||
        (rc = get_bytes(r, P4_CCA_PLATFORM_IMPLEMENTATION_ID, "implementation id", 1,
                        IMPLEMENTATION_ID_SIZE, &out->implementation_id)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_PLATFORM_INSTANCE_ID, "instance id", 1, INSTANCE_ID_SIZE,
                        &out->instance_id)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_PLATFORM_CONFIG, "platform config", 1, NULL,
                        &out->config)) != P4_OK ||
        (rc = get_text(r, P4_CCA_PLATFORM_VERIFICATION_SERVICE, "verification service", 0,
                       out->verification_service)) != P4_OK ||
        (rc = get_text(r, P4_CCA_PLATFORM_HASH_ALGO, "hash algorithm", 0, out->hash_algo)) !=
            P4_OK)
        return rc;
    if (out->instance_id.data[0] != 0x01)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 256 (instance id) starts with 0x%02x; want 0x01 (a "
                            "random EUID)", r->where, out->instance_id.data[0]);
    cbor_item_t *value;
    if ((rc = find_claim(r, P4_CCA_PLATFORM_LIFECYCLE, "security lifecycle", 1, &value)) !=
        P4_OK)
        return rc;
    int64_t lifecycle;
    if (p4_cbor_int(value, &lifecycle) != 0 || lifecycle < 0 || lifecycle > 0xffff)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 2395 (security lifecycle) is not an integer in 0..65535",
                            r->where);
    out->lifecycle = (uint64_t)lifecycle;
    if ((rc = find_claim(r, P4_CCA_PLATFORM_SW_COMPONENTS, "software components", 1, &value)) !=
        P4_OK)
        return rc;
    if (!cbor_isa_array(value) || cbor_array_size(value) == 0)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 2399 (software components) is not a non-empty array",
                            r->where);
    if (cbor_array_size(value) > P4_CCA_SW_COMPONENTS_MAX)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 2399 has %zu software components; p4 accepts at most %d",
                            r->where, cbor_array_size(value), P4_CCA_SW_COMPONENTS_MAX);
    cbor_item_t **items = cbor_array_handle(value);
    for (size_t i = 0; i < cbor_array_size(value); i++)
        if ((rc = parse_sw_component(r, items[i], i, &out->sw_components[i])) != P4_OK)
            return rc;
    out->sw_component_count = cbor_array_size(value);
    return P4_OK;
}

int p4_cca_platform_claims_parse(const uint8_t *bytes, size_t len,
                                 p4_cca_platform_claims *out, p4_error *err)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cca_platform_claims_parse: NULL argument");
    memset(out, 0, sizeof *out);
    const char *where = "platform token";
    cbor_item_t *map = NULL;
    int rc = load_map(bytes, len, where, &map, err);
    if (rc != P4_OK)
        return rc;
    claims_reader r = {map, where, err};
    rc = parse_platform_map(&r, out);
    cbor_decref(&map);
    if (rc != P4_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* Measurements must be the size the realm's hash algorithm gives. */
static int check_measurement_size(claims_reader *r, const p4_cca_bytes *m, const char *name,
                                  size_t want)
{
    if (m->len != want)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: %s is %zu bytes but claim 44236 (hash algorithm) says %zu",
                            r->where, name, m->len, want);
    return P4_OK;
}

static int parse_realm_map(claims_reader *r, p4_cca_realm_claims *out)
{
    static const size_t CHALLENGE_SIZE[] = {64, 0};
    int rc;
    if ((rc = get_text(r, P4_CCA_REALM_PROFILE, "profile", 0, out->profile)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_CHALLENGE, "challenge", 1, CHALLENGE_SIZE,
                        &out->challenge)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_REALM_PERSONALIZATION, "personalization value", 1,
                        CHALLENGE_SIZE, &out->personalization)) != P4_OK ||
        (rc = get_text(r, P4_CCA_REALM_HASH_ALGO, "hash algorithm", 1, out->hash_algo)) !=
            P4_OK ||
        (rc = get_bytes(r, P4_CCA_REALM_PUBLIC_KEY, "public key", 1, NULL,
                        &out->public_key)) != P4_OK ||
        (rc = get_text(r, P4_CCA_REALM_PUBLIC_KEY_HASH_ALGO, "public key hash algorithm", 1,
                       out->public_key_hash_algo)) != P4_OK ||
        (rc = get_bytes(r, P4_CCA_REALM_INITIAL_MEASUREMENT, "initial measurement", 1,
                        DIGEST_SIZES, &out->initial_measurement)) != P4_OK)
        return rc;
    size_t measurement_size = p4_cca_hash_size(out->hash_algo);
    if (measurement_size == 0)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 44236 (hash algorithm) '%s' is not sha-256, sha-384 or "
                            "sha-512", r->where, out->hash_algo);
    if (p4_cca_hash_size(out->public_key_hash_algo) == 0)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 44240 (public key hash algorithm) '%s' is not sha-256, "
                            "sha-384 or sha-512", r->where, out->public_key_hash_algo);
    if (out->public_key.len == 0)
        return p4_error_set(r->err, P4_EFORMAT, "%s: claim 44237 (public key) is empty",
                            r->where);
    if ((rc = check_measurement_size(r, &out->initial_measurement,
                                     "claim 44238 (initial measurement)", measurement_size)) !=
        P4_OK)
        return rc;
    cbor_item_t *value;
    if ((rc = find_claim(r, P4_CCA_REALM_EXTENSIBLE_MEASUREMENTS, "extensible measurements", 1,
                         &value)) != P4_OK)
        return rc;
    if (!cbor_isa_array(value) || cbor_array_size(value) != P4_CCA_REM_COUNT)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: claim 44239 (extensible measurements) is not an array of %d",
                            r->where, P4_CCA_REM_COUNT);
    cbor_item_t **items = cbor_array_handle(value);
    for (int i = 0; i < P4_CCA_REM_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof name, "extensible measurement %d", i);
        if ((rc = bytes_value(r, items[i], P4_CCA_REALM_EXTENSIBLE_MEASUREMENTS, name,
                              DIGEST_SIZES, &out->extensible_measurements[i])) != P4_OK ||
            (rc = check_measurement_size(r, &out->extensible_measurements[i], name,
                                         measurement_size)) != P4_OK)
            return rc;
    }
    return P4_OK;
}

int p4_cca_realm_claims_parse(const uint8_t *bytes, size_t len, p4_cca_realm_claims *out,
                              p4_error *err)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cca_realm_claims_parse: NULL argument");
    memset(out, 0, sizeof *out);
    const char *where = "realm token";
    cbor_item_t *map = NULL;
    int rc = load_map(bytes, len, where, &map, err);
    if (rc != P4_OK)
        return rc;
    claims_reader r = {map, where, err};
    rc = parse_realm_map(&r, out);
    cbor_decref(&map);
    if (rc != P4_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* Copies the byte string under label of the collection into *bytes. */
static int collection_part(const cbor_item_t *map, int64_t label, const char *name,
                           const uint8_t **bytes, size_t *len, p4_error *err)
{
    int duplicate = 0;
    cbor_item_t *value = p4_cbor_map_get(map, label, &duplicate);
    if (value == NULL)
        return p4_error_set(err, P4_EFORMAT, "cca token: the %s (key %lld) is missing", name,
                            (long long)label);
    if (duplicate)
        return p4_error_set(err, P4_EFORMAT, "cca token: the %s (key %lld) is given twice",
                            name, (long long)label);
    if (!p4_cbor_is_bytes(value))
        return p4_error_set(err, P4_EFORMAT,
                            "cca token: the %s (key %lld) is not a byte string wrapping a "
                            "COSE_Sign1", name, (long long)label);
    *bytes = cbor_bytestring_handle(value);
    *len = cbor_bytestring_length(value);
    return P4_OK;
}

static int parse_collection(const cbor_item_t *root, p4_cca_token *token, p4_error *err)
{
    if (!cbor_isa_tag(root) || cbor_tag_value(root) != P4_CCA_TOKEN_TAG)
        return p4_error_set(err, P4_EFORMAT,
                            "cca token: does not start with CBOR tag 399 (a CCA token "
                            "collection); is this a token file?");
    cbor_item_t *map = cbor_tag_item(root); /* a new reference */
    int rc = P4_OK;
    const uint8_t *platform = NULL, *realm = NULL;
    size_t platform_len = 0, realm_len = 0;
    if (!cbor_isa_map(map))
        rc = p4_error_set(err, P4_EFORMAT, "cca token: tag 399 does not hold a map");
    if (rc == P4_OK)
        rc = collection_part(map, P4_CCA_PLATFORM_TOKEN, "platform token", &platform,
                             &platform_len, err);
    if (rc == P4_OK)
        rc = collection_part(map, P4_CCA_REALM_TOKEN, "realm token", &realm, &realm_len, err);
    if (rc == P4_OK)
        rc = p4_cose_sign1_decode(platform, platform_len, "platform token",
                                  &token->platform_sign1, err);
    if (rc == P4_OK)
        rc = p4_cose_sign1_decode(realm, realm_len, "realm token", &token->realm_sign1, err);
    if (rc == P4_OK)
        rc = p4_cca_platform_claims_parse(token->platform_sign1.payload,
                                          token->platform_sign1.payload_len, &token->platform,
                                          err);
    if (rc == P4_OK)
        rc = p4_cca_realm_claims_parse(token->realm_sign1.payload,
                                       token->realm_sign1.payload_len, &token->realm, err);
    cbor_decref(&map);
    return rc;
}

int p4_cca_token_parse(const uint8_t *bytes, size_t len, p4_cca_token **out, p4_error *err)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cca_token_parse: NULL argument");
    *out = NULL;
    if (len > P4_CCA_TOKEN_MAX)
        return p4_error_set(err, P4_EFORMAT, "cca token: %zu bytes; p4 accepts at most %d",
                            len, P4_CCA_TOKEN_MAX);
    cbor_item_t *root = NULL;
    int rc = p4_cbor_load(bytes, len, "cca token", &root, err);
    if (rc != P4_OK)
        return rc;
    p4_cca_token *token = calloc(1, sizeof *token);
    if (token == NULL) {
        cbor_decref(&root);
        return p4_error_set(err, P4_ENOMEM, "out of memory for a cca token");
    }
    rc = parse_collection(root, token, err);
    cbor_decref(&root);
    if (rc != P4_OK) {
        p4_cca_token_destroy(&token);
        return rc;
    }
    *out = token;
    return P4_OK;
}

void p4_cca_token_destroy(p4_cca_token **token)
{
    if (token == NULL || *token == NULL)
        return;
    p4_cose_sign1_clear(&(*token)->platform_sign1);
    p4_cose_sign1_clear(&(*token)->realm_sign1);
    free(*token);
    *token = NULL;
}

/* test_identity.c: the node's CURVE key files (made once, kept private,
 * refused when exposed or malformed) and Z85 key text. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster/identity.h"

static int file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 0777);
}

static void read_text(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_key_pair_is_made_once_and_kept_private(void **state)
{
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    const char *dir = *state;
    char sub[4096], key_path[4200], pub_path[4200];
    test_path_in(dir, "state", sub, sizeof sub); /* does not exist yet */
    test_path_in(sub, "node.key", key_path, sizeof key_path);
    test_path_in(sub, "node.pub", pub_path, sizeof pub_path);

    p4_identity a, b;
    int created = -1;
    p4_error err;
    if (p4_identity_load_or_create(sub, &a, &created, &err) != P4_OK)
        fail_msg("first start: %s", err.message);
    assert_int_equal(created, 1);
    assert_int_equal(file_mode(sub), 0700);
    assert_int_equal(file_mode(key_path), 0600);
    assert_int_equal(file_mode(pub_path), 0600);

    /* node.pub holds the public key in Z85 and a newline; node.key is the
     * secret key, from which ZeroMQ derives that same public key. */
    char text[128], z85[P4_KEY_Z85_CHARS + 1];
    read_text(pub_path, text, sizeof text);
    p4_key_to_z85(a.public_key, z85);
    assert_int_equal(strlen(text), P4_KEY_Z85_CHARS + 1);
    assert_memory_equal(text, z85, P4_KEY_Z85_CHARS);
    read_text(key_path, text, sizeof text);
    text[P4_KEY_Z85_CHARS] = '\0';
    char derived[P4_KEY_Z85_CHARS + 1];
    assert_int_equal(zmq_curve_public(derived, text), 0);
    assert_string_equal(derived, z85);

    assert_int_equal(p4_identity_load_or_create(sub, &b, &created, &err), P4_OK);
    assert_int_equal(created, 0);
    assert_memory_equal(&a, &b, sizeof a);

    /* A lost node.pub is written again from the secret key. */
    assert_int_equal(unlink(pub_path), 0);
    assert_int_equal(p4_identity_load_or_create(sub, &b, &created, &err), P4_OK);
    assert_int_equal(created, 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(file_mode(pub_path), 0600);

    p4_identity_wipe(&a);
    uint8_t zero[P4_KEY_BYTES] = {0};
    assert_memory_equal(a.secret_key, zero, sizeof zero);
}

static void test_exposed_or_broken_key_files_are_refused(void **state)
{
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    const char *dir = *state;
    char key_path[4200], pub_path[4200];
    test_path_in(dir, "node.key", key_path, sizeof key_path);
    test_path_in(dir, "node.pub", pub_path, sizeof pub_path);
    p4_identity id;
    p4_error err;
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_OK);
    char good_key[128];
    read_text(key_path, good_key, sizeof good_key);

    /* Group-readable secret key: refused, and the message says what to do. */
    assert_int_equal(chmod(key_path, 0640), 0);
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_ECRYPTO);
    assert_non_null(strstr(err.message, "chmod 600"));
    assert_non_null(strstr(err.message, "node.key"));
    assert_int_equal(chmod(key_path, 0604), 0);
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_ECRYPTO);
    assert_int_equal(chmod(key_path, 0600), 0);
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_OK);

    /* Malformed secret keys: too short, not Z85, trailing junk. */
    const char *bad[] = {"short\n", "0123456789012345678901234567890123456 ~\n",
                         "", NULL};
    char longer[128];
    snprintf(longer, sizeof longer, "%.40s\nmore\n", good_key);
    bad[3] = longer;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(unlink(key_path), 0);
        assert_int_equal(test_write_file(key_path, bad[i], strlen(bad[i])), 0);
        assert_int_equal(chmod(key_path, 0600), 0);
        int rc = p4_identity_load_or_create(dir, &id, NULL, &err);
        if (rc != P4_EFORMAT)
            fail_msg("bad key file %d: rc %d (%s)", i, rc, err.message);
        assert_non_null(strstr(err.message, "malformed"));
        assert_null(strstr(err.message, good_key)); /* never echo secret bytes */
    }

    /* A node.pub from another key pair. */
    assert_int_equal(unlink(key_path), 0);
    assert_int_equal(test_write_file(key_path, good_key, strlen(good_key)), 0);
    assert_int_equal(chmod(key_path, 0600), 0);
    uint8_t other[P4_KEY_BYTES];
    memset(other, 7, sizeof other);
    char other_z85[P4_KEY_Z85_CHARS + 2];
    p4_key_to_z85(other, other_z85);
    strcat(other_z85, "\n");
    assert_int_equal(unlink(pub_path), 0);
    assert_int_equal(test_write_file(pub_path, other_z85, strlen(other_z85)), 0);
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_ECRYPTO);
    assert_non_null(strstr(err.message, "does not match"));

    /* node.pub without node.key: the identity is lost, not silently replaced. */
    assert_int_equal(unlink(key_path), 0);
    assert_int_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_ECRYPTO);
    assert_non_null(strstr(err.message, "secret key is lost"));
    assert_int_equal(access(key_path, F_OK), -1);

    /* A symlink where the secret key should be is not followed. */
    assert_int_equal(unlink(pub_path), 0);
    assert_int_equal(symlink("/etc/hostname", key_path), 0);
    assert_int_not_equal(p4_identity_load_or_create(dir, &id, NULL, &err), P4_OK);
}

static void test_z85_text(void **state)
{
    (void)state;
    uint8_t key[P4_KEY_BYTES], back[P4_KEY_BYTES];
    for (int i = 0; i < P4_KEY_BYTES; i++)
        key[i] = (uint8_t)(i * 37 + 1);
    char text[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(key, text);
    assert_int_equal(strlen(text), P4_KEY_Z85_CHARS);
    assert_int_equal(p4_key_from_z85(text, back, NULL), P4_OK);
    assert_memory_equal(key, back, sizeof key);

    p4_error err;
    char bad[P4_KEY_Z85_CHARS + 2];
    assert_int_equal(p4_key_from_z85("abc", back, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "3 characters"));
    snprintf(bad, sizeof bad, "%s", text);
    bad[10] = '~';
    assert_int_equal(p4_key_from_z85(bad, back, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "character 10"));
    /* "#####" is 85^5 - 1 > 2^32 - 1: valid characters, not a valid key. */
    memset(bad, '#', P4_KEY_Z85_CHARS);
    bad[P4_KEY_Z85_CHARS] = '\0';
    assert_int_equal(p4_key_from_z85(bad, back, &err), P4_EINVAL);

    /* Lists as a config writes them. */
    uint8_t keys[3][P4_KEY_BYTES];
    size_t n = 0;
    char list[200];
    snprintf(list, sizeof list, " %s,%s\n\t%s ,", text, text, text);
    assert_int_equal(p4_key_list_parse(list, keys, 3, &n, &err), P4_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(keys[2], key, sizeof key);
    assert_int_equal(p4_key_list_parse(list, keys, 2, &n, &err), P4_EINVAL);
    assert_int_equal(p4_key_list_parse("", keys, 3, &n, &err), P4_OK);
    assert_int_equal(n, 0);
    snprintf(list, sizeof list, "%s, nonsense", text);
    assert_int_equal(p4_key_list_parse(list, keys, 3, &n, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "key 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_pair_is_made_once_and_kept_private,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_exposed_or_broken_key_files_are_refused,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test(test_z85_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

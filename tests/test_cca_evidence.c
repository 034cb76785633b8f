/* test_cca_evidence.c: where a node's token comes from, and the challenge
 * that binds it to the node's transport key and the verifier's nonce.
 *   - binding: the challenge depends on key and nonce, and a token made for
 *     one fails admission for another key or another nonce;
 *   - command source: the test issuer as the external command, end to end
 *     through p4_cca_verify_peer; failing, silent and slow commands;
 *   - configfs-tsm source: a fake report tree in a temp dir (the root is
 *     configurable), with a thread playing the kernel through FIFOs: inblob
 *     written, outblob read, a racing generation detected, a wrong
 *     provider refused. */
#include "support/test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rng.h"
#include "support/cca_test_tools.h"
#include "tee/cca/evidence.h"
#include "tee/cca/settings.h"
#include "tee/cca/verifier.h"
#include "tee/cca/verify.h"

static void random_bytes(uint8_t *out, size_t n)
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_secure(&rng), P4_OK);
    p4_rng_bytes(&rng, out, n);
    p4_rng_wipe(&rng);
}

static void binding_challenge_depends_on_key_and_nonce(void **state)
{
    (void)state;
    uint8_t key[32], nonce[32], a[64], b[64];
    memset(key, 7, sizeof key);
    memset(nonce, 9, sizeof nonce);
    p4_error err = {0};
    assert_int_equal(p4_cca_binding_challenge(key, 32, nonce, 32, a, &err), P4_OK);
    assert_int_equal(p4_cca_binding_challenge(key, 32, nonce, 32, b, &err), P4_OK);
    assert_memory_equal(a, b, 64);
    key[31] ^= 1;
    assert_int_equal(p4_cca_binding_challenge(key, 32, nonce, 32, b, &err), P4_OK);
    assert_memory_not_equal(a, b, 64);
    key[31] ^= 1;
    nonce[0] ^= 1;
    assert_int_equal(p4_cca_binding_challenge(key, 32, nonce, 32, b, &err), P4_OK);
    assert_memory_not_equal(a, b, 64);
    /* Lengths are framed: moving a byte from key to nonce changes it. */
    uint8_t joined[64];
    memset(joined, 7, 32);
    memset(joined + 32, 9, 32);
    assert_int_equal(p4_cca_binding_challenge(joined, 33, joined + 33, 31, b, &err), P4_OK);
    assert_memory_not_equal(a, b, 64);
    assert_int_equal(p4_cca_binding_challenge(key, 32, nonce, 8, b, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "nonce"));
}

/* Keys for the issuer in dir; the policy that accepts its default image. */
static void issuer_setup(const char *dir, p4_cca_policy *policy, EVP_PKEY **cpak)
{
    char args[1200], path[1100];
    snprintf(args, sizeof args, "keygen %s", dir);
    assert_int_equal(cca_run_issuer(args), 0);
    memset(policy, 0, sizeof *policy);
    p4_error err = {0};
    assert_int_equal(p4_cca_allowlist_add_hex(&policy->initial_measurements,
                                              "1111111111111111111111111111111111111111111111111111111111111111",
                                              0, "rim", &err), P4_OK);
    test_path_in(dir, "cpak.pub.pem", path, sizeof path);
    assert_int_equal(p4_cca_cpak_load(path, cpak, &err), P4_OK);
}

static void command_source_admits_only_the_bound_key_and_nonce(void **state)
{
    const char *dir = *state;
    p4_cca_policy policy;
    EVP_PKEY *cpak = NULL;
    issuer_setup(dir, &policy, &cpak);
    char command[1200];
    snprintf(command, sizeof command, "%s issue %s", cca_issuer(), dir);
    p4_cca_evidence *ev = NULL;
    p4_error err = {0};
    assert_int_equal(p4_cca_evidence_new_command(&ev, command, 0, &err), P4_OK);
    assert_non_null(strstr(p4_cca_evidence_describe(ev), "command"));

    uint8_t node_key[32], nonce[32], challenge[64];
    random_bytes(node_key, sizeof node_key);
    random_bytes(nonce, sizeof nonce);
    assert_int_equal(p4_cca_binding_challenge(node_key, 32, nonce, 32, challenge, &err), P4_OK);
    uint8_t *token = NULL;
    size_t len = 0;
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_OK);
    assert_true(len > 500);

    p4_cca_verdict v;
    assert_int_equal(p4_cca_verify_peer(token, len, cpak, &policy, node_key, 32, nonce, 32, &v,
                                        &err), P4_OK);
    assert_int_equal(v.failed, P4_CCA_PASSED);
    assert_true(v.challenge_checked && v.initial_measurement_checked);
    /* The same token presented for another key, or against another nonce. */
    uint8_t other[32];
    memcpy(other, node_key, 32);
    other[0] ^= 0x40;
    assert_int_equal(p4_cca_verify_peer(token, len, cpak, &policy, other, 32, nonce, 32, &v,
                                        &err), P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_REALM_CHALLENGE);
    memcpy(other, nonce, 32);
    other[31] ^= 1;
    assert_int_equal(p4_cca_verify_peer(token, len, cpak, &policy, node_key, 32, other, 32, &v,
                                        &err), P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_REALM_CHALLENGE);
    /* Admission insists on a measurement allowlist. */
    p4_cca_policy open_policy;
    memset(&open_policy, 0, sizeof open_policy);
    assert_int_equal(p4_cca_verify_peer(token, len, cpak, &open_policy, node_key, 32, nonce, 32,
                                        &v, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "realm_initial_measurement"));
    free(token);
    p4_cca_evidence_destroy(&ev);
    assert_null(ev);

    /* A realm running another image is refused by the same policy. */
    snprintf(command, sizeof command, "%s issue %s --rim %s", cca_issuer(), dir,
             "2222222222222222222222222222222222222222222222222222222222222222");
    assert_int_equal(p4_cca_evidence_new_command(&ev, command, 0, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_OK);
    assert_int_equal(p4_cca_verify_peer(token, len, cpak, &policy, node_key, 32, nonce, 32, &v,
                                        &err), P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_INITIAL_MEASUREMENT);
    free(token);
    p4_cca_evidence_destroy(&ev);
    EVP_PKEY_free(cpak);
}

/* A [tee] section drives both sides: the prover's evidence source answers
 * a nonce for its own key, and the verifier built from the same section
 * admits that key and nonce only. */
static void settings_drive_both_sides_of_admission(void **state)
{
    const char *dir = *state;
    char args[1200], text[3000], path[1100];
    snprintf(args, sizeof args, "keygen %s", dir);
    assert_int_equal(cca_run_issuer(args), 0);
    snprintf(text, sizeof text,
             "[tee]\nbackend = cca\ncpak = cpak.pub.pem\n"
             "realm_initial_measurement = "
             "1111111111111111111111111111111111111111111111111111111111111111\n"
             "evidence = command\nevidence_command = %s issue %s\n",
             cca_issuer(), dir);
    test_write_text(dir, "node.ini", text, path, sizeof path);
    p4_cca_settings settings;
    p4_error err = {0};
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_OK);

    p4_cca_evidence *ev = NULL;
    p4_cca_verifier *verifier = NULL;
    assert_int_equal(p4_cca_settings_evidence(&settings, &ev, &err), P4_OK);
    assert_int_equal(p4_cca_verifier_new(&verifier, &settings, &err), P4_OK);
    uint8_t own_key[32], nonce[32], *token = NULL;
    size_t len = 0;
    random_bytes(own_key, sizeof own_key);
    random_bytes(nonce, sizeof nonce);
    assert_int_equal(p4_cca_evidence_answer(ev, own_key, nonce, &token, &len, &err), P4_OK);
    p4_cca_verdict v;
    assert_int_equal(p4_cca_verifier_check(verifier, token, len, own_key, nonce, &v, &err),
                     P4_OK);
    assert_int_equal(v.failed, P4_CCA_PASSED);
    nonce[5] ^= 0x10;
    assert_int_equal(p4_cca_verifier_check(verifier, token, len, own_key, nonce, &v, &err),
                     P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_REALM_CHALLENGE);
    free(token);
    p4_cca_verifier_destroy(&verifier);
    assert_null(verifier);
    p4_cca_evidence_destroy(&ev);

    /* A verifier needs a CPAK and an image allowlist. */
    p4_cca_settings partial = settings;
    partial.policy.initial_measurements.count = 0;
    assert_int_equal(p4_cca_verifier_new(&verifier, &partial, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "realm_initial_measurement"));
    partial = settings;
    partial.policy.cpak[0] = '\0';
    assert_int_equal(p4_cca_verifier_new(&verifier, &partial, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "cpak"));
    /* evidence = command without a command. */
    partial = settings;
    partial.evidence_command[0] = '\0';
    assert_int_equal(p4_cca_settings_evidence(&partial, &ev, &err), P4_ECONFIG);
    assert_null(verifier);
    assert_null(ev);
}

static void write_script(const char *dir, const char *name, const char *body, char *path,
                         size_t size)
{
    test_write_text(dir, name, body, path, size);
    assert_int_equal(chmod(path, 0700), 0);
}

static void failing_commands_are_clear_errors(void **state)
{
    const char *dir = *state;
    uint8_t challenge[64] = {0};
    uint8_t *token = (uint8_t *)"unchanged";
    size_t len = 99;
    p4_cca_evidence *ev = NULL;
    p4_error err = {0};
    char path[1100];

    assert_int_equal(p4_cca_evidence_new_command(&ev, "   ", 0, &err), P4_EINVAL);
    assert_int_equal(p4_cca_evidence_new_command(&ev, "/nonexistent/agent", 0, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EIO);
    assert_null(token);
    assert_non_null(strstr(err.message, "/nonexistent/agent"));
    p4_cca_evidence_destroy(&ev);

    write_script(dir, "fails.sh", "#!/bin/sh\necho partial\nexit 3\n", path, sizeof path);
    assert_int_equal(p4_cca_evidence_new_command(&ev, path, 0, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EIO);
    assert_non_null(strstr(err.message, "status 3"));
    p4_cca_evidence_destroy(&ev);

    write_script(dir, "silent.sh", "#!/bin/sh\nexit 0\n", path, sizeof path);
    assert_int_equal(p4_cca_evidence_new_command(&ev, path, 0, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EIO);
    assert_non_null(strstr(err.message, "printed nothing"));
    p4_cca_evidence_destroy(&ev);

    write_script(dir, "slow.sh", "#!/bin/sh\nexec sleep 30\n", path, sizeof path);
    assert_int_equal(p4_cca_evidence_new_command(&ev, path, 200, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_ETIMEOUT);
    assert_non_null(strstr(err.message, "within 200 ms"));
    p4_cca_evidence_destroy(&ev);

    /* The challenge reaches the command as its last argument, in hex. */
    write_script(dir, "echo.sh", "#!/bin/sh\nprintf %s \"$2\"\n", path, sizeof path);
    char command[1200];
    snprintf(command, sizeof command, "%s first-argument", path);
    assert_int_equal(p4_cca_evidence_new_command(&ev, command, 0, &err), P4_OK);
    memset(challenge, 0xc3, sizeof challenge);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_OK);
    char hex[129];
    p4_hex_encode(challenge, 64, hex);
    assert_int_equal(len, 128);
    assert_memory_equal(token, hex, 128);
    free(token);
    p4_cca_evidence_destroy(&ev);
}

/* ---- configfs-tsm against a fake report tree ---- */

typedef struct {
    char report[1100];
    const uint8_t *token;           /* what the fake kernel returns */
    size_t token_len;
    unsigned long long next_generation;
    uint8_t inblob[128];
    size_t inblob_len;
    atomic_int done;
} fake_kernel;

static void write_attribute(const char *report, const char *name, const char *text)
{
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/%s", report, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(test_write_file(tmp, text, strlen(text)), 0);
    assert_int_equal(rename(tmp, path), 0); /* the reader never sees half a value */
}

/* Reads inblob, advances generation (to next_generation), serves outblob. */
static void *kernel_thread(void *arg)
{
    fake_kernel *k = arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/inblob", k->report);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n;
        while ((n = read(fd, k->inblob + k->inblob_len, sizeof k->inblob - k->inblob_len)) > 0)
            k->inblob_len += (size_t)n;
        close(fd);
    }
    char generation[32];
    snprintf(generation, sizeof generation, "%llu\n", k->next_generation);
    write_attribute(k->report, "generation", generation);
    snprintf(path, sizeof path, "%s/outblob", k->report);
    fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, k->token, k->token_len) != (ssize_t)k->token_len)
            k->inblob_len = 0; /* shows up as a failed assertion */
        close(fd);
    }
    atomic_store(&k->done, 1);
    return NULL;
}

static void fake_report(const char *root, const char *name, const char *provider,
                        fake_kernel *k)
{
    snprintf(k->report, sizeof k->report, "%s/%s", root, name);
    assert_int_equal(mkdir(k->report, 0700), 0);
    write_attribute(k->report, "provider", provider);
    write_attribute(k->report, "generation", "5\n");
    char path[1200];
    snprintf(path, sizeof path, "%s/inblob", k->report);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/outblob", k->report);
    assert_int_equal(mkfifo(path, 0600), 0);
}

/* Unblocks the fake kernel if the code under test stopped early, so the
 * join below always returns (bounded: about 10 s at worst). */
static void finish_kernel(fake_kernel *k, pthread_t thread)
{
    char in[1200], out[1200];
    snprintf(in, sizeof in, "%s/inblob", k->report);
    snprintf(out, sizeof out, "%s/outblob", k->report);
    for (int i = 0; i < 1000 && !atomic_load(&k->done); i++) {
        int fd = open(in, O_WRONLY | O_NONBLOCK);
        if (fd >= 0)
            close(fd);
        fd = open(out, O_RDONLY | O_NONBLOCK);
        usleep(10000);
        if (fd >= 0)
            close(fd);
    }
    pthread_join(thread, NULL);
}

static void configfs_tsm_fake_tree(void **state)
{
    const char *root = *state;
    static const uint8_t TOKEN[] = "a token from the fake kernel";
    uint8_t challenge[64];
    random_bytes(challenge, sizeof challenge);
    p4_error err = {0};
    p4_cca_evidence *ev = NULL;

    /* The normal case: generation goes 5 -> 6. */
    fake_kernel k;
    memset(&k, 0, sizeof k);
    k.token = TOKEN;
    k.token_len = sizeof TOKEN;
    k.next_generation = 6;
    fake_report(root, "report0", "arm_cca_guest\n", &k);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, kernel_thread, &k), 0);
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, root, "report0", &err), P4_OK);
    assert_non_null(strstr(p4_cca_evidence_describe(ev), root));
    uint8_t *token = NULL;
    size_t len = 0;
    int rc = p4_cca_evidence_get(ev, challenge, &token, &len, &err);
    finish_kernel(&k, thread);
    assert_int_equal(rc, P4_OK);
    assert_int_equal(k.inblob_len, 64);
    assert_memory_equal(k.inblob, challenge, 64);
    assert_int_equal(len, sizeof TOKEN);
    assert_memory_equal(token, TOKEN, sizeof TOKEN);
    free(token);
    p4_cca_evidence_destroy(&ev);

    /* Another writer raced ours: generation jumps 5 -> 7. */
    memset(&k, 0, sizeof k);
    k.token = TOKEN;
    k.token_len = sizeof TOKEN;
    k.next_generation = 7;
    fake_report(root, "report1", "arm_cca_guest\n", &k);
    assert_int_equal(pthread_create(&thread, NULL, kernel_thread, &k), 0);
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, root, "report1", &err), P4_OK);
    token = NULL;
    rc = p4_cca_evidence_get(ev, challenge, &token, &len, &err);
    finish_kernel(&k, thread);
    assert_int_equal(rc, P4_EIO);
    assert_null(token);
    assert_non_null(strstr(err.message, "generation went from 5 to 7"));
    p4_cca_evidence_destroy(&ev);

    /* Another TEE's driver: refused before anything is written. */
    memset(&k, 0, sizeof k);
    fake_report(root, "report2", "tdx_guest\n", &k);
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, root, "report2", &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EUNSUPPORTED);
    assert_non_null(strstr(err.message, "'tdx_guest'"));
    assert_non_null(strstr(err.message, "arm_cca_guest"));
    p4_cca_evidence_destroy(&ev);

    /* A fresh report directory needs a kernel behind it: here there is none. */
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, root, NULL, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EIO);
    assert_non_null(strstr(err.message, "provider"));
    p4_cca_evidence_destroy(&ev);

    /* No configfs-tsm at all. */
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such-root", root);
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, missing, NULL, &err), P4_OK);
    assert_int_equal(p4_cca_evidence_get(ev, challenge, &token, &len, &err), P4_EUNSUPPORTED);
    assert_non_null(strstr(err.message, "does not exist"));
    p4_cca_evidence_destroy(&ev);
    assert_int_equal(p4_cca_evidence_new_tsm(&ev, root, "../escape", &err), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binding_challenge_depends_on_key_and_nonce),
        cmocka_unit_test_setup_teardown(command_source_admits_only_the_bound_key_and_nonce,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(settings_drive_both_sides_of_admission,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(failing_commands_are_clear_errors,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(configfs_tsm_fake_tree, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

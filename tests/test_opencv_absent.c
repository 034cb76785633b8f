/* test_opencv_absent.c: p4 loads Debian's darknet without OpenCV
 * (model/opencv_absent/opencv_absent.c). Checks that
 *   - no real OpenCV library (nor its GDAL/Qt/FFmpeg tail) is mapped,
 *   - every OpenCV symbol darknet imports has a stand-in: the p4 CLI starts
 *     with LD_BIND_NOW=1, which resolves all imports at load time,
 *   - a darknet call that reaches OpenCV stops with p4's message instead of
 *     running on with a garbage image. */
#include "support/test_support.h"

#include <darknet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P4_OPENCV_ABSENT
static void test_opencv_absent_skipped(void **state)
{
    (void)state;
    TEST_SKIP("built with -DP4_DARKNET_OPENCV=ON: the real OpenCV is loaded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_opencv_absent_skipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

/* The mapped file path of each line of /proc/self/maps that names a file. */
static int mapped_files_contain(const char *needle, const char *unless_in_dir)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    assert_non_null(maps);
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, maps)) {
        const char *path = strchr(line, '/');
        if (!path || !strstr(path, needle))
            continue;
        if (unless_in_dir && strstr(path, unless_in_dir))
            continue;
        print_message("mapped: %s", path);
        found = 1;
    }
    fclose(maps);
    return found;
}

static void test_no_real_opencv_is_mapped(void **state)
{
    (void)state;
    /* darknet itself is loaded: the check below is about its dependencies. */
    assert_true(mapped_files_contain("libdarknet.so", NULL));
    assert_true(mapped_files_contain("libopencv_core.so.406", NULL));
    assert_false(mapped_files_contain("libopencv_", "/opencv-absent/"));
    assert_false(mapped_files_contain("libgdal", NULL));
    assert_false(mapped_files_contain("libQt5", NULL));
    assert_false(mapped_files_contain("libavcodec", NULL));
}

/* Runs child_body in a child process whose stderr goes into err (NUL
 * terminated, truncated to size); returns the wait status. */
static int run_capturing_stderr(void (*child_body)(void), char *err, size_t size)
{
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        child_body();
        _exit(0);
    }
    close(pipe_fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < size && (n = read(pipe_fds[0], err + used, size - 1 - used)) > 0)
        used += (size_t)n;
    err[used] = '\0';
    close(pipe_fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void start_cli_with_every_import_bound(void)
{
    const char *p4 = getenv("P4_BIN");
    if (!p4)
        _exit(77);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        dup2(devnull, STDOUT_FILENO);
    setenv("LD_BIND_NOW", "1", 1);
    execl(p4, p4, "--help", (char *)NULL);
    _exit(126);
}

static void test_every_darknet_import_resolves(void **state)
{
    (void)state;
    if (!getenv("P4_BIN"))
        TEST_SKIP("P4_BIN is not set (run through ctest)");
    char err[4096];
    int status = run_capturing_stderr(start_cli_with_every_import_bound, err, sizeof err);
    if (err[0])
        print_message("p4 --help stderr: %s\n", err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_null(strstr(err, "undefined symbol"));
}

static void load_an_image_through_darknet(void)
{
    /* darknet's OpenCV build reads every image with cv::imread. */
    image im = load_image_color("configs/no-such-image.png", 0, 0);
    fprintf(stderr, "darknet returned an image %dx%d\n", im.w, im.h);
}

static void test_opencv_call_stops_with_a_message(void **state)
{
    (void)state;
    char err[4096];
    int status = run_capturing_stderr(load_an_image_through_darknet, err, sizeof err);
    print_message("child stderr: %s", err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "p4 loads darknet without OpenCV"));
    assert_non_null(strstr(err, "cv::"));
    assert_null(strstr(err, "darknet returned an image"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_real_opencv_is_mapped),
        cmocka_unit_test(test_every_darknet_import_resolves),
        cmocka_unit_test(test_opencv_call_stops_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif

/*
 * OpenCV, absent: stand-ins for the OpenCV functions Debian's libdarknet.so
 * imports, so that p4 can load darknet without loading OpenCV.
 *
 * Why: Debian builds darknet with OpenCV for reading image files and opening
 * windows. p4 never does either (datasets are read by datasets/, models are
 * trained headless), yet loading the real OpenCV maps 258 shared libraries
 * (GDAL, Qt, FFmpeg, ...) and costs about 75 MiB of resident memory before
 * p4 does any work: more than an edge node's whole budget.
 *
 * How: this file is built four times, as libopencv_core.so.406,
 * libopencv_imgcodecs.so.406, libopencv_videoio.so.406 and
 * libopencv_highgui.so.406 in a directory of the build tree, and every p4
 * program names them ahead of darknet. The dynamic loader then finds darknet's
 * OpenCV dependencies already loaded and maps nothing else. darknet itself is
 * loaded unmodified.
 *
 * The functions below are the exact set libdarknet.so imports from OpenCV
 * (`nm -D --undefined-only`); tests/test_opencv_absent.c runs a p4 program
 * with LD_BIND_NOW=1 so a new import in a future darknet package fails there
 * rather than at some user's call. Each stand-in stops the process with a
 * message: none of them can do its job, and returning would hand darknet a
 * garbage image. Build with -DP4_DARKNET_OPENCV=ON to load the real OpenCV.
 *
 * The names are OpenCV's C++ (Itanium ABI) symbols; they are plain C
 * identifiers, so C can define them. Arguments are ignored.
 */
#include <stdio.h>
#include <stdlib.h>

static void opencv_is_absent(const char *function)
{
    fprintf(stderr,
            "p4: darknet called OpenCV's %s, but p4 loads darknet without "
            "OpenCV (p4 reads no image files and opens no windows); rebuild "
            "with -DP4_DARKNET_OPENCV=ON to load the real OpenCV\n",
            function);
    abort();
}

#define OPENCV_ABSENT(symbol, readable) \
    void symbol(void);                  \
    void symbol(void) { opencv_is_absent(readable); }

/* core */
OPENCV_ABSENT(_ZN2cv3MatC1Ev, "cv::Mat::Mat()")
OPENCV_ABSENT(_ZN2cv3MatC1Eiii, "cv::Mat::Mat(int, int, int)")
OPENCV_ABSENT(_ZN2cv3MatC1ERKS0_, "cv::Mat::Mat(const cv::Mat&)")
OPENCV_ABSENT(_ZN2cv3MatD1Ev, "cv::Mat::~Mat()")
OPENCV_ABSENT(_ZN2cv3MataSEOS0_, "cv::Mat::operator=(cv::Mat&&)")
OPENCV_ABSENT(_ZNK2cv3Mat5emptyEv, "cv::Mat::empty()")
/* imgcodecs */
OPENCV_ABSENT(_ZN2cv6imreadERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi,
              "cv::imread")
/* videoio */
OPENCV_ABSENT(_ZN2cv12VideoCaptureC1ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi,
              "cv::VideoCapture::VideoCapture(const std::string&, int)")
OPENCV_ABSENT(_ZN2cv12VideoCaptureC1Eii, "cv::VideoCapture::VideoCapture(int, int)")
/* highgui */
OPENCV_ABSENT(_ZN2cv11namedWindowERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi,
              "cv::namedWindow")
OPENCV_ABSENT(_ZN2cv10moveWindowERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEii,
              "cv::moveWindow")
OPENCV_ABSENT(_ZN2cv12resizeWindowERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEii,
              "cv::resizeWindow")
OPENCV_ABSENT(_ZN2cv17setWindowPropertyERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEid,
              "cv::setWindowProperty")
OPENCV_ABSENT(_ZN2cv6imshowERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_11_InputArrayE,
              "cv::imshow")
OPENCV_ABSENT(_ZN2cv7waitKeyEi, "cv::waitKey")

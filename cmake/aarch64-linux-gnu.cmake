# Cross-compiling p4 for 64-bit Arm Linux with Debian's gcc-aarch64-linux-gnu.
# The libraries come from a sysroot of Debian arm64 packages unpacked with
# dpkg -x (scripts/cross-aarch64 makes it).  The sysroot is
# -DP4_AARCH64_SYSROOT=..., else $P4_AARCH64_SYSROOT, else build-aarch64/sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

if(NOT P4_AARCH64_SYSROOT)
  if(DEFINED ENV{P4_AARCH64_SYSROOT})
    set(P4_AARCH64_SYSROOT $ENV{P4_AARCH64_SYSROOT})
  else()
    get_filename_component(P4_AARCH64_SYSROOT ${CMAKE_CURRENT_LIST_DIR}/../build-aarch64/sysroot ABSOLUTE)
  endif()
endif()
# try_compile projects reload this file: hand them the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES P4_AARCH64_SYSROOT)
set(ENV{P4_AARCH64_SYSROOT} ${P4_AARCH64_SYSROOT})

set(CMAKE_SYSROOT ${P4_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${P4_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Shared libraries' own dependencies (libzmq's krb5, darknet's libstdc++, ...)
# are looked up in the sysroot, never on the build machine.
set(_p4_multiarch ${P4_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "-Wl,-rpath-link,${P4_AARCH64_SYSROOT}/lib/aarch64-linux-gnu -Wl,-rpath-link,${_p4_multiarch} -Wl,-rpath-link,${P4_AARCH64_SYSROOT}/usr/lib/darknet")
set(CMAKE_SHARED_LINKER_FLAGS_INIT ${CMAKE_EXE_LINKER_FLAGS_INIT})

# pkg-config reads the sysroot's .pc files only and prefixes their paths.
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${P4_AARCH64_SYSROOT})
set(ENV{PKG_CONFIG_LIBDIR} "${_p4_multiarch}/pkgconfig:${P4_AARCH64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

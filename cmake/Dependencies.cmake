# Every dependency comes from a Debian package; scripts/setup.sh installs them.
# A missing one stops configure with a sentence that names the package to install.
find_package(PkgConfig QUIET)

# MERIDIAN_PRETEND_MISSING=<package> makes configure behave as if that package were absent,
# so a test can check the message a person who skipped setup would see.
function(meridian_require found package what)
  if(NOT ${found} OR "${package}" STREQUAL "${MERIDIAN_PRETEND_MISSING}")
    message(FATAL_ERROR
      "Meridian needs ${what}, from the Debian package '${package}', which is not installed. "
      "Run scripts/setup.sh (or: apt-get install ${package}) and configure again.")
  endif()
endfunction()

if(NOT PkgConfig_FOUND)
  meridian_require(PkgConfig_FOUND pkg-config "pkg-config")
endif()

pkg_check_modules(LIBUV QUIET IMPORTED_TARGET libuv)
meridian_require(LIBUV_FOUND libuv1-dev "libuv")

find_package(OpenSSL QUIET)
meridian_require(OpenSSL_FOUND libssl-dev "OpenSSL")

find_package(nlohmann_json 3.10 QUIET)
meridian_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann_json")

find_package(tomlplusplus 3 QUIET)
meridian_require(tomlplusplus_FOUND libtomlplusplus-dev "toml++")

find_package(spdlog QUIET)
meridian_require(spdlog_FOUND libspdlog-dev "spdlog")

set(LLHTTP_DIR /usr/share/llhttp)
set(LLHTTP_FOUND FALSE)
if(EXISTS ${LLHTTP_DIR}/llhttp.c AND EXISTS /usr/share/include/llhttp/llhttp.h)
  set(LLHTTP_FOUND TRUE)
endif()
meridian_require(LLHTTP_FOUND node-llhttp "llhttp's C sources")
# llhttp ships as C sources: compile them once into a small static library.
add_library(llhttp STATIC ${LLHTTP_DIR}/llhttp.c ${LLHTTP_DIR}/api.c ${LLHTTP_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC /usr/share/include/llhttp)
set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)

if(MERIDIAN_UNIT_TESTS OR MERIDIAN_INTEGRATION_TESTS)
  find_package(GTest QUIET)
  meridian_require(GTest_FOUND libgtest-dev "GoogleTest")
  include(GoogleTest)
endif()
if(MERIDIAN_BENCHMARKS)
  find_package(benchmark QUIET)
  meridian_require(benchmark_FOUND libbenchmark-dev "Google Benchmark")
endif()
if(MERIDIAN_INTEGRATION_TESTS OR MERIDIAN_BENCHMARKS)
  # Debian's cnats CMake config names a static library the package does not ship: use pkg-config.
  pkg_check_modules(LIBNATS QUIET IMPORTED_TARGET libnats)
  meridian_require(LIBNATS_FOUND libnats-dev "the NATS C client (libnats)")
  find_program(NATS_SERVER_BIN nats-server PATHS /usr/bin /usr/sbin)
  meridian_require(NATS_SERVER_BIN nats-server "the stock nats-server")
  find_program(NODE_BIN node)
  meridian_require(NODE_BIN nodejs "Node.js (for the nats.js integration clients)")
endif()
if(MERIDIAN_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "Fuzz targets need clang (libFuzzer): use the 'asan' preset, which selects clang.")
endif()

# Warnings as errors on Meridian's own code; third-party sources opt out per target.
function(meridian_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  # GCC 12 at -O3 reports false -Wrestrict errors inside libstdc++'s std::string operator+
  # (GCC bug 105329); the warning stays on for clang.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()

if(MERIDIAN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()

# Fuzz builds instrument all of our code for coverage, not only the fuzz targets' own files, so
# libFuzzer sees edges inside the libraries it drives.
if(MERIDIAN_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# meridian_library(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# One static library per part, headers included as "<part>/<file>.h" from shared/, proxy/ or node/.
function(meridian_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  meridian_warnings(${name})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/..)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

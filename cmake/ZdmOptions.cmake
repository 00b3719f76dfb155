# Flags applied to our own targets only (third-party headers are included as SYSTEM).
add_library(zdm_warnings INTERFACE)
target_compile_options(zdm_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror
  -Wno-error=deprecated-declarations)
# GCC 12 reports false stringop/array-bounds overflows inside libstdc++'s inlined vector code at
# -O2/-O3 (GCC bugs 105651, 106199); the sanitizer build checks the real bounds instead.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(zdm_warnings INTERFACE
    -Wno-stringop-overflow -Wno-stringop-overread -Wno-array-bounds -Wno-restrict)
endif()

add_library(zdm_sanitizers INTERFACE)
if(ZDM_SANITIZE)
  target_compile_options(zdm_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(zdm_sanitizers INTERFACE -fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Clang 14's -fsanitize=function cannot compile coroutines ("Cannot represent a difference
    # across sections"): the client and proxy layers failed in the fuzz build.
    target_compile_options(zdm_sanitizers INTERFACE -fno-sanitize=function)
  endif()
endif()

# zdm_layer(<name> DEPS <libs...>): one static library per directory under src/, sources by glob
# (subfolders included: they show a layer's stages) so that adding a file needs no CMake edit.
function(zdm_layer name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    return()  # a layer with no sources yet
  endif()
  set(deps)
  foreach(dep ${ARG_DEPS})
    if(dep MATCHES "^zdm_" AND NOT TARGET ${dep})
      continue()  # a layer below with no sources yet
    endif()
    list(APPEND deps ${dep})
  endforeach()
  add_library(zdm_${name} STATIC ${sources})
  target_include_directories(zdm_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(zdm_${name} PUBLIC ${deps} zdm_sanitizers PRIVATE zdm_warnings)
  if(ZDM_FUZZ)
    target_compile_options(zdm_${name} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
  zdm_precompile_headers(zdm_${name})  # cmake/ZdmPch.cmake
endfunction()

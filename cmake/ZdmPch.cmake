# Precompiled headers: the standard library, fmt and tl::expected (every layer), spdlog and
# Boost.Asio (the network layers) and gtest (the tests) are parsed once per build instead of once
# per source file. A fresh build (CI) spends a large share of its time parsing them.
#
# Four headers are precompiled, each by a small host target below: base, asio, test, asio_test.
# zdm_precompile_headers(<target>) makes a target reuse (REUSE_FROM) the one that fits it:
# "asio" when it links zdm_asio (directly or through a layer), "test" when it links gtest.
# zdm_layer and the test registrations call it, so new layers and tests get it without an edit.
#
# GCC uses a precompiled header only if it was built with the same options (-O, -f..., -m...)
# and the same definitions of the macros it reads; the hosts link the same interface libraries
# as the targets (zdm_warnings, zdm_sanitizers, fmt, spdlog, zdm_asio, gtest). CMake adds
# -Winvalid-pch and our -Werror turns a header GCC would not use into an error, so a mismatch
# cannot go unnoticed as a silently slower build. -DZDM_PCH=OFF builds without them.
#
# Only with GCC (what CI and `make test` use): clang checks command-line macros more strictly,
# and its libFuzzer targets (-DZDM_FUZZ=ON) add options of their own.
option(ZDM_PCH "Precompiled headers for the third-party headers most sources include (GCC)" ON)

set(zdm_pch_base_headers
  <algorithm> <array> <atomic> <charconv> <chrono> <cstddef> <cstdint> <cstdio> <cstdlib>
  <cstring> <functional> <limits> <map> <memory> <mutex> <optional> <set> <span> <string>
  <string_view> <unordered_map> <utility> <variant> <vector>
  <fmt/format.h> <tl/expected.hpp>)
set(zdm_pch_asio_headers
  <spdlog/spdlog.h>
  <boost/asio/any_io_executor.hpp> <boost/asio/as_tuple.hpp> <boost/asio/awaitable.hpp>
  <boost/asio/co_spawn.hpp> <boost/asio/detached.hpp> <boost/asio/io_context.hpp>
  <boost/asio/ip/address.hpp> <boost/asio/ip/tcp.hpp> <boost/asio/post.hpp>
  <boost/asio/read.hpp> <boost/asio/redirect_error.hpp> <boost/asio/ssl/context.hpp>
  <boost/asio/ssl/stream.hpp> <boost/asio/steady_timer.hpp> <boost/asio/strand.hpp>
  <boost/asio/this_coro.hpp> <boost/asio/use_awaitable.hpp> <boost/asio/write.hpp>)
set(zdm_pch_test_headers <gtest/gtest.h>)

if(ZDM_PCH AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(STATUS "ZDM_PCH: precompiled headers are set up for GCC only; building without them")
endif()

# _zdm_links_any(<target> <out> <name>...): whether <target> links (transitively) one of <name>.
function(_zdm_links_any target out)
  set(queue ${target})
  set(seen)
  set(found FALSE)
  while(queue)
    list(POP_FRONT queue t)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" t "${t}")
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    if(t IN_LIST ARGN)
      set(found TRUE)
      break()
    endif()
    get_target_property(libs ${t} INTERFACE_LINK_LIBRARIES)
    if(libs)
      list(APPEND queue ${libs})
    endif()
    if(t STREQUAL target)
      get_target_property(libs ${t} LINK_LIBRARIES)
      if(libs)
        list(APPEND queue ${libs})
      endif()
    endif()
  endwhile()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# The host of one precompiled header: an object library of one empty source, created on first
# use (the test hosts where GTest's imported targets are visible, i.e. under tests/).
function(_zdm_pch_host kind out)
  set(host zdm_pch_${kind})
  if(NOT TARGET ${host})
    set(anchor ${PROJECT_BINARY_DIR}/zdm_pch/${kind}.cpp)
    if(NOT EXISTS ${anchor})
      file(WRITE ${anchor} "// Host of the precompiled header shared by the project's targets (cmake/ZdmPch.cmake).\n")
    endif()
    add_library(${host} OBJECT ${anchor})
    target_link_libraries(${host} PRIVATE fmt::fmt spdlog::spdlog tl::expected zdm_warnings
      zdm_sanitizers)
    set(headers ${zdm_pch_base_headers})
    if(kind MATCHES "asio")
      target_link_libraries(${host} PRIVATE zdm_asio)
      list(APPEND headers ${zdm_pch_asio_headers})
    endif()
    if(kind MATCHES "test")
      target_link_libraries(${host} PRIVATE GTest::gtest)
      list(APPEND headers ${zdm_pch_test_headers})
    endif()
    target_precompile_headers(${host} PRIVATE ${headers})
  endif()
  set(${out} ${host} PARENT_SCOPE)
endfunction()

# zdm_precompile_headers(<target>): call after the target's target_link_libraries.
function(zdm_precompile_headers target)
  if(NOT ZDM_PCH OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()
  _zdm_links_any(${target} asio zdm_asio)
  _zdm_links_any(${target} test GTest::gtest GTest::gtest_main GTest::GTest GTest::Main)
  set(kind base)
  if(asio)
    set(kind asio)
  endif()
  if(test)
    if(asio)
      set(kind asio_test)
    else()
      set(kind test)
    endif()
  endif()
  _zdm_pch_host(${kind} host)
  target_precompile_headers(${target} REUSE_FROM ${host})
endfunction()

# ewarn_library(name SRCS ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Makes target ewarn_<name> with alias ewarn::<name>, public headers in include/.
function(ewarn_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(ewarn_${name} STATIC ${ARG_SRCS})
  add_library(ewarn::${name} ALIAS ewarn_${name})
  target_include_directories(ewarn_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                           PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(ewarn_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(ewarn_${name} PRIVATE ${EWARN_WARNINGS})
endfunction()

# ewarn_test(name SRCS ... DEPS ... [LABELS ...] [TEST_PREFIX p]): one GoogleTest binary, tests
# discovered by ctest (named "<p><Suite>.<Test>", so `ctest -R <p>` selects a module's tests).
function(ewarn_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;TEST_PREFIX" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${EWARN_WARNINGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${ARG_TEST_PREFIX}"
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}"
    ENVIRONMENT "EWARN_SHARED_DATA=${EWARN_SHARED_DATA}")
endfunction()

# Common compile options, sanitizer flags and the test helper every module uses.
add_library(idsync_options INTERFACE)
target_compile_options(idsync_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
# BOOST_ASSERT in builds with assertions (Debug: the ASan build) goes through our handler
# (src/base/boost_assert.cpp); the other build types define NDEBUG, where it compiles away as before.
target_compile_definitions(idsync_options INTERFACE BOOST_BEAST_USE_STD_STRING_VIEW
                           $<$<CONFIG:Debug>:BOOST_ENABLE_ASSERT_DEBUG_HANDLER>)
if(IDSYNC_WERROR)
  target_compile_options(idsync_options INTERFACE -Werror)
endif()
if(IDSYNC_SANITIZE)
  # Not position-independent: an instrumented PIE carries ~1.5 million relative relocations
  # (every global's descriptor, every type descriptor), which the loader applies at each start,
  # touching ~20,000 pages: 0.35 s per process, and the black-box suite starts ~1,000 of them.
  # A sanitizer build is a test build; the release binary stays PIE.
  target_compile_options(idsync_options INTERFACE -fsanitize=${IDSYNC_SANITIZE} -fno-omit-frame-pointer
                         -fno-sanitize-recover=undefined -fno-pie)
  target_link_options(idsync_options INTERFACE -fsanitize=${IDSYNC_SANITIZE} -no-pie)
endif()
if(IDSYNC_BUILD_FUZZ)
  target_compile_options(idsync_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(idsync_options INTERFACE -fsanitize=address,undefined)
endif()

# idsync_add_tests(<module-target> test1.cpp test2.cpp ...): one gtest binary per module,
# named <module>_test, registered with CTest under the label "unit".
function(idsync_add_tests target)
  if(NOT IDSYNC_BUILD_TESTS)
    return()
  endif()
  set(test_target ${target}_test)
  add_executable(${test_target} ${ARGN})
  target_link_libraries(${test_target} PRIVATE ${target} idsync_options GTest::gtest GTest::gtest_main
                        GTest::gmock)
  add_test(NAME ${test_target} COMMAND ${test_target})
  set_tests_properties(${test_target} PROPERTIES LABELS unit)
endfunction()

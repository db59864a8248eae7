# IDSYNC_COMMIT: the git commit the build was configured from, for `idsync version` and
# /metrics. Read at configure time; CMake re-runs the configure step whenever HEAD moves
# (the git directory's logs/HEAD is a configure dependency), so an incremental build after a
# commit or checkout names the new commit. Outside a git checkout (a source tarball) it is
# "unknown" unless given: cmake -DIDSYNC_COMMIT=<commit>.
set(IDSYNC_COMMIT "" CACHE STRING "Commit reported by idsync version (default: git rev-parse)")
set(_idsync_commit "${IDSYNC_COMMIT}")
if(_idsync_commit STREQUAL "")
  set(_idsync_commit "unknown")
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _git_head
      ERROR_QUIET
      RESULT_VARIABLE _git_rc
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --absolute-git-dir
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _git_dir
      ERROR_QUIET
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_git_rc EQUAL 0 AND NOT _git_head STREQUAL "")
      set(_idsync_commit "${_git_head}")
      execute_process(
        COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        OUTPUT_VARIABLE _git_status
        ERROR_QUIET)
      if(NOT _git_status STREQUAL "")
        # Uncommitted changes at configure time; later edits without a commit do not re-run
        # the configure step, so the mark is a hint, not a guarantee.
        string(APPEND _idsync_commit "-dirty")
      endif()
      if(EXISTS "${_git_dir}/logs/HEAD")
        set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                                                                  "${_git_dir}/logs/HEAD")
      endif()
    endif()
  endif()
endif()
set(IDSYNC_BUILD_COMMIT "${_idsync_commit}")

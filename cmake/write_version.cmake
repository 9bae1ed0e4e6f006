# Writes OUTPUT from TEMPLATE (core/base/version.h.in) with PROJECT_VERSION and the source tree's
# `git describe`. Run at configure time and, through the mailroom_version target, before every
# build; configure_file() rewrites the header only when its text changes, so an unchanged
# describe recompiles nothing.
#   cmake -DTEMPLATE=... -DOUTPUT=... -DPROJECT_VERSION=... -DSOURCE_DIR=... -P write_version.cmake
set(MAILROOM_GIT_DESCRIBE "")
find_program(MAILROOM_GIT git)
if(MAILROOM_GIT AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${MAILROOM_GIT}" describe --tags --always --dirty
                  WORKING_DIRECTORY "${SOURCE_DIR}"
                  OUTPUT_VARIABLE MAILROOM_GIT_DESCRIBE
                  OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET
                  RESULT_VARIABLE git_result)
  if(NOT git_result EQUAL 0)
    set(MAILROOM_GIT_DESCRIBE "")
  endif()
endif()
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)

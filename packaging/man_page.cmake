# cmake -DIDSYNC=path/to/idsync -DHELP2MAN=help2man -DOUT=idsync.1 -P man_page.cmake
# Runs help2man on `idsync` with the help of the service-related commands as extra sections,
# then gzips the page reproducibly (gzip -n).
set(include_file ${OUT}.include)
file(WRITE ${include_file} "[SEE ALSO]\nThe README in /usr/share/doc/idsync, and each command's --help.\n")
foreach(command serve backup restore version)
  execute_process(COMMAND ${IDSYNC} ${command} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${IDSYNC} ${command} --help failed")
  endif()
  string(TOUPPER ${command} upper)
  # Preformatted, with roff's escape character and line-leading dots made literal.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "\n\\." "\n\\\\&." help "${help}")
  file(APPEND ${include_file} "[COMMAND ${upper}]\n.nf\n${help}.fi\n")
endforeach()
execute_process(
  COMMAND ${HELP2MAN} --no-info --no-discard-stderr --name "user and group provisioning server"
          --section 1 --include ${include_file} --output ${OUT} ${IDSYNC}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed on ${IDSYNC}")
endif()
execute_process(COMMAND gzip -9nf ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${OUT} failed")
endif()

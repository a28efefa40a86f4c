# ctest -L fuzz: run lab_fuzz for SECONDS on a copy of the seed corpus, so what it finds never
# lands in the source tree. Fails on any crash, leak, sanitizer report or timeout. -max_len lets
# inputs grow to 256 KiB (libFuzzer's default is 4 KiB): a key with 100000 dotted parts once
# overflowed the stack inside toml++.
#   cmake -DFUZZER=... -DCORPUS=... -DDICT=... -DWORK_DIR=... -DSECONDS=30 -P smoke.cmake
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/corpus ${WORK_DIR}/artifacts)
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${WORK_DIR}/corpus)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=25 -max_len=262144 -dict=${DICT} -print_final_stats=1
          -artifact_prefix=${WORK_DIR}/artifacts/ ${WORK_DIR}/corpus
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(GLOB findings ${WORK_DIR}/artifacts/*)
  message(FATAL_ERROR "lab_fuzz failed (exit ${status}); reproduce with: ${FUZZER} ${findings}")
endif()

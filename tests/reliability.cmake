# Reliability: bad input, divergence, a killed rank, signals, a full disk and
# valgrind (scripts in tests/reliability/).  Each script prints one PASS/FAIL
# line per case with the measured times and exits non-zero when a case
# failed; 77 means "cannot run here" and is reported as skipped.
# Included by tests/CMakeLists.txt (DNN_PYTHON, DNN_MPIEXEC, DNN_TEST_ENV).
set(DNN_REL_DIR ${CMAKE_CURRENT_SOURCE_DIR}/reliability)

# Every bad input of reliability/bad_input.table, alone and on 3 ranks.
foreach(np 1 3)
  add_test(NAME reliability_bad_input_np${np}
    COMMAND bash ${DNN_REL_DIR}/bad_input.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON} ${DNN_MPIEXEC} ${np})
  set_tests_properties(reliability_bad_input_np${np} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 240 SKIP_RETURN_CODE 77 LABELS "reliability")
endforeach()

# --lr 1e6: exit 1 with the iteration and a hint, last checkpoint kept; N = 1 and 3.
add_test(NAME reliability_divergence
  COMMAND bash ${DNN_REL_DIR}/divergence.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON} ${DNN_MPIEXEC})
set_tests_properties(reliability_divergence PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "reliability")

# The timing-sensitive ones run alone: the signal or SIGKILL must land mid-run.
add_test(NAME reliability_kill_rank
  COMMAND bash ${DNN_REL_DIR}/kill_rank.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON} ${DNN_MPIEXEC})
add_test(NAME reliability_signals
  COMMAND bash ${DNN_REL_DIR}/signals.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON} ${DNN_MPIEXEC})
set_tests_properties(reliability_kill_rank reliability_signals PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 180 RUN_SERIAL TRUE LABELS "reliability")

# Checkpoint onto a full tmpfs (skipped where mount is not permitted) and
# under ulimit -f (runs anywhere).
foreach(mech tmpfs ulimit)
  add_test(NAME reliability_disk_full_${mech}
    COMMAND bash ${DNN_REL_DIR}/disk_full.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON} ${DNN_MPIEXEC} ${mech})
  set_tests_properties(reliability_disk_full_${mech} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "reliability")
endforeach()

# valgrind memcheck on single-process runs; builds its own Debug dnn-train
# (no -march=native) in the build tree, since valgrind cannot decode AVX-512.
find_program(DNN_VALGRIND valgrind)
if(DNN_VALGRIND AND NOT DNN_SANITIZE)
  add_test(NAME reliability_valgrind
    COMMAND bash ${DNN_REL_DIR}/valgrind.sh ${PROJECT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/valgrind-build ${DNN_PYTHON})
  set_tests_properties(reliability_valgrind PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 180 SKIP_RETURN_CODE 77 LABELS "reliability")
endif()

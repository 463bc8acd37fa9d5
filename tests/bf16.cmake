# --precision bf16 (owner: bf16, issue 11).
#   unit_bf16   (tests/test_bf16.c) reports a skip (77) on a CPU without AVX512_BF16
#   mpi_fullbatch_bitwise  full batch, no flag: bitwise for N = 1..4 (single and bf16)
#   e2e_bf16    bf16 training against float32, bitwise across --threads 1/2,
#               checkpoint precision "bf16" read by dnn-predict, resume, and the
#               refusal on a CPU without bf16 instructions (oneDNN told so by
#               DNNL_MAX_CPU_ISA); skips (77) where bf16 cannot run
set_tests_properties(unit_bf16 PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME e2e_bf16
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e/bf16_train.py $<TARGET_FILE:dnn-train>
          $<TARGET_FILE:dnn-predict> ${CMAKE_CURRENT_BINARY_DIR}/e2e_bf16 ${DNN_MPIEXEC})
set_tests_properties(e2e_bf16 PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 SKIP_RETURN_CODE 77)
# Full batch without any flag: W/b bitwise identical for N = 1..4 and --threads 1/2 (README, Data-parallel training and determinism).
add_test(NAME mpi_fullbatch_bitwise
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e/fullbatch_bitwise.py $<TARGET_FILE:dnn-train>
          ${DNN_MPIEXEC} ${CMAKE_CURRENT_BINARY_DIR}/mpi_fullbatch_bitwise)
set_tests_properties(mpi_fullbatch_bitwise PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "mpi"
  SKIP_RETURN_CODE 77)

# Portability (README, Batch invariance; owner: portability, issue 19).
#   unit_matrix_portable, unit_net_portable  the matrix and net suites again with
#       DNN_DOT_PORTABLE=1: the portable evaluation kernel must give the bits of
#       the documented order, as the AVX-512 one does
#   e2e_batch_invariance  dnn-predict on prefixes and a shuffled subset of 2100
#       examples equals the whole-set evaluation bitwise (single, double, bf16)
# The label "bitwise" marks the tests of the bitwise guarantees (rank count,
# thread count, resume, batch invariance); .ci/run runs them with the unit
# suites under every OpenBLAS kernel type (ctest -L '^(unit|bitwise)$').
foreach(mod matrix net)
  add_test(NAME unit_${mod}_portable COMMAND test_${mod})
  set_tests_properties(unit_${mod}_portable PROPERTIES ENVIRONMENT "${DNN_TEST_ENV};DNN_DOT_PORTABLE=1"
    TIMEOUT 120 LABELS "unit" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endforeach()
add_test(NAME e2e_batch_invariance
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/portability/batch_invariance.py $<TARGET_FILE:dnn-train>
          $<TARGET_FILE:dnn-predict> ${CMAKE_CURRENT_BINARY_DIR}/e2e_batch_invariance)
set_tests_properties(e2e_batch_invariance PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "bitwise")
# (resume: e2e_deterministic_bitwise_more's 2-onto-3-ranks case and e2e_bf16's;
# ckpt_resume, ten times longer, runs once in the full suite)
foreach(t mpi_fullbatch_bitwise e2e_deterministic_exact e2e_deterministic_exact_mpi3 e2e_bf16
          e2e_deterministic_bitwise_more mpi_consistency_np2 mpi_consistency_np3)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY LABELS bitwise)
  endif()
endforeach()

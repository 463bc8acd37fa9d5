# References for batch normalization and the course's mini-batch order
# (README, Batch normalization; README, The course's mini-batch order),
# written from the formulas, not from dnn's C.  Included by
# tests/CMakeLists.txt (DNN_PYTHON, DNN_TEST_ENV).  Small data: each test
# takes a few seconds.

set(DNN_BNREF_DIR ${CMAKE_CURRENT_SOURCE_DIR}/ref)

# --rng numpy --shuffle-seed S: epoch e's order is numpy's
# np.random.seed(S + e); np.random.permutation(m), many S, e and m, at test time.
add_executable(perm_dump ${DNN_BNREF_DIR}/perm_dump.c)
target_link_libraries(perm_dump PRIVATE dnn)
add_test(NAME ref_numpy_permutation
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/check_perm.py $<TARGET_FILE:perm_dump>
          ${CMAKE_CURRENT_BINARY_DIR}/ref_numpy_permutation)
set_tests_properties(ref_numpy_permutation PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;fast")

# The course's Optimization notebook loop (random_mini_batches with seed 10 + e,
# gd, momentum, Adam) in numpy on moons-like data, [2,5,2,1], batch 64, against
# dnn-train --precision double --rng numpy: costs and W, b to 1e-9; on 3 ranks too.
add_test(NAME ref_course_minibatch
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/course_minibatch.py --train $<TARGET_FILE:dnn-train>
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/ref_course_minibatch)
set_tests_properties(ref_course_minibatch PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;fast")
add_test(NAME ref_course_minibatch_mpi3
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/course_minibatch.py --train $<TARGET_FILE:dnn-train>
          --launcher "${DNN_MPIEXEC} -n 3 --oversubscribe"
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/ref_course_minibatch_mpi3)
set_tests_properties(ref_course_minibatch_mpi3 PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;mpi;fast")

# Batch normalization: the numpy reference checks itself (backprop against
# central differences of its own cost, relu and tanh, with L2; the running
# statistics' update).
add_test(NAME ref_bn_selfcheck COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/ref_bn.py selfcheck)
set_tests_properties(ref_bn_selfcheck PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;bn;fast")

# dnn-train --precision double --rng numpy --batch-norm against that reference:
# 300 steps, full batch and mini-batches of 64 (the same numpy-ordered batches),
# gd and Adam, relu and tanh, L2, dropout, non-default --bn-momentum/--bn-epsilon; step
# costs, W, gamma, beta and the running statistics to 1e-9.  On 3 ranks the
# statistics are the global batch's (mini-batch with --deterministic).
add_test(NAME ref_bn_numpy
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/compare_bn.py --train $<TARGET_FILE:dnn-train>
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/ref_bn_numpy)
set_tests_properties(ref_bn_numpy PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;bn;fast")
add_test(NAME ref_bn_numpy_mpi3
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/compare_bn.py --train $<TARGET_FILE:dnn-train>
          --launcher "${DNN_MPIEXEC} -n 3 --oversubscribe" --deterministic
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/ref_bn_numpy_mpi3)
set_tests_properties(ref_bn_numpy_mpi3 PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  LABELS "ref;bn;mpi;fast")

# PyTorch's BatchNorm1d (float64, no bias before it): 100 full-batch steps, SGD
# and Adam, step costs, parameters and running statistics to 1e-9.  Without
# python3-torch it reports a skip.
add_test(NAME ref_bn_torch
  COMMAND ${DNN_PYTHON} ${DNN_BNREF_DIR}/torch_bn.py --train $<TARGET_FILE:dnn-train>
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/ref_bn_torch)
set_tests_properties(ref_bn_torch PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60
  SKIP_RETURN_CODE 77 LABELS "ref;bn;fast")

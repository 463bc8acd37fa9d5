# Batch normalization (README, Batch normalization): dnn-train --batch-norm end
# to end (tests/bn/bn_train.py, split in three for the time limit) and the
# inference paths against a numpy forward pass (tests/bn/bn_inference.py).
# The numpy/PyTorch training references are in bn_ref.cmake.
set(DNN_BN_DIR ${CMAKE_CURRENT_LIST_DIR}/bn)
add_executable(bn_capi_predict ${DNN_BN_DIR}/capi_predict.c)
target_link_libraries(bn_capi_predict PRIVATE dnn)

#   bn_train_checks   gradient check (relu, tanh), running statistics stored, mini-batch without
#                     --deterministic on 3 ranks = 1 rank to rounding
#   bn_train_bad_input  bad input at N = 1 and 3
#   bn_train_bitwise_full  W, b, gamma, beta, running statistics bitwise for N = 1..4, full batch
#   bn_train_bitwise_mini  the same in mini-batch with --deterministic; N = 1, 3 with the course-2 options
#   bn_train_resume         stop at 60% and resume = straight run (1 rank; 2 -> 3 ranks, full and mini-batch)
foreach(part checks bitwise_full bitwise_mini resume bad_input)
  if(part STREQUAL "checks")
    set(only --only gradcheck --only running_stats --only nondeterministic)
  elseif(part STREQUAL "bitwise_mini")
    set(only --only bitwise_minibatch --only bitwise_options)
  else()
    set(only --only ${part})
  endif()
  add_test(NAME bn_train_${part}
    COMMAND ${DNN_PYTHON} ${DNN_BN_DIR}/bn_train.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC} ${only})
  set_tests_properties(bn_train_${part} PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "bn;e2e")
endforeach()

add_test(NAME bn_inference
  COMMAND ${DNN_PYTHON} ${DNN_BN_DIR}/bn_inference.py --train $<TARGET_FILE:dnn-train>
          --predict $<TARGET_FILE:dnn-predict> --export $<TARGET_FILE:dnn-export>
          --capi $<TARGET_FILE:bn_capi_predict>)
set_tests_properties(bn_inference PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "bn;e2e")

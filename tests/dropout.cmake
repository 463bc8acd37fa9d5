# Dropout and gradient checking end to end (owner: dropout).  Scripts in
# tests/e2e/, run with /usr/bin/python3 (numpy, h5py), sharing tests/mpi/dnnt.py;
# every program inside runs under a timeout.  One PASS/FAIL line per case.
#
#   e2e_dropout          --keep-prob: --deterministic W/b SHA-256 equal for N = 1..4
#                        (mini-batch) and N = 1, 3 (full batch); N-independent masks
#                        without --deterministic; --keep-prob 1 == no dropout bitwise;
#                        dnn-predict and the final accuracies == numpy without masks;
#                        W/b == a numpy reimplementation of dropout training (masks
#                        from rng.h's definition) to 1e-9; 60 + resume == 100, bitwise
#   e2e_gradient_check   dnn-train --gradient-check passes (exit 0, difference < 1e-7)
#                        on sigmoid/softmax/linear x tanh/relu/leaky_relu, with
#                        --keep-prob and --l2, sampled when P > 2000, on 2 ranks, from
#                        a config file; bad input: exit 1, one message
add_test(NAME e2e_dropout
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e/dropout.py --train $<TARGET_FILE:dnn-train>
          --predict $<TARGET_FILE:dnn-predict> --mpiexec ${DNN_MPIEXEC})
add_test(NAME e2e_gradient_check
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e/gradient_check.py --train $<TARGET_FILE:dnn-train>
          --mpiexec ${DNN_MPIEXEC})
set_tests_properties(e2e_dropout e2e_gradient_check PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 240 LABELS "e2e")

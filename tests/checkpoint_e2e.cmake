# Checkpoint end-to-end tests (owner: h5).  Scripts in tests/ckpt/, run with
# /usr/bin/python3 (numpy, h5py), sharing tests/mpi/dnnt.py; every program
# inside runs under a timeout.  One PASS/FAIL line per case, exit 1 on a failure.
#
#   ckpt_predict_numpy   dnn-predict == numpy forward pass from the checkpoint
#                        (sigmoid + scale + binary threshold, softmax double,
#                        standardized single/double, features-first; .h5 and .csv)
#   ckpt_resume          interrupted + --resume == straight run, bitwise (W/b,
#                        /history, metrics), also across N with --deterministic
#   ckpt_sigkill         SIGKILL during checkpoint writes never leaves a broken file
#   ckpt_mismatch        unfit or damaged checkpoints refused: exit 1, clear message
#   ckpt_signals         SIGTERM/SIGINT/SIGUSR1 -> checkpoint, exit 75, exact resume
set(DNN_CKPT_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/ckpt)
set(DNN_CKPT_TEST_ARGS --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict>
    --mpiexec ${DNN_MPIEXEC})

add_test(NAME ckpt_predict_numpy
  COMMAND ${DNN_PYTHON} ${DNN_CKPT_TEST_DIR}/predict_numpy.py ${DNN_CKPT_TEST_ARGS})
add_test(NAME ckpt_resume
  COMMAND ${DNN_PYTHON} ${DNN_CKPT_TEST_DIR}/resume.py ${DNN_CKPT_TEST_ARGS})
add_test(NAME ckpt_sigkill
  COMMAND ${DNN_PYTHON} ${DNN_CKPT_TEST_DIR}/kill_loop.py ${DNN_CKPT_TEST_ARGS})
add_test(NAME ckpt_mismatch
  COMMAND ${DNN_PYTHON} ${DNN_CKPT_TEST_DIR}/mismatch.py ${DNN_CKPT_TEST_ARGS})
add_test(NAME ckpt_signals
  COMMAND ${DNN_PYTHON} ${DNN_CKPT_TEST_DIR}/signals.py ${DNN_CKPT_TEST_ARGS})
set_tests_properties(ckpt_predict_numpy ckpt_resume ckpt_sigkill ckpt_mismatch ckpt_signals PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "ckpt")

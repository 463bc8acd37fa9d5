# Course 2 (README, Course 2: optimizers, regularization, schedules, dev sets): dev sets, early stopping and the best checkpoint
# against numpy.  (The optimizers against the numpy reference are in
# core_e2e.cmake; their resume cases in checkpoint_e2e.cmake's ckpt_resume.)
add_test(NAME e2e_devset
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/devset.py --train $<TARGET_FILE:dnn-train>
          --mpiexec ${DNN_MPIEXEC})
set_tests_properties(e2e_devset PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "e2e")

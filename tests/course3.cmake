# Course 3's practical tools (README, Multi-task outputs; Transfer learning;
# Error analysis; Learning curves) against numpy and scikit-learn.
set(DNN_COURSE3_DIR ${CMAKE_CURRENT_SOURCE_DIR}/course3)
add_test(NAME course3_multitask
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/multitask.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC})
set_tests_properties(course3_multitask PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "e2e;course3")

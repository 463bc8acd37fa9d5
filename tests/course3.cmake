# Course 3's practical tools (README, Multi-task outputs; Transfer learning;
# Error analysis; What dnn-train prints) against numpy and scikit-learn.
set(DNN_COURSE3_DIR ${CMAKE_CURRENT_SOURCE_DIR}/course3)
add_test(NAME course3_multitask
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/multitask.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC})
set_tests_properties(course3_multitask PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "e2e;course3")
# dnn-predict --report/--misclassified/--confusion-png against scikit-learn
# (skipped, exit 77, without python3-sklearn); the Fashion-MNIST test set when
# dataset-fashion-mnist is installed.
add_test(NAME course3_report
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/report.py --train $<TARGET_FILE:dnn-train>
          --predict $<TARGET_FILE:dnn-predict> --only softmax --only binary --only multitask --only bad_paths)
# dnn-train --report: the dev set's report at N = 1 and 3, its bad paths.
add_test(NAME course3_report_train
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/report.py --train $<TARGET_FILE:dnn-train>
          --predict $<TARGET_FILE:dnn-predict> --mpiexec ${DNN_MPIEXEC} --only train_report)
set_tests_properties(course3_report course3_report_train PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 SKIP_RETURN_CODE 77
  LABELS "e2e;course3")
if(EXISTS /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz)
  add_test(NAME course3_report_fashion
    COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/report.py --train $<TARGET_FILE:dnn-train>
            --predict $<TARGET_FILE:dnn-predict> --only fashion_mnist)
  set_tests_properties(course3_report_fashion PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "e2e;course3"
    ENVIRONMENT "${DNN_TEST_ENV};DNN_FASHION_MNIST_SRC=/usr/share/datasets/fashion-mnist;DNN_FASHION_CONVERTER=$<TARGET_FILE:dnn-fashion-mnist>")
endif()
# --init-from / --transfer-layers / --freeze against numpy; the bad input at N = 1 and N = 3.
add_test(NAME course3_transfer
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/transfer.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC}
          --only freeze)
add_test(NAME course3_transfer_init
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/transfer.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC}
          --only transfer_without --only preprocessing --only batch_norm)
add_test(NAME course3_transfer_bad_input
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/transfer.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC}
          --only bad_input)
set_tests_properties(course3_transfer course3_transfer_init course3_transfer_bad_input PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120
  LABELS "e2e;course3")
# launch/plot.sh (the quickstart's learning curve) draws the dev cost: the PNG decoded.
add_test(NAME course3_plot_devcost
  COMMAND ${DNN_PYTHON} -B ${DNN_COURSE3_DIR}/plot_devcost.py --train $<TARGET_FILE:dnn-train>
          --source ${CMAKE_SOURCE_DIR})
set_tests_properties(course3_plot_devcost PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 SKIP_RETURN_CODE 77
  LABELS "userpath;course3")

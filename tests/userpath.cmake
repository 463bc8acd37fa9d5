# User-path tests: what a user sees from dnn-train and its helpers (the
# config file, the progress output, --help, the learning-curve plot).
# Scripts in tests/userpath/; each prints PASS/FAIL lines and a summary and
# exits 1 on a failure, else 77 when any check had to skip (SKIP_RETURN_CODE:
# ctest shows the test as skipped, never as passed).
# Included by tests/CMakeLists.txt (DNN_PYTHON, DNN_MPIEXEC, DNN_TEST_ENV).

set(DNN_USERPATH_DIR ${CMAKE_CURRENT_SOURCE_DIR}/userpath)
set(DNN_USERPATH_ARGS
  --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict>
  --mpiexec ${DNN_MPIEXEC} --source ${CMAKE_SOURCE_DIR})

# A config file and the same command line give bitwise-identical checkpoints;
# the command line wins; the printed configuration is a config that reproduces the run.
add_test(NAME userpath_config_equivalence
  COMMAND ${DNN_PYTHON} -B ${DNN_USERPATH_DIR}/config_equivalence.py ${DNN_USERPATH_ARGS})
# One updating line on a terminal (util-linux script), plain lines on a pipe or file,
# --quiet, only rank 0 prints under mpiexec -n 2.
add_test(NAME userpath_progress_tty
  COMMAND ${DNN_PYTHON} -B ${DNN_USERPATH_DIR}/progress_tty.py ${DNN_USERPATH_ARGS})
# --help: headings, defaults, examples; every listed option is accepted by the parser.
add_test(NAME userpath_help
  COMMAND ${DNN_PYTHON} -B ${DNN_USERPATH_DIR}/help_options.py ${DNN_USERPATH_ARGS})
# launch/plot.sh on a real metrics file gives a valid, non-blank PNG (skipped without gnuplot).
add_test(NAME userpath_plot
  COMMAND ${DNN_PYTHON} -B ${DNN_USERPATH_DIR}/plot_png.py ${DNN_USERPATH_ARGS})

set_tests_properties(userpath_config_equivalence userpath_help userpath_progress_tty userpath_plot
  PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "userpath" SKIP_RETURN_CODE 77)

# dnn-sweep tests (issue 14, README, Hyperparameter sweeps: dnn-sweep): scripts in tests/sweep/, each
# printing PASS/FAIL lines and exiting 1 on a failure, 77 when skipped.
# Tiny data (the planar set from dnn-planar) and short runs.
set(DNN_SWEEP_DIR ${CMAKE_CURRENT_SOURCE_DIR}/sweep)
set(DNN_SWEEP_ARGS --sweep $<TARGET_FILE:dnn-sweep> --train $<TARGET_FILE:dnn-train>
  --planar $<TARGET_FILE:dnn-planar> --source ${CMAKE_SOURCE_DIR})

# 2x2 grid with --jobs 2: folders, configs reproduce their rows, ranking, curves, a rerun starts nothing.
add_test(NAME sweep_grid_local COMMAND ${DNN_PYTHON} -B ${DNN_SWEEP_DIR}/grid_local.py ${DNN_SWEEP_ARGS})
# SIGINT mid-sweep: trials checkpoint and stop (exit 75); a rerun resumes them to the uninterrupted summary.
add_test(NAME sweep_interrupt COMMAND ${DNN_PYTHON} -B ${DNN_SWEEP_DIR}/interrupt.py ${DNN_SWEEP_ARGS})
# --random K --seed S: the same K trials for a seed (checked against a sampler written here), others for another.
add_test(NAME sweep_random COMMAND ${DNN_PYTHON} -B ${DNN_SWEEP_DIR}/random_search.py ${DNN_SWEEP_ARGS})
# Bad grids and bad command lines fail before any trial starts, naming file:line.
add_test(NAME sweep_bad_grid COMMAND ${DNN_PYTHON} -B ${DNN_SWEEP_DIR}/bad_grid.py ${DNN_SWEEP_ARGS})
set_tests_properties(sweep_grid_local sweep_interrupt sweep_random sweep_bad_grid PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "sweep" SKIP_RETURN_CODE 77)
# The same 2x2 grid through --slurm (one job array, throttled) on the private
# one-node Slurm of tests/slurm/cluster.sh: same summary as --jobs 2.
add_test(NAME sweep_slurm COMMAND bash ${DNN_SWEEP_DIR}/slurm_sweep.sh $<TARGET_FILE:dnn-sweep>
  $<TARGET_FILE:dnn-planar> ${DNN_PYTHON})
set_tests_properties(sweep_slurm PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 RUN_SERIAL TRUE LABELS "sweep;slurm" SKIP_RETURN_CODE 77)

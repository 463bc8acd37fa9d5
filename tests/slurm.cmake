# Slurm launch test: starts a private one-node Slurm (munged, slurmctld,
# slurmd under a temporary folder), submits launch/slurm/dnn-train.sbatch,
# interrupts a job with SIGUSR1 and checks requeue + resume.  When Slurm
# cannot run here it checks the batch script run directly, says why, and
# exits 77: skipped (a failure in CI, see launch/test.sh).
# RUN_SERIAL: the job uses both cores and the timing-sized run must not share.
add_test(NAME slurm_sbatch_requeue
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh
          $<TARGET_FILE_DIR:dnn-train> ${PROJECT_SOURCE_DIR} ${DNN_PYTHON})
set_tests_properties(slurm_sbatch_requeue PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 RUN_SERIAL TRUE SKIP_RETURN_CODE 77 LABELS "slurm")

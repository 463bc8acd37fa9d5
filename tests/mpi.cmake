# MPI end-to-end tests (owner: h5).  Scripts in tests/mpi/, run with
# /usr/bin/python3 (numpy, h5py); every program inside runs under
# `timeout -k 5 T` and `mpiexec --oversubscribe -n N`.  Each script prints one
# PASS/FAIL line per case and "N passed, M failed", and exits 1 on a failure.
#
#   mpi_consistency_npN   N = 1, 2, 3, 4 ranks vs a single process: bitwise
#                         with --deterministic (full batch, --batch-size 64,
#                         --standardize in double), 1e-6 in the default float32
#                         mode, 1e-12 in double with uneven shards, --standardize
#                         mean/std == numpy
#   mpi_empty_ranks       m = 3 (and 600) examples on 2..4 ranks: ranks with no
#                         example train and match N = 1 (a refusal fails)
#   mpi_bad_rank          NaN/Inf/bad label only in the last rank's shard: the job
#                         ends in seconds, exit != 0, stderr names rank, file,
#                         dataset and the global example index
# tests/mpi/memory.sh (peak RSS per rank, N = 1 vs 4 on 60000x784) is a script to
# run by hand, not a ctest.
set(DNN_MPI_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/mpi)
set(DNN_MPI_TEST_ARGS --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC})

foreach(np 1 2 3 4)
  add_test(NAME mpi_consistency_np${np}
    COMMAND ${DNN_PYTHON} ${DNN_MPI_TEST_DIR}/consistency.py ${DNN_MPI_TEST_ARGS} --np ${np})
  set_tests_properties(mpi_consistency_np${np} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "mpi")
endforeach()

add_test(NAME mpi_empty_ranks
  COMMAND ${DNN_PYTHON} ${DNN_MPI_TEST_DIR}/empty_ranks.py ${DNN_MPI_TEST_ARGS} --np 2 --np 3 --np 4)
add_test(NAME mpi_bad_rank
  COMMAND ${DNN_PYTHON} ${DNN_MPI_TEST_DIR}/bad_rank.py ${DNN_MPI_TEST_ARGS} --np 3 --np 4)
set_tests_properties(mpi_empty_ranks mpi_bad_rank PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "mpi")

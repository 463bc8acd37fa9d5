# Integrity tests (owner: integrity; README, What happens when things go wrong).  Scripts in tests/integrity/,
# run with /usr/bin/python3 (numpy, h5py), sharing tests/mpi/dnnt.py; every
# program inside runs under a timeout.  One PASS/FAIL line per case.
#
#   integrity_checksums     every dataset of checkpoints and prediction files
#                           carries a Fletcher32 checksum; a flipped weight is
#                           refused by --resume and dnn-predict naming the
#                           dataset; NaN/Inf named with their index, not as
#                           divergence; files without checksums load with a note
#   integrity_h5py_inputs   bool/enum, float16, big-endian, chunked gzip/shuffle/
#                           Fletcher32 inputs train bitwise the same W/b as plain
#                           arrays; lzf is refused naming lzf and its id 32000
#   integrity_output_paths  --checkpoint, --best-checkpoint, --metrics (N = 1, 3)
#                           and dnn-predict --output in a missing, a file or a
#                           read-only folder fail within 5 s, before training
#                           (77 = no read-only mechanism here: skipped)
set(DNN_INTEGRITY_DIR ${CMAKE_CURRENT_LIST_DIR}/integrity)
set(DNN_INTEGRITY_ARGS --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict>
    --mpiexec ${DNN_MPIEXEC})
foreach(t checksums h5py_inputs output_paths)
  add_test(NAME integrity_${t} COMMAND ${DNN_PYTHON} ${DNN_INTEGRITY_DIR}/${t}.py ${DNN_INTEGRITY_ARGS})
  set_tests_properties(integrity_${t} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 240 SKIP_RETURN_CODE 77 LABELS "integrity")
endforeach()

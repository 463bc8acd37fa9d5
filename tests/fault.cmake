# Fault injection (owner: testsuite).  tests/fault/fsync_shim.c is an
# LD_PRELOAD library that logs the open/write/fsync/close/rename/unlink calls
# on the files being written and can make fsync fail; fsync_fault.py runs
# the programs under it:
#   fault_fsync_checkpoint   the checkpoint is written to NAME.tmp, fsynced
#                            after its last write, closed, then renamed (and
#                            the folder fsynced); a failing fsync (EIO,
#                            ENOSPC; at the end, periodically, and on rank 0
#                            of 2) exits 1 naming the file, removes NAME.tmp
#                            and keeps the previous checkpoint byte for byte
#   fault_fsync_writers      the same order and the same refusal for every
#                            other writer (atomic.h): --best-checkpoint,
#                            dnn-predict --output (.h5 and .csv), dnn-export
#                            --onnx, dnn-sweep's summary.csv and summary.md,
#                            dnn-predict's --report, --misclassified and
#                            --confusion-png; and under short and interrupted
#                            writes (7 bytes, EINTR between) the same bytes
# Not under DNN_SANITIZE: a preloaded library would come before ASan's runtime.
if(NOT DNN_SANITIZE)
  add_library(dnn_fsync_shim SHARED ${CMAKE_CURRENT_LIST_DIR}/fault/fsync_shim.c)
  target_link_libraries(dnn_fsync_shim PRIVATE ${CMAKE_DL_LIBS})
  add_test(NAME fault_fsync_checkpoint
    COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/fault/fsync_fault.py
            --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC}
            --only order --only periodic --only fail_)
  set_tests_properties(fault_fsync_checkpoint PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV};DNN_FSYNC_SHIM=$<TARGET_FILE:dnn_fsync_shim>"
    TIMEOUT 180 LABELS "fault;ckpt")
  set(DNN_FSYNC_WRITERS --only w_best --only w_pred --only w_report --only w_sweep --only w_short)
  if(TARGET dnn-export)
    list(APPEND DNN_FSYNC_WRITERS --only w_export --export $<TARGET_FILE:dnn-export>)
  endif()
  add_test(NAME fault_fsync_writers
    COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/fault/fsync_fault.py
            --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict>
            --sweep $<TARGET_FILE:dnn-sweep> ${DNN_FSYNC_WRITERS})
  set_tests_properties(fault_fsync_writers PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV};DNN_FSYNC_SHIM=$<TARGET_FILE:dnn_fsync_shim>"
    TIMEOUT 180 LABELS "fault;ckpt")
endif()

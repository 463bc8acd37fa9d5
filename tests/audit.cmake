# Tests of issue 25 (owner: tests): behaviours a user would notice, each test
# naming the behaviour in its failure message.  Scripts in tests/audit/, run
# with /usr/bin/python3 and tests/mpi/dnnt.py; tests/test_log.c is unit_log.
#   audit_resume        --resume restores the best dev cost and the patience
#                       counter, writes no metrics row twice, refuses another --scale
#   audit_inputs        --standardize of a constant feature and of sums too large
#                       to add exactly, sigmoid labels 0.5, --rng numpy seeds
#                       >= 2^32, a damaged chunk index, whom an error blames
#                       (--gradient-check; audit_rank_blame_np2: which rank)
#   audit_tools         dnn-sweep's grid-line blame and --jobs cap, dnn-predict's
#                       mse and multi-label accuracy, dnn-export's source_sha256,
#                       ms_per_epoch
#   audit_export_fsync  dnn-export fsyncs before its rename (LD_PRELOAD shim)
#   audit_sample        what tests/mutation/sample.py found unguarded (the
#                       cases are listed in tests/audit/sample_audit.py)
set(DNN_AUDIT_DIR ${CMAKE_CURRENT_LIST_DIR}/audit)
set(DNN_AUDIT_ARGS --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict> --mpiexec ${DNN_MPIEXEC})
set(DNN_AUDIT_ENV "${DNN_TEST_ENV};DNN_SWEEP=$<TARGET_FILE:dnn-sweep>;DNN_EXPORT=$<TARGET_FILE:dnn-export>")
add_test(NAME audit_resume COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/resume_audit.py ${DNN_AUDIT_ARGS})
add_test(NAME audit_inputs COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/inputs_audit.py ${DNN_AUDIT_ARGS}
  --only help_defaults --only minibatch --only standardize --only sigmoid --only numpy --only damaged --only gradcheck)
add_test(NAME audit_rank_blame_np2 COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/inputs_audit.py ${DNN_AUDIT_ARGS}
  --only rank_blame)
add_test(NAME audit_tools COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/tools_audit.py ${DNN_AUDIT_ARGS})
add_test(NAME audit_sample COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/sample_audit.py ${DNN_AUDIT_ARGS})
set_tests_properties(audit_resume audit_inputs audit_rank_blame_np2 audit_tools audit_sample PROPERTIES
  ENVIRONMENT "${DNN_AUDIT_ENV}" TIMEOUT 120 LABELS "audit")
set_tests_properties(audit_rank_blame_np2 PROPERTIES LABELS "audit;mpi")
set_tests_properties(unit_log PROPERTIES LABELS "unit;audit" TIMEOUT 30)
if(NOT DNN_SANITIZE) # a preloaded library would come before ASan's runtime
  add_test(NAME audit_export_fsync COMMAND ${DNN_PYTHON} ${DNN_AUDIT_DIR}/tools_audit.py ${DNN_AUDIT_ARGS})
  set_tests_properties(audit_export_fsync PROPERTIES
    ENVIRONMENT "${DNN_AUDIT_ENV};DNN_FSYNC_SHIM=$<TARGET_FILE:dnn_fsync_shim>" TIMEOUT 60 LABELS "audit;fault")
endif()

# Multi-host tests (owner: multihost): ranks on 2 or 3 "hosts" made as network
# namespaces with their own hostnames and files, joined by veth pairs or a
# bridge on the private subnet 10.213.0.0/24 that exists only inside them,
# started through launch/multinode/run.sh over TCP (tests/multihost/mh.py,
# README, Cluster use).  They need root; not root -> exit 77 (skipped); as root a test
# bed that cannot be made is a failure.  Each test removes its namespaces on
# exit (also on failure, SIGINT, SIGTERM) and sweeps orphans of dead runs.
#   multihost_consistency   2 and 3 hosts = one process (bitwise --deterministic, 1e-6 default)
#   multihost_kill_resume   SIGKILL of a rank on host 2: job ends < 30 s with a message;
#                           --resume on another host count = uninterrupted run, bitwise
#   multihost_unreachable   no host at an address / link down / bridge port down: clear error < 30 s
#   multihost_missing_data  data file missing on host 2 only: exit 1 naming rank 1, host and path
#   multihost_cleanup       failing / SIGTERM / SIGINT runs leave no namespace; SIGKILL orphans swept
set(DNN_MH_DIR ${CMAKE_CURRENT_LIST_DIR}/multihost)
foreach(c consistency kill_resume unreachable missing_data cleanup)
  add_test(NAME multihost_${c}
    COMMAND ${DNN_PYTHON} ${DNN_MH_DIR}/multihost.py --train $<TARGET_FILE:dnn-train> --case ${c})
  set_tests_properties(multihost_${c} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV};DNN_BIN=$<TARGET_FILE_DIR:dnn-train>" TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "multihost")
endforeach()
# the kill must land mid-run: not next to other jobs competing for the cores
set_tests_properties(multihost_kill_resume PROPERTIES RUN_SERIAL TRUE)

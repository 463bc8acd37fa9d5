# End-to-end acceptance tests of the core trainer against an independent
# numpy reference (tests/ref/) and the course's planar lesson (tests/e2e/).
# Included by tests/CMakeLists.txt, which defines DNN_PYTHON, DNN_MPIEXEC and
# DNN_TEST_ENV.  Every script prints one PASS/FAIL line per case and a closing
# "N passed, M failed" line, and exits non-zero when a case failed.

set(DNN_E2E_DIR ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
set(DNN_REF_DIR ${CMAKE_CURRENT_SOURCE_DIR}/ref)

# The reference checks itself first: analytic gradients vs central differences.
add_test(NAME ref_numpy_selfcheck COMMAND ${DNN_PYTHON} ${DNN_REF_DIR}/check_ref.py)

# dnn-train --precision double == numpy float64, relative 1e-9 (costs and W/b):
# dnn_numpy_compare(NAME ARGS...) runs tests/e2e/compare_numpy.py with ARGS.
function(dnn_numpy_compare name)
  add_test(NAME ${name}
    COMMAND ${DNN_PYTHON} ${DNN_E2E_DIR}/compare_numpy.py --train $<TARGET_FILE:dnn-train> ${ARGN})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "e2e")
endfunction()
# on N ranks; the conditioning probe already ran in the single-process test
set(DNN_NP2 --launcher "${DNN_MPIEXEC} -n 2 --oversubscribe" --no-probe)
set(DNN_NP3 --launcher "${DNN_MPIEXEC} -n 3 --oversubscribe" --no-probe)

set(DNN_E2E_ACT_CASES --case sigmoid --case tanh --case relu)
dnn_numpy_compare(e2e_numpy_hidden_activations ${DNN_E2E_ACT_CASES})
dnn_numpy_compare(e2e_numpy_hidden_activations_mpi3 ${DNN_NP3} ${DNN_E2E_ACT_CASES})
set(DNN_E2E_MORE_CASES --case softmax --case mse --case logreg --case linear_hidden
    --case labels_m1 --case labels_1m --case uint8_scale)
dnn_numpy_compare(e2e_numpy_losses_and_inputs ${DNN_E2E_MORE_CASES})
dnn_numpy_compare(e2e_numpy_losses_and_inputs_mpi2 ${DNN_NP2} ${DNN_E2E_MORE_CASES})

# Mini-batches (README, Data-parallel training and determinism) against the same reference: the per-epoch
# permutation reimplemented in Python, partial last batches, each loss, --epochs,
# --deterministic; on 3 ranks the batches are split over uneven shards.
set(DNN_E2E_MB_CASES --case mb_sigmoid --case mb_softmax --case mb_mse --case mb_epochs
    --case mb_deterministic)
dnn_numpy_compare(e2e_numpy_minibatch ${DNN_E2E_MB_CASES})
dnn_numpy_compare(e2e_numpy_minibatch_mpi3 ${DNN_NP3} ${DNN_E2E_MB_CASES})

# The optimizers, L2, clipping and learning-rate schedules (README, Course 2: optimizers, regularization, schedules, dev sets; issue
# 10 acceptance 1) against the reference written from the update rules alone, in full batch
# and in the same mini-batches, 500 steps, 1e-9; the conditioning probe guards
# each case.  On 3 ranks a subset (every rule appears in it).
dnn_numpy_compare(e2e_numpy_optimizers --case opt_momentum --case opt_rmsprop --case opt_adam
    --case opt_adamw --case opt_l2 --case opt_clip --case opt_inverse --case opt_exponential
    --case opt_step --case opt_cosine --case opt_adam_all)
dnn_numpy_compare(e2e_numpy_optimizers_minibatch --case mb_opt_momentum --case mb_opt_rmsprop
    --case mb_opt_adam --case mb_opt_adamw --case mb_opt_l2 --case mb_opt_clip
    --case mb_opt_inverse --case mb_opt_exponential --case mb_opt_step --case mb_opt_cosine
    --case mb_opt_adam_all --case opt_softmax_adam --case opt_mse_momentum)
dnn_numpy_compare(e2e_numpy_optimizers_mpi3 ${DNN_NP3} --case opt_adam_all
    --case mb_opt_adam_all --case mb_opt_adamw --case mb_opt_rmsprop --case mb_opt_momentum
    --case mb_opt_cosine --case mb_opt_exponential --case mb_opt_inverse --case opt_softmax_adam)

# Dev sets (README, Course 2: optimizers, regularization, schedules, dev sets): --validation-split by the README's hash (reimplemented
# in tests/ref/ref_rng.py) or a separate file; val_cost/val_accuracy at every
# record and in the final line against numpy; --early-stopping and the best
# checkpoint against the reference's rule; on 3 ranks the split is the same.
set(DNN_E2E_DEV_CASES --case dev_split --case dev_file --case mb_dev_split
    --case mb_dev_split_adam --case dev_early_stop --case mb_dev_early_stop)
dnn_numpy_compare(e2e_numpy_devset ${DNN_E2E_DEV_CASES})
dnn_numpy_compare(e2e_numpy_devset_mpi3 ${DNN_NP3} ${DNN_E2E_DEV_CASES})

# Dropout (README, Course 2: optimizers, regularization, schedules, dev sets) against the reference: masks from the counter-based
# generator of include/dnn/rng.h reimplemented in numpy, full batch, mini-batch,
# softmax, Adam with a dev split; on 3 ranks the masks do not depend on N.
set(DNN_E2E_DROP_CASES --case drop --case mb_drop --case mb_drop_softmax
    --case mb_drop_adam_split)
dnn_numpy_compare(e2e_numpy_dropout ${DNN_E2E_DROP_CASES})
dnn_numpy_compare(e2e_numpy_dropout_mpi3 ${DNN_NP3} ${DNN_E2E_DROP_CASES})

# --deterministic against exact arithmetic: chunk sums quantized as documented,
# summed with fractions.Fraction and rounded once, matched bit for bit.
add_test(NAME e2e_deterministic_exact
  COMMAND ${DNN_PYTHON} ${DNN_E2E_DIR}/deterministic_exact.py --train $<TARGET_FILE:dnn-train>)
add_test(NAME e2e_deterministic_exact_mpi3
  COMMAND ${DNN_PYTHON} ${DNN_E2E_DIR}/deterministic_exact.py --train $<TARGET_FILE:dnn-train>
          --launcher "${DNN_MPIEXEC} -n 3 --oversubscribe")

# The course's planar lesson: 4 tanh units >= 0.90 and the numpy cost curve,
# logistic regression in [0.45, 0.50) and its cost curve.
if(TARGET dnn-planar)
  add_test(NAME e2e_planar_lesson
    COMMAND bash ${DNN_E2E_DIR}/planar_lesson.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON}
            $<TARGET_FILE:dnn-planar>)
  add_test(NAME e2e_planar_generator_matches_numpy
    COMMAND ${DNN_PYTHON} ${DNN_E2E_DIR}/check_planar_generator.py $<TARGET_FILE:dnn-planar>)
  set_tests_properties(e2e_planar_generator_matches_numpy PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 60 LABELS "e2e")
else()
  add_test(NAME e2e_planar_lesson
    COMMAND bash ${DNN_E2E_DIR}/planar_lesson.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON})
endif()

add_test(NAME e2e_single_vs_double
  COMMAND bash ${DNN_E2E_DIR}/single_vs_double.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON})

add_test(NAME e2e_bad_input
  COMMAND bash ${DNN_E2E_DIR}/bad_input.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON})
add_test(NAME e2e_bad_input_mpi2
  COMMAND bash ${DNN_E2E_DIR}/bad_input.sh $<TARGET_FILE:dnn-train> ${DNN_PYTHON}
          "${DNN_MPIEXEC} -n 2 --oversubscribe")

# --deterministic mini-batch: W/b and optimizer-state SHA-256 equal for N = 1..4
# ranks x 1, 2 threads at batch 64 and 256 (Adam, dropout), a resume from 2
# ranks onto 3, the default mode's gradient in double, the note for an older
# checkpoint, bf16 (README "Data-parallel training and determinism").
# Three ctests of about 10 s each (--only selects the cases).
foreach(part b64 b256 more)
  if(part STREQUAL "more")
    set(_only --only resume --only rounds --only right_gradient --only older --only bf16)
  else()
    set(_only --only groups_${part}_)
  endif()
  add_test(NAME e2e_deterministic_bitwise_${part}
    COMMAND ${DNN_PYTHON} ${DNN_E2E_DIR}/det_bitwise.py --train $<TARGET_FILE:dnn-train> --mpiexec ${DNN_MPIEXEC}
            ${_only})
  set_tests_properties(e2e_deterministic_bitwise_${part} PROPERTIES
    ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "e2e;mpi")
endforeach()
# batch 256 covers both sums (one pass on one rank, the totals on several):
# also under every OpenBLAS kernel type (.ci/run, label "bitwise")
set_property(TEST e2e_deterministic_bitwise_b256 APPEND PROPERTY LABELS bitwise)

set_tests_properties(ref_numpy_selfcheck PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "ref")
set_tests_properties(e2e_deterministic_exact e2e_deterministic_exact_mpi3
  e2e_planar_lesson e2e_single_vs_double PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "e2e")
set_tests_properties(e2e_bad_input e2e_bad_input_mpi2 PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 600 LABELS "e2e")

# include/dnn/exact.h against fractions.Fraction on its documented format:
# integer parts and the once-rounded value, bit for bit.
add_executable(exact_sum ${CMAKE_CURRENT_LIST_DIR}/exact/exact_sum.c)
target_link_libraries(exact_sum PRIVATE dnn)
add_test(NAME ref_exact_sums
  COMMAND ${DNN_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/exact/check_exact.py $<TARGET_FILE:exact_sum>)
set_tests_properties(ref_exact_sums PROPERTIES ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 120 LABELS "ref")

# libFuzzer target for dnn-train's option and config parsers (tests/fuzz/).
# run_fuzz.sh builds it with clang itself (not with the project's compiler)
# and exits 77 -- reported as skipped -- when clang cannot link
# -fsanitize=fuzzer (Debian: clang and libclang-rt-14-dev).
add_test(NAME fuzz_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh 30 ${CMAKE_CURRENT_BINARY_DIR}/fuzz_cli)
set_tests_properties(fuzz_cli PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV};DNN_FUZZ_LIBS=$<TARGET_FILE:dnn> $<TARGET_FILE:dnn_core>" TIMEOUT 150 SKIP_RETURN_CODE 77 LABELS "fuzz")

# libFuzzer target for the checkpoint reader (tests/fuzz/fuzz_ckpt.c): HDF5
# file images mutated from tests/fuzz/corpus_ckpt/, opened in memory with the
# core driver; regressions_ckpt/ replayed first.  30 s, like fuzz_cli.
add_test(NAME fuzz_ckpt
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh 30 ${CMAKE_CURRENT_BINARY_DIR}/fuzz_ckpt ckpt)
set_tests_properties(fuzz_ckpt PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV};DNN_FUZZ_LIBS=$<TARGET_FILE:dnn> $<TARGET_FILE:dnn_core>" TIMEOUT 150 SKIP_RETURN_CODE 77 LABELS "fuzz")

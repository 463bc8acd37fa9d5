# Install, package and export tests (owner: install).  Scripts in
# tests/install/, run with /usr/bin/python3 (numpy, h5py; onnx for the
# export), sharing tests/install/itest.py.  Label: install.
#
#   install_consumers   cmake --install into a temporary prefix; the README's C
#                       program built by a find_package(dnn) project and by a
#                       pkg-config Makefile; their outputs (and the README's
#                       Python snippet) equal dnn-predict's (1e-6 / 1e-12)
set(DNN_INSTALL_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/install)
set(DNN_INSTALL_TEST_ARGS --build ${CMAKE_BINARY_DIR} --source ${CMAKE_SOURCE_DIR}
    --train $<TARGET_FILE:dnn-train> --predict $<TARGET_FILE:dnn-predict>)

add_test(NAME install_consumers
  COMMAND ${DNN_PYTHON} -B ${DNN_INSTALL_TEST_DIR}/consumer.py ${DNN_INSTALL_TEST_ARGS})
set_tests_properties(install_consumers PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "install" SKIP_RETURN_CODE 77)

#   install_manpages    man -l renders every installed page; every option (and
#                       its text) of each program's --help is in its page
add_test(NAME install_manpages
  COMMAND ${DNN_PYTHON} -B ${DNN_INSTALL_TEST_DIR}/manpage.py ${DNN_INSTALL_TEST_ARGS})
set_tests_properties(install_manpages PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "install" SKIP_RETURN_CODE 77)

#   install_onnx_export dnn-export of every output kind and hidden activation,
#                       with and without --scale/--standardize: onnx.checker
#                       (full_check) accepts each, and a numpy evaluation of
#                       the graph's nodes equals dnn-predict (1e-5)
# Without protoc-c there is no dnn-export, and the test reports a skip (77).
set(DNN_EXPORT_ARG)
if(TARGET dnn-export)
  set(DNN_EXPORT_ARG --export $<TARGET_FILE:dnn-export>)
endif()
add_test(NAME install_onnx_export
  COMMAND ${DNN_PYTHON} -B ${DNN_INSTALL_TEST_DIR}/onnx_export.py ${DNN_INSTALL_TEST_ARGS} ${DNN_EXPORT_ARG})
set_tests_properties(install_onnx_export PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 300 LABELS "install" SKIP_RETURN_CODE 77)

#   install_native_off  a -DDNN_NATIVE=OFF tree (in the build folder) builds
#                       with -Werror, passes the unit suites, and trains the
#                       same parameters as this build, bit for bit
add_test(NAME install_native_off
  COMMAND bash ${DNN_INSTALL_TEST_DIR}/native_off.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/native-off)
set_tests_properties(install_native_off PROPERTIES
  ENVIRONMENT "${DNN_TEST_ENV}" TIMEOUT 600 LABELS "install")

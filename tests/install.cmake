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

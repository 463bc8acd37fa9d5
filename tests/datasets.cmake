# Numpy-reference tests for the rng module and the dataset tools (owner: h2).
#   numpy_rng        dnn's --rng numpy stream == numpy's RandomState, bitwise,
#                    seeds 0, 1, 3, 12345, 200000 normals/uniforms/mixed each
#   numpy_planar     dnn-planar's points == numpy's recipe, bitwise
#   fashion_mnist    dnn-fashion-mnist == numpy reading the IDX files, and its
#                    error handling (only when dataset-fashion-mnist is installed)
add_executable(rng_dump ${CMAKE_CURRENT_LIST_DIR}/rng_numpy/rng_dump.c)
target_link_libraries(rng_dump PRIVATE dnn)

set(DNN_RNG_NUMPY_DIR ${CMAKE_CURRENT_LIST_DIR}/rng_numpy)

add_test(NAME numpy_rng
  COMMAND ${DNN_PYTHON} ${DNN_RNG_NUMPY_DIR}/compare_rng.py $<TARGET_FILE:rng_dump>
          ${CMAKE_CURRENT_BINARY_DIR}/numpy_rng --n 200000 --seeds 0,1,3,12345)
set_tests_properties(numpy_rng PROPERTIES TIMEOUT 120 ENVIRONMENT "${DNN_TEST_ENV}")

add_test(NAME numpy_planar
  COMMAND ${DNN_PYTHON} ${DNN_RNG_NUMPY_DIR}/compare_planar.py $<TARGET_FILE:dnn-planar>
          ${CMAKE_CURRENT_BINARY_DIR}/numpy_planar)
set_tests_properties(numpy_planar PROPERTIES TIMEOUT 120 ENVIRONMENT "${DNN_TEST_ENV}")

set(DNN_FASHION_MNIST_SRC /usr/share/datasets/fashion-mnist)
if(EXISTS ${DNN_FASHION_MNIST_SRC}/train-images-idx3-ubyte.gz)
  add_test(NAME fashion_mnist
    COMMAND ${DNN_PYTHON} ${DNN_RNG_NUMPY_DIR}/check_fashion_mnist.py
            $<TARGET_FILE:dnn-fashion-mnist> ${CMAKE_CURRENT_BINARY_DIR}/fashion_mnist
            ${DNN_FASHION_MNIST_SRC})
  set_tests_properties(fashion_mnist PROPERTIES TIMEOUT 300 ENVIRONMENT "${DNN_TEST_ENV}")
else()
  message(STATUS "fashion_mnist test skipped: ${DNN_FASHION_MNIST_SRC} not found "
                 "(apt-get install dataset-fashion-mnist)")
endif()

# Python and pybind11 for the extension module; scikit-build-core supplies both at build time.
find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)
find_package(pybind11 CONFIG REQUIRED)

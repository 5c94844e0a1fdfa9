# OpenMP is optional: without it fastconv builds and runs single-threaded.
# It is linked dynamically, so a process that also loads another runtime shares one.
add_library(fastconv_openmp INTERFACE)
find_package(OpenMP COMPONENTS CXX)
if(OpenMP_CXX_FOUND)
  target_link_libraries(fastconv_openmp INTERFACE OpenMP::OpenMP_CXX)
else()
  message(WARNING "fastconv: OpenMP not found, building single-threaded")
endif()

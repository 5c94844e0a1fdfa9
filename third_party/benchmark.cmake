# Google Benchmark for the C++ benchmark programs (Debian: libbenchmark-dev; or any install
# that provides benchmarkConfig.cmake).
find_package(benchmark REQUIRED)

# Per-ISA kernel files. Each list is compiled with its ISA's flags and nothing else is;
# FASTCONV_HAVE_<ISA> tells the kernel table which ones exist in this build.
include(CheckCXXCompilerFlag)
set(_fastconv_kernels ${CMAKE_CURRENT_LIST_DIR})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$" AND NOT MSVC)
  check_cxx_compiler_flag("-mavx2 -mfma" FASTCONV_COMPILER_AVX2)
  if(FASTCONV_COMPILER_AVX2)
    set(_avx2_sources ${_fastconv_kernels}/avx2/gemm_avx2.cpp ${_fastconv_kernels}/avx2/peak_avx2.cpp
                      ${_fastconv_kernels}/avx2/depthwise_avx2.cpp ${_fastconv_kernels}/avx2/row_dot_avx2.cpp
                      ${_fastconv_kernels}/avx2/winograd_avx2.cpp)
    target_sources(fastconv_objects PRIVATE ${_avx2_sources})
    set_source_files_properties(${_avx2_sources} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
    # The transforms get no multiply-adds but the written ones: which products the compiler
    # fuses depends on what it inlines, and the weight transform's whole and partial calls,
    # inlined apart, must round alike (plans with prepared weights match, bit for bit, the calls
    # that transform them on the fly).
    set_property(SOURCE ${_fastconv_kernels}/avx2/winograd_avx2.cpp APPEND PROPERTY COMPILE_OPTIONS -ffp-contract=off)
    target_compile_definitions(fastconv_objects PRIVATE FASTCONV_HAVE_AVX2=1)
  endif()
  # AVX-512 (F, BW, VL, DQ; those CPUs all have AVX2, whose pack the files share). With
  # FASTCONV_EMULATE_AVX512, a development build, they are built for AVX2 instead, each zmm
  # register two ymm ones, so that their logic is tested on machines without AVX-512.
  set(_avx512_flags "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mfma")
  if(FASTCONV_EMULATE_AVX512)
    set(_avx512_flags "-mavx2;-mfma")
    target_compile_definitions(fastconv_objects PRIVATE FASTCONV_EMULATE_AVX512=1)
  endif()
  check_cxx_compiler_flag("-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma" FASTCONV_COMPILER_AVX512)
  if(FASTCONV_COMPILER_AVX2 AND FASTCONV_COMPILER_AVX512)
    set(_avx512_sources ${_fastconv_kernels}/avx512/gemm_avx512.cpp ${_fastconv_kernels}/avx512/peak_avx512.cpp
                        ${_fastconv_kernels}/avx512/row_dot_avx512.cpp)
    set(_avx512_loops ${_fastconv_kernels}/avx512/winograd_avx512.cpp)  # vectorised by the compiler
    set(_avx512_weights ${_fastconv_kernels}/avx512/winograd_weights_avx512.cpp)
    target_sources(fastconv_objects PRIVATE ${_avx512_sources} ${_avx512_loops} ${_avx512_weights})
    set_source_files_properties(${_avx512_sources} PROPERTIES COMPILE_OPTIONS "${_avx512_flags}")
    # as AVX2's transforms: the wide weight kernel rounds as AVX2's 8-filter one (same bits)
    set_source_files_properties(${_avx512_weights} PROPERTIES COMPILE_OPTIONS "${_avx512_flags};-ffp-contract=off")
    # compilers default to 256-bit vectors for AVX-512 targets; these loops are written for 512
    check_cxx_compiler_flag("-mprefer-vector-width=512" FASTCONV_COMPILER_VECTOR_WIDTH)
    if(FASTCONV_COMPILER_VECTOR_WIDTH AND NOT FASTCONV_EMULATE_AVX512)
      set_source_files_properties(${_avx512_loops} PROPERTIES COMPILE_OPTIONS "${_avx512_flags};-mprefer-vector-width=512")
    else()
      set_source_files_properties(${_avx512_loops} PROPERTIES COMPILE_OPTIONS "${_avx512_flags}")
    endif()
    target_compile_definitions(fastconv_objects PRIVATE FASTCONV_HAVE_AVX512=1)
  endif()
endif()

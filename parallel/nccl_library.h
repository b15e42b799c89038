// NCCL's entry points, loaded on first use with dlopen("libnccl.so.2")
// rather than linked: the library is over 200 MB and only multi-GPU runs need
// it, so ponder starts (and runs on one GPU or on CPUs) where it is absent.
// The loader finds it the usual ways (LD_LIBRARY_PATH, the ld.so cache),
// else where CMake found it when ponder was built.
//
// Thread-safe: the first call loads, every call returns the same result.
#pragma once

#include <string>

#include <nccl.h>

namespace ponder {

struct NcclLibrary {
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRank) comm_init_rank;
  decltype(&ncclCommDestroy) comm_destroy;
  decltype(&ncclCommAbort) comm_abort;
  decltype(&ncclAllReduce) all_reduce;
  decltype(&ncclGetErrorString) error_string;
};

// The loaded library, or nullptr when it cannot be loaded; then `why` (if
// given) says what the loader said and how to install NCCL.
const NcclLibrary* nccl_library(std::string* why = nullptr);

}  // namespace ponder

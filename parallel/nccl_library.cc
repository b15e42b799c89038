#include "parallel/nccl_library.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace ponder {
namespace {

struct Loaded {
  NcclLibrary library{};
  bool ok = false;
  std::string why;
};

template <typename F>
bool resolve(void* handle, const char* name, F& out, std::string& why) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (out == nullptr) why = fmt::format("libnccl.so.2 has no `{}` (NCCL too old?)", name);
  return out != nullptr;
}

Loaded load() {
  Loaded loaded;
  void* handle = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
#ifdef PONDER_NCCL_BUILD_PATH
  if (handle == nullptr) handle = dlopen(PONDER_NCCL_BUILD_PATH, RTLD_NOW | RTLD_LOCAL);
#endif
  if (handle == nullptr) {
    loaded.why = fmt::format(
        "{}; install NCCL (apt-get install libnccl2, or pip install nvidia-nccl-cu13) or add its "
        "folder to LD_LIBRARY_PATH",
        dlerror());
    return loaded;
  }
  NcclLibrary& l = loaded.library;
  loaded.ok = resolve(handle, "ncclGetUniqueId", l.get_unique_id, loaded.why) &&
              resolve(handle, "ncclCommInitRank", l.comm_init_rank, loaded.why) &&
              resolve(handle, "ncclCommDestroy", l.comm_destroy, loaded.why) &&
              resolve(handle, "ncclCommAbort", l.comm_abort, loaded.why) &&
              resolve(handle, "ncclAllReduce", l.all_reduce, loaded.why) &&
              resolve(handle, "ncclGetErrorString", l.error_string, loaded.why);
  return loaded;
}

}  // namespace

const NcclLibrary* nccl_library(std::string* why) {
  static const Loaded loaded = load();  // C++ makes the first call's load thread-safe
  if (!loaded.ok && why != nullptr) *why = loaded.why;
  return loaded.ok ? &loaded.library : nullptr;
}

}  // namespace ponder

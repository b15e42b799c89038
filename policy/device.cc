#include "policy/device.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#ifdef PONDER_HAVE_CUDA
#include "policy/cuda/cuda_backend.h"
#endif

namespace ponder {
namespace {

#ifdef PONDER_HAVE_CUDA
// This process's index among the ranks of its node, as the launcher set it
// (OpenMPI's mpirun, Slurm's srun, MPICH's hydra); 0 for a lone process. One
// process per GPU means rank r of a node drives GPU r.
int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"}) {
    if (const char* value = std::getenv(name)) return std::max(0, std::atoi(value));
  }
  return 0;
}

std::unique_ptr<Backend<float>> make_cuda_backend(const DeviceChoice& choice, int devices) {
  if (choice.precision != "bf16" && choice.precision != "fp32") {
    throw Error(fmt::format("precision `{}` is not one of bf16, fp32", choice.precision));
  }
  return std::make_unique<CudaBackend>(
      choice.precision == "bf16" ? CudaPrecision::kBf16 : CudaPrecision::kFp32,
      local_rank() % devices);
}
#endif

}  // namespace

int cuda_device_count(std::string* why) {
#ifdef PONDER_HAVE_CUDA
  return CudaBackend::device_count(why);
#else
  if (why != nullptr)
    *why =
        "this build of ponder has no CUDA backend (configured with PONDER_CUDA=OFF or without the "
        "CUDA toolkit)";
  return 0;
#endif
}

std::unique_ptr<Backend<float>> make_backend(const DeviceChoice& choice) {
  if (choice.device == "cpu") return std::make_unique<CpuBackend<float>>();
  if (choice.device != "cuda" && choice.device != "auto") {
    throw Error(
        fmt::format("{} = \"{}\" is not one of auto, cpu, cuda", choice.source, choice.device));
  }
  std::string why;
#ifdef PONDER_HAVE_CUDA
  if (const int devices = cuda_device_count(&why); devices > 0) {
    return make_cuda_backend(choice, devices);
  }
#else
  cuda_device_count(&why);
#endif
  if (choice.device == "cuda") {
    throw Error(
        fmt::format("{} = \"cuda\" but no CUDA device can be used: {}", choice.source, why));
  }
  static std::once_flag said;
  std::call_once(said, [&] {
    std::fprintf(stderr, "ponder: %s = \"auto\": no CUDA device (%s); using the CPU\n",
                 choice.source.c_str(), why.c_str());
  });
  return std::make_unique<CpuBackend<float>>();
}

}  // namespace ponder

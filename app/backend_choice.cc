#include "app/backend_choice.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "policy/error.h"

#ifdef PONDER_NCCL_SYNC
#include "parallel/nccl_gradient_sync.h"
#include "policy/cuda/cuda_backend.h"
#endif

namespace ponder {

DeviceChoice device_choice(const Config& config) {
  return {.device = config.get_string("run.device"),
          .precision = config.get_string("run.precision"),
          .source = "run.device"};
}

std::unique_ptr<Backend<float>> make_backend(const Config& config) {
  return make_backend(device_choice(config));
}

namespace {

// This rank's GPU as NCCL tells GPUs apart: a hash of the host name and the
// device's PCI bus id; 0 for a backend that is not a CUDA one, a build
// without the NCCL sync, or a machine where NCCL cannot be loaded.
uint64_t gpu_identity([[maybe_unused]] Backend<float>& backend) {
#ifdef PONDER_NCCL_SYNC
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) {
    std::string why;
    if (nccl_library(&why) == nullptr) {
      fmt::print(stderr,
                 "ponder: NCCL could not be loaded ({}); gradients are summed through "
                 "host memory over MPI\n",
                 why);
      return 0;
    }
    char bus[64] = {};
    char host[256] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), cuda->device()) != cudaSuccess) {
      throw Error(fmt::format("cannot read the PCI bus id of CUDA device {}", cuda->device()));
    }
    gethostname(host, sizeof(host) - 1);
    return std::hash<std::string>{}(std::string(host) + "/" + bus) | 1;  // never 0
  }
#endif
  return 0;
}

}  // namespace

std::unique_ptr<GradientSync> make_gradient_sync([[maybe_unused]] const Config& config,
                                                 Communicator& comm, Backend<float>& backend,
                                                 Model<float>& model) {
  if (comm.size() == 1) return nullptr;
  const size_t count = model.num_parameters();
  // Every rank takes the same branch of the NCCL decision, which is a
  // collective: NCCL only when every rank drives a GPU of its own.
  const std::vector<uint64_t> gpus = comm.all_gather(gpu_identity(backend));
  const bool all_gpus = std::find(gpus.begin(), gpus.end(), 0) == gpus.end();
  const bool distinct = std::set<uint64_t>(gpus.begin(), gpus.end()).size() == gpus.size();
#ifdef PONDER_NCCL_SYNC
  if (all_gpus && distinct) {
    auto& cuda = dynamic_cast<CudaBackend&>(backend);
    const auto bucket_bytes = static_cast<size_t>(config.get_int("run.grad_bucket_mb")) << 20;
    return std::make_unique<NcclGradientSync>(comm, cuda.device(), cuda.stream(), model.grads(),
                                              count, bucket_bytes / sizeof(float));
  }
#endif
  if (all_gpus && !distinct && comm.is_root()) {
    fmt::print(stderr,
               "ponder: several ranks share a GPU; NCCL needs one GPU per rank, so gradients are "
               "summed through host memory over MPI (docs/SCALING.md)\n");
  }
  if (backend.memory_is_host()) {
    return std::make_unique<HostGradientSync>(comm, std::span<float>(model.grads(), count));
  }
  return std::make_unique<StagedGradientSync>(comm, backend, model.grads(), count);
}

void add_device_option(CLI::App* command, std::vector<std::string>& overrides) {
  command
      ->add_option_function<std::string>(
          "--device",
          [&overrides](const std::string& device) { overrides.push_back("run.device=" + device); },
          "auto, cpu or cuda: sets run.device (docs/GPU.md)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
}

}  // namespace ponder

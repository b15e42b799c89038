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

// How this rank could take part in a gradient sum, as the ranks compare it:
// 0, its gradients are in host memory; 1, on a GPU that cannot use NCCL here
// (a build without the NCCL sync, or NCCL not loadable); otherwise its GPU as
// NCCL tells GPUs apart: a hash of the host name and the PCI bus id (>= 2).
uint64_t gradient_route(Backend<float>& backend) {
  if (backend.memory_is_host()) return 0;
#ifdef PONDER_NCCL_SYNC
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) {
    std::string why;
    if (nccl_library(&why) == nullptr) {
      fmt::print(stderr, "ponder: NCCL could not be loaded ({})\n", why);
      return 1;
    }
    char bus[64] = {};
    char host[256] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), cuda->device()) != cudaSuccess) {
      throw Error(fmt::format("cannot read the PCI bus id of CUDA device {}", cuda->device()));
    }
    gethostname(host, sizeof(host) - 1);
    return std::max<uint64_t>(std::hash<std::string>{}(std::string(host) + "/" + bus), 2);
  }
#endif
  return 1;
}

}  // namespace

std::unique_ptr<GradientSync> make_gradient_sync([[maybe_unused]] const Config& config,
                                                 Communicator& comm, Backend<float>& backend,
                                                 Model<float>& model) {
  if (comm.size() == 1) return nullptr;
  const size_t count = model.num_parameters();
  // Every rank decides from the same gathered routes, so all take the same
  // branch (the NCCL one is a collective): NCCL only when every rank drives
  // a GPU of its own that can use it.
  const std::vector<uint64_t> routes = comm.all_gather(gradient_route(backend));
  const bool any_gpu = std::any_of(routes.begin(), routes.end(), [](uint64_t r) { return r > 0; });
  const bool all_nccl =
      std::all_of(routes.begin(), routes.end(), [](uint64_t r) { return r >= 2; });
#ifdef PONDER_NCCL_SYNC
  const bool distinct = std::set<uint64_t>(routes.begin(), routes.end()).size() == routes.size();
  if (all_nccl && distinct) {
    auto& cuda = dynamic_cast<CudaBackend&>(backend);
    const auto bucket_bytes = static_cast<size_t>(config.get_int("run.grad_bucket_mb")) << 20;
    return std::make_unique<NcclGradientSync>(comm, cuda.device(), cuda.stream(), model.grads(),
                                              count, bucket_bytes / sizeof(float));
  }
#endif
  if (any_gpu && comm.is_root()) {
    const char* why =
        std::count(routes.begin(), routes.end(), 1) > 0
            ? "a rank's GPU cannot use NCCL (this build has none, or it could not be loaded)"
        : !all_nccl ? "ranks on CPUs and GPUs are mixed"
                    : "several ranks share a GPU (NCCL needs one GPU per rank)";
    fmt::print(stderr,
               "ponder: {}; gradients are summed through host memory over MPI, without "
               "overlap (docs/SCALING.md)\n",
               why);
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

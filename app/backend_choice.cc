#include "app/backend_choice.h"

#include <CLI/CLI.hpp>

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

// `config` is read only by builds with the NCCL sync.
std::unique_ptr<GradientSync> make_gradient_sync([[maybe_unused]] const Config& config,
                                                 Communicator& comm, Backend<float>& backend,
                                                 Model<float>& model) {
  if (comm.size() == 1) return nullptr;
  const size_t count = model.num_parameters();
  if (backend.memory_is_host()) {
    return std::make_unique<HostGradientSync>(comm, std::span<float>(model.grads(), count));
  }
#ifdef PONDER_NCCL_SYNC
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) {
    const auto bucket_bytes = static_cast<size_t>(config.get_int("run.grad_bucket_mb")) << 20;
    return std::make_unique<NcclGradientSync>(comm, cuda->device(), cuda->stream(), model.grads(),
                                              count, bucket_bytes / sizeof(float));
  }
#endif
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

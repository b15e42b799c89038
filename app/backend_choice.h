// The backend a run asks for: `run.device` and `run.precision` from its config,
// or a command's --device option (policy/device.h says what each value does
// and when it is an error); and how a data-parallel run sums its gradients
// on that backend.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "parallel/gradient_sync.h"
#include "policy/backend.h"
#include "policy/device.h"

namespace CLI {
class App;
}

namespace ponder {

DeviceChoice device_choice(const Config& config);
std::unique_ptr<Backend<float>> make_backend(const Config& config);

// How `comm`'s ranks sum the model's gradients on `backend` (docs/SCALING.md):
// nothing in a world of one (nullptr); NCCL, in buckets of run.grad_bucket_mb
// overlapping backward, when this build has NCCL and every rank drives a CUDA
// GPU of its own; else MPI, in place on host memory or through it (ranks that
// share a GPU, GPU builds without NCCL, ranks on CPUs and GPUs mixed). A
// collective with more than one rank: every rank calls it.
std::unique_ptr<GradientSync> make_gradient_sync(const Config& config, Communicator& comm,
                                                 Backend<float>& backend, Model<float>& model);

// Adds `--device auto|cpu|cuda` to a command that loads a config with
// `overrides`: the option becomes the override run.device=<value>.
void add_device_option(CLI::App* command, std::vector<std::string>& overrides);

}  // namespace ponder

// Which backend runs the model: the device choice of `run.device` (and of the
// --device options), turned into a Backend<float>.
//
//   "cpu"   the CPU backend (policy/cpu/).
//   "cuda"  the CUDA backend (policy/cuda/) on GPU 0 (under an MPI launcher, the GPU of the
//           process's local rank, modulo the GPUs); an Error when this build
//           has no CUDA backend or no CUDA device is usable, saying which.
//   "auto"  CUDA when a device is usable, else the CPU backend; falling back
//           says so on stderr, once per process.
// `precision` ("bf16" or "fp32") picks the CUDA backend's matmul precision
// (policy/cuda/cuda_backend.h); the CPU backend always computes in fp32.
// Errors name `source` (e.g. "run.device") and the bad value.
#pragma once

#include <memory>
#include <string>

#include "policy/backend.h"

namespace ponder {

struct DeviceChoice {
  std::string device = "auto";
  std::string precision = "bf16";
  std::string source = "run.device";  // where the choice came from, for messages
};

std::unique_ptr<Backend<float>> make_backend(const DeviceChoice& choice);

// Usable CUDA devices (0 in a build without CUDA); when none, `why` gets the
// reason.
int cuda_device_count(std::string* why);

}  // namespace ponder

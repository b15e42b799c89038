// The communicator of a build without MPI (PONDER_MPI off): always a world
// of one, whose collectives are the identity.
#include <cstdlib>

#include <fmt/format.h>

#include "parallel/communicator.h"
#include "policy/error.h"

namespace ponder {

Communicator& Communicator::world() {
  static Communicator world(0, 1);
  const std::string launcher = launcher_evidence();
  if (!launcher.empty()) {
    throw Error(fmt::format(
        "this process was started by an MPI launcher ({}), but ponder was built without MPI; "
        "install libopenmpi-dev and rebuild (cmake -DPONDER_MPI=ON)",
        launcher));
  }
  return world;
}

void Communicator::all_reduce_sum(std::span<float>) {}
void Communicator::all_reduce_sum(std::span<double>) {}
void Communicator::all_reduce_sum(std::span<int64_t>) {}
std::vector<uint64_t> Communicator::all_gather(uint64_t value) {
  return {value};
}
void Communicator::broadcast(std::string&, int) {}
std::vector<std::string> Communicator::gather(const std::string& bytes) {
  return {bytes};
}
void Communicator::barrier() {}
void Communicator::abort(int code) {
  std::exit(code);
}

}  // namespace ponder

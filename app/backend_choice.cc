#include "app/backend_choice.h"

#include <CLI/CLI.hpp>

namespace ponder {

DeviceChoice device_choice(const Config& config) {
  return {.device = config.get_string("run.device"),
          .precision = config.get_string("run.precision"),
          .source = "run.device"};
}

std::unique_ptr<Backend<float>> make_backend(const Config& config) {
  return make_backend(device_choice(config));
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

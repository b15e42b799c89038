// The backend a run asks for: `run.device` and `run.precision` from its config,
// or a command's --device option (policy/device.h says what each value does
// and when it is an error).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "policy/backend.h"
#include "policy/device.h"

namespace CLI {
class App;
}

namespace ponder {

DeviceChoice device_choice(const Config& config);
std::unique_ptr<Backend<float>> make_backend(const Config& config);

// Adds `--device auto|cpu|cuda` to a command that loads a config with
// `overrides`: the option becomes the override run.device=<value>.
void add_device_option(CLI::App* command, std::vector<std::string>& overrides);

}  // namespace ponder

// run.device in a run's config and the commands' --device option
// (app/backend_choice.h): values are checked by the config schema, `cuda`
// without a GPU is a clear error naming the key, and --device becomes the
// override run.device=<value>.
#include "app/backend_choice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "tests/app/config_test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class BackendChoice : public testing::ConfigTest {};

TEST_F(BackendChoice, DefaultsAreAutoAndBf16) {
  const Config config = Config::load("", {});
  const DeviceChoice choice = device_choice(config);
  EXPECT_EQ(choice.device, "auto");
  EXPECT_EQ(choice.precision, "bf16");
  EXPECT_EQ(choice.source, "run.device");
}

TEST_F(BackendChoice, CpuRunsOnTheCpu) {
  const Config config = Config::load(write("x.toml", "[run]\ndevice = \"cpu\"\n"), {});
  EXPECT_THAT(make_backend(config)->describe(), StartsWith("cpu"));
}

TEST_F(BackendChoice, CudaWithoutAGpuNamesTheKey) {
  if (cuda_device_count(nullptr) > 0) GTEST_SKIP() << "a CUDA device is usable here";
  const Config config = Config::load(write("x.toml", "[run]\ndevice = \"cuda\"\n"), {});
  try {
    make_backend(config);
    FAIL() << "made a CUDA backend without a GPU";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("run.device = \"cuda\" but no CUDA device can be used"));
  }
}

TEST_F(BackendChoice, UnknownValuesAreConfigErrors) {
  EXPECT_THAT(file_error("[run]\ndevice = \"gpu\"\n"), HasSubstr("auto, cpu, cuda"));
  EXPECT_THAT(file_error("[run]\ndevice = \"gpu\"\n"), HasSubstr("run.device"));
  EXPECT_THAT(file_error("[run]\nprecision = \"fp16\"\n"), HasSubstr("bf16, fp32"));
}

TEST_F(BackendChoice, DeviceOptionBecomesAnOverride) {
  CLI::App app;
  std::vector<std::string> overrides = {"run.seed=3"};
  add_device_option(app.add_subcommand("sample"), overrides);
  app.parse(std::vector<std::string>{"cuda", "--device", "sample"});
  EXPECT_EQ(overrides, (std::vector<std::string>{"run.seed=3", "run.device=cuda"}));
  EXPECT_EQ(device_choice(Config::load("", overrides)).device, "cuda");

  CLI::App bad;
  std::vector<std::string> unused;
  add_device_option(bad.add_subcommand("sample"), unused);
  EXPECT_THROW(bad.parse(std::vector<std::string>{"gpu", "--device", "sample"}),
               CLI::ValidationError);
}

}  // namespace
}  // namespace ponder

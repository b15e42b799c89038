// run.device without a GPU (policy/device.h): `cuda` is a clear error naming
// the key and CUDA's reason, `auto` falls back to the CPU and says so once on
// stderr, an unknown value names the key and the choices. These run in CI,
// which has no GPU; on a GPU machine the fallback tests are skipped.
#include "policy/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

#define SKIP_WITH_A_GPU()                                                               \
  do {                                                                                  \
    if (cuda_device_count(nullptr) > 0) GTEST_SKIP() << "a CUDA device is usable here"; \
  } while (0)

TEST(Device, CpuIsTheCpuBackend) {
  EXPECT_THAT(make_backend({.device = "cpu"})->describe(), StartsWith("cpu"));
}

TEST(Device, CudaWithoutAGpuIsAClearError) {
  SKIP_WITH_A_GPU();
  std::string why;
  EXPECT_EQ(cuda_device_count(&why), 0);
  EXPECT_FALSE(why.empty());
  try {
    make_backend({.device = "cuda"});
    FAIL() << "made a CUDA backend without a GPU";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("run.device = \"cuda\" but no CUDA device can be used: "));
    EXPECT_THAT(e.what(), HasSubstr(why));
  }
}

TEST(Device, AutoFallsBackToTheCpuAndSaysSoOnce) {
  SKIP_WITH_A_GPU();
  ::testing::internal::CaptureStderr();
  const auto first = make_backend({.device = "auto"});
  const auto second = make_backend({.device = "auto"});
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(first->describe(), StartsWith("cpu"));
  EXPECT_THAT(second->describe(), StartsWith("cpu"));
  EXPECT_THAT(said, HasSubstr("run.device = \"auto\": no CUDA device"));
  EXPECT_THAT(said, HasSubstr("using the CPU"));
  EXPECT_EQ(said.find("using the CPU"), said.rfind("using the CPU")) << "said more than once";
}

TEST(Device, UnknownDeviceNamesTheKeyAndTheChoices) {
  try {
    make_backend({.device = "gpu", .source = "--device"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--device = \"gpu\" is not one of auto, cpu, cuda");
  }
}

}  // namespace
}  // namespace ponder

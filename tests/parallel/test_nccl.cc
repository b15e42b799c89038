// NCCL loaded at run time (on any machine), and the NCCL communicator in a
// world of one on one GPU: built wherever the CUDA toolkit and NCCL's header
// are, run where a device is (skipped elsewhere).
#include "parallel/nccl_communicator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ponder {
namespace {

TEST(NcclLibrary, LoadsEveryEntryPointOrSaysHowToInstallIt) {
  std::string why;
  const NcclLibrary* nccl = nccl_library(&why);
  if (nccl == nullptr) {
    EXPECT_THAT(why, ::testing::HasSubstr("libnccl.so.2"));
    EXPECT_THAT(why, ::testing::HasSubstr("install NCCL"));
    return;
  }
  EXPECT_EQ(nccl_library(), nccl) << "loaded once";
  for (const void* entry : {reinterpret_cast<const void*>(nccl->get_unique_id),
                            reinterpret_cast<const void*>(nccl->comm_init_rank),
                            reinterpret_cast<const void*>(nccl->comm_destroy),
                            reinterpret_cast<const void*>(nccl->comm_abort),
                            reinterpret_cast<const void*>(nccl->all_reduce)}) {
    EXPECT_NE(entry, nullptr);
  }
  EXPECT_THAT(nccl->error_string(ncclInvalidArgument), ::testing::HasSubstr("invalid argument"));
}

TEST(Nccl, AllReduceInAWorldOfOneKeepsTheBuffer) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    GTEST_SKIP() << "no CUDA device";
  }
  std::string why;
  if (nccl_library(&why) == nullptr) GTEST_SKIP() << "NCCL could not be loaded: " << why;
  NcclCommunicator nccl(Communicator::world(), 0);
  ASSERT_EQ(nccl.size(), 1);
  // Larger than MPI's buckets: NCCL takes the whole buffer in one call.
  std::vector<float> host(Communicator::kBucketElements * 2 + 5);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 1000) * 0.5f;
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, host.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  nccl.all_reduce_sum(device, host.size(), stream);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  std::vector<float> back(host.size());
  ASSERT_EQ(cudaMemcpy(back.data(), device, back.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(back, host);
  cudaStreamDestroy(stream);
  cudaFree(device);
}

}  // namespace
}  // namespace ponder

// CUDA_CHECK and NCCL_CHECK on real calls. Exit 77 (ctest: skipped) when no GPU is usable.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <string>

#include "common/check.h"

int main() {
  int version = 0;
  NCCL_CHECK(ncclGetVersion(&version));
  int devices = 0;
  const cudaError_t rc = cudaGetDeviceCount(&devices);
  if (rc != cudaSuccess || devices == 0) {
    std::printf("NCCL %d linked; no usable GPU (%s): skipped\n", version, cudaGetErrorString(rc));
    return 77;
  }
  try {
    CUDA_CHECK(cudaSetDevice(devices));  // one past the last device
    std::printf("FAIL: cudaSetDevice(%d) succeeded\n", devices);
    return 1;
  } catch (const clinfm::Error& e) {
    const std::string what = e.what();
    if (what.find("CUDA call failed") == std::string::npos ||
        what.find("cudaSetDevice") == std::string::npos) {
      std::printf("FAIL: unexpected CUDA_CHECK text: %s\n", e.what());
      return 1;
    }
  }
  try {
    NCCL_CHECK(ncclCommInitRank(nullptr, 1, ncclUniqueId{}, 0));
    std::printf("FAIL: ncclCommInitRank(nullptr) succeeded\n");
    return 1;
  } catch (const clinfm::Error& e) {
    if (std::string(e.what()).find("NCCL call failed") == std::string::npos) {
      std::printf("FAIL: unexpected NCCL_CHECK text: %s\n", e.what());
      return 1;
    }
  }
  std::printf("PASS: NCCL %d, %d GPU(s)\n", version, devices);
  return 0;
}

#include "advisor/version.hpp"

#include <ATen/Parallel.h>
#include <torch/version.h>

namespace twin::advisor {

std::string libtorch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

std::vector<std::pair<std::string, std::string>> library_versions() {
  std::string v = libtorch_version();
  v += " (" + std::to_string(at::get_num_threads()) + " intra-op threads)";
  return {{"LibTorch", v}};
}

void set_torch_threads(int intra_op, int inter_op) {
  at::set_num_threads(intra_op);
  static bool inter_set = false;  // LibTorch allows setting inter-op threads once per process
  if (!inter_set) {
    at::set_num_interop_threads(inter_op);
    inter_set = true;
  }
}

}  // namespace twin::advisor

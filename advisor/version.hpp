#pragma once
// The advisor's view of LibTorch: its version and the process-wide thread settings.

#include <string>
#include <utility>
#include <vector>

namespace twin::advisor {

/// The LibTorch this build runs, "1.13.0".
std::string libtorch_version();

/// {"LibTorch", "1.13.0 (1 intra-op threads)"}.
std::vector<std::pair<std::string, std::string>> library_versions();

/// Sets LibTorch's intra- and inter-op thread counts once, at start (LibTorch's own default
/// depends on the machine; twinrt's cycle is sized for a fixed count).
void set_torch_threads(int intra_op, int inter_op);

}  // namespace twin::advisor

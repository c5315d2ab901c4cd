#pragma once
// The wall-clock time as ISO 8601 UTC ("2026-12-02T05:59:49Z"), for records people read: model
// lineage, snapshot manifests, the audit anchors of runs.

#include <ctime>
#include <string>

namespace twin {

inline std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace twin

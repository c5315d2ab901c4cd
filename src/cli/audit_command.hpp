#pragma once
// `twin audit verify FILE`: exit 0 intact, 1 broken, 2 unreadable. Rank 0 only.
// With --key (or TWIN_AUDIT_KEY_FILE) every record must carry the facility's HMAC; the chain's
// length and head are compared with the run's summary.json (beside the log, or --summary), so a
// cut, emptied or appended-to log does not verify; --anchored-in compares the head with the one
// a later run's first record anchors.

#include <string>

namespace twin::cli {

int verify_audit_file(const std::string& path, const std::string& key_file, std::string summary_file,
                      const std::string& anchored_in);

}  // namespace twin::cli

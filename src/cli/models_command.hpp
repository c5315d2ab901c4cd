#pragma once
// `twin models list|promote|rollback|lineage`: the registry as an operator sees it (rank 0).
// Exit codes: 0 done, 2 bad input (no such registry, model or version).

#include <string>

namespace twin::cli {

struct ModelsRequest {
  enum class Verb { list, promote, rollback, lineage } verb = Verb::list;
  std::string registry, name;
  int version = 0;       ///< promote: required; lineage: 0 means the active version
  std::string reason;    ///< recorded in the model's history
};

int models_command(const ModelsRequest& request);

}  // namespace twin::cli

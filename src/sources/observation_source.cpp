#include "sources/observation_source.hpp"

namespace twin::detail {

ObservationSource::Registry& ObservationSource::registry() {
  static Registry types;
  return types;
}

std::unique_ptr<ObservationSource> ObservationSource::create(const SourceContext& context) {
  return registry().create("source.type", context.config.source.type, context);
}

}  // namespace twin::detail

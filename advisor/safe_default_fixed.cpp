// advisor.safe_default.type fixed: every control holds its safe value.
#include "advisor/safe_default.hpp"

namespace twin::advisor {
namespace {

class FixedSafeDefault final : public SafeDefault {
 public:
  explicit FixedSafeDefault(const Config& config) : m_safe(safe_values(config)) {}
  std::vector<double> target(const std::vector<double>&) const override { return m_safe; }
  const char* rule() const override { return "fixed"; }

 private:
  std::vector<double> m_safe;
};

TWIN_REGISTER_TYPE(SafeDefault, "fixed", [](const Config& c) { return std::make_unique<FixedSafeDefault>(c); });

}  // namespace
}  // namespace twin::advisor

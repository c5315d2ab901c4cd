#include "advisor/model_package.hpp"

#include <cstring>

#include "ground/sha256.hpp"

namespace twin::advisor {

namespace {

// Length-prefixed fields, so that no two different packages serialise alike.
class Canonical {
 public:
  void text(const std::string& s) {
    number(static_cast<long long>(s.size()));
    m_bytes += s;
  }
  void number(long long v) { raw(&v, sizeof v); }
  void real(double v) { raw(&v, sizeof v); }
  void texts(const std::vector<std::string>& v) {
    number(static_cast<long long>(v.size()));
    for (const auto& s : v) text(s);
  }
  void reals(const std::vector<double>& v) {
    number(static_cast<long long>(v.size()));
    raw(v.data(), v.size() * sizeof(double));
  }
  void raw(const void* data, std::size_t n) { m_bytes.append(static_cast<const char*>(data), n); }
  const std::string& bytes() const { return m_bytes; }

 private:
  std::string m_bytes;
};

}  // namespace

std::string package_digest(const ModelPackage& p) {
  Canonical c;
  c.text("twinrt-package-digest-1");
  c.text(p.name);
  c.number(p.version);
  c.text(p.kind);
  c.text(p.role);
  c.texts(p.inputs);
  c.texts(p.outputs);
  c.reals(p.input_mean);
  c.reals(p.input_scale);
  c.reals(p.output_mean);
  c.reals(p.output_scale);
  c.number(p.ensemble);
  c.number(static_cast<long long>(p.hidden.size()));
  for (int h : p.hidden) c.number(h);
  c.number(static_cast<long long>(p.weights.size()));
  for (const auto& w : p.weights) {
    c.text(w.name);
    c.number(static_cast<long long>(w.shape.size()));
    for (auto d : w.shape) c.number(d);
    c.number(static_cast<long long>(w.values.size()));
    c.raw(w.values.data(), w.values.size() * sizeof(float));
  }
  c.number(static_cast<long long>(p.script.size()));
  c.raw(p.script.data(), p.script.size());
  c.number(p.training.samples);
  c.reals(p.training.mean);
  c.reals(p.training.std);
  c.reals(p.training.covariance);
  c.number(p.training.bins);
  c.reals(p.training.edges);
  c.reals(p.training.fractions);
  c.number(static_cast<long long>(p.metrics.size()));
  for (const auto& [k, v] : p.metrics) {
    c.text(k);
    c.real(v);
  }
  c.number(p.lineage.parent_version);
  c.text(p.lineage.data_sha256);
  c.text(p.lineage.config_sha256);
  c.number(p.lineage.seed);
  c.number(p.lineage.ranks);
  c.text(p.lineage.created_utc);
  c.text(p.lineage.twinrt_version);
  c.text(p.libtorch_version);
  c.text(p.weights_sha256);
  c.number(static_cast<long long>(p.attributes.size()));
  for (const auto& [k, v] : p.attributes) {
    c.text(k);
    c.text(v);
  }
  return sha256_hex(c.bytes());
}

std::string package_signature(const std::string& key, const ModelPackage& p) {
  return hmac_sha256_hex(key, "twinrt-model-signature-1:" + p.package_sha256);
}

}  // namespace twin::advisor

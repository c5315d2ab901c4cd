#include "decision/data_capture.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

#include "ground/sha256.hpp"
#include "ground/utc.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin::detail {

DataCapture::DataCapture(const Config& config, std::string dir)
    : m_config(config), m_layout(surrogate_layout(config)), m_dir(std::move(dir)), m_config_sha256(sha256_hex(to_yaml(config))) {
  m_open = empty_window();
}

io::DataWindow DataCapture::empty_window() const {
  io::DataWindow w;
  w.inputs = m_layout.inputs;
  w.outputs = m_layout.outputs;
  w.twin = m_config.twin.name;
  w.config_sha256 = m_config_sha256;
  return w;
}

std::string DataCapture::add(int cycle, const std::vector<double>& features, const std::vector<double>& analysis) {
  const int S = m_layout.sensors;
  const int longest = m_layout.lead_cycles.empty() ? 0 : m_layout.lead_cycles.back();
  bool finite = static_cast<int>(analysis.size()) == S;
  for (double v : analysis) finite = finite && std::isfinite(v);
  if (finite) m_analysis[cycle] = analysis;
  if (finite && features.size() == m_layout.inputs.size()) m_pending[cycle] = features;
  // Rows whose longest lead matures now; a row missing any lead's analysis is dropped.
  std::string written;
  for (auto it = m_pending.begin(); it != m_pending.end() && it->first + longest <= cycle;) {
    const int made = it->first;
    std::vector<double> y(m_layout.outputs.size());
    bool whole = m_analysis.count(made) > 0;
    // The surrogate predicts for controls held over the horizon: a row whose emitted controls
    // moved by more than capture_tolerance of their range before its longest lead is left out.
    const double tolerance = m_config.lifecycle->capture_tolerance;
    for (int k = made + 1; whole && tolerance < 1.0 && k < made + longest; ++k) {
      const auto next = m_pending.find(k);
      bool held = next != m_pending.end();
      for (int j = 0; held && j < m_layout.controls; ++j) {
        const auto& c = m_config.controls[static_cast<std::size_t>(j)];
        held = std::abs(next->second[m_layout.u0() + j] - it->second[m_layout.u0() + j]) <= tolerance * (c.max - c.min);
      }
      if (!held) {
        whole = false;
        ++m_moved;
      }
    }
    for (std::size_t l = 0; whole && l < m_layout.lead_cycles.size(); ++l) {
      const auto later = m_analysis.find(made + m_layout.lead_cycles[l]);
      whole = later != m_analysis.end();
      for (int s = 0; whole && s < S; ++s)
        y[m_layout.output(static_cast<int>(l), s)] = later->second[s] - m_analysis[made][s];
    }
    if (whole) {
      m_open.x.insert(m_open.x.end(), it->second.begin(), it->second.end());
      m_open.y.insert(m_open.y.end(), y.begin(), y.end());
      m_open.cycles.push_back(made);
      ++m_captured;
    }
    it = m_pending.erase(it);
    if (m_open.rows() >= m_config.lifecycle->window_cycles) {
      io::DataWindow full = std::move(m_open);
      m_open = empty_window();
      full.created_utc = utc_now();
      const std::string digest = m_dir.empty() ? io::window_digest(full) : io::write_data_window(m_dir, full);
      m_kept.emplace_back(digest, std::move(full));
      while (static_cast<int>(m_kept.size()) > m_config.lifecycle->keep_windows) m_kept.pop_front();
      written = digest;
    }
  }
  while (!m_analysis.empty() && m_analysis.begin()->first < cycle - longest) m_analysis.erase(m_analysis.begin());
  return written;
}

advisor::Dataset DataCapture::rows() const {
  advisor::Dataset d{static_cast<int>(m_layout.inputs.size()), static_cast<int>(m_layout.outputs.size()), {}, {}, {}};
  long group = 0;
  const auto take = [&](const io::DataWindow& w) {
    d.x.insert(d.x.end(), w.x.begin(), w.x.end());
    d.y.insert(d.y.end(), w.y.begin(), w.y.end());
    d.group.insert(d.group.end(), static_cast<std::size_t>(w.rows()), group++);
  };
  for (const auto& kept : m_kept) take(kept.second);
  take(m_open);
  return d;
}

std::vector<std::string> DataCapture::windows() const {
  std::vector<std::string> out;
  for (const auto& kept : m_kept) out.push_back(kept.first);
  return out;
}

void DataCapture::save(io::StateArchive& a) const {
  a.put("decider.capture.windows", windows());
  a.put("decider.capture.open_x", m_open.x);
  a.put("decider.capture.open_y", m_open.y);
  std::vector<long long> cycles(m_open.cycles.begin(), m_open.cycles.end());
  a.put("decider.capture.open_cycles", cycles);
  a.put("decider.capture.captured", static_cast<long long>(m_captured));
}

void DataCapture::restore(const io::StateArchive& a) {
  m_kept.clear();
  for (const std::string& hash : a.strings("decider.capture.windows")) {
    if (m_dir.empty()) continue;
    const std::string path = (std::filesystem::path(m_dir) / (hash + ".h5")).string();
    try {
      m_kept.emplace_back(hash, io::read_data_window(path));
    } catch (const std::exception& e) {
      spdlog::warn("resume: captured data window left out of retraining: {}", e.what());
    }
  }
  m_open = empty_window();
  m_open.x = a.doubles("decider.capture.open_x");
  m_open.y = a.doubles("decider.capture.open_y");
  for (long long c : a.ints("decider.capture.open_cycles")) m_open.cycles.push_back(static_cast<long>(c));
  if (m_open.x.size() != m_open.cycles.size() * m_layout.inputs.size() ||
      m_open.y.size() != m_open.cycles.size() * m_layout.outputs.size())
    throw DataError(a.origin() + ": the captured data window is malformed");
  m_captured = static_cast<long>(a.get_int("decider.capture.captured"));
  m_pending.clear();
  m_analysis.clear();
}

}  // namespace twin::detail

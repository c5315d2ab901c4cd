// The lifecycle's figures for summary.json and its state in restart snapshots.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "decision/advisor_models.hpp"
#include "decision/data_capture.hpp"
#include "decision/lifecycle.hpp"
#include "decision/lifecycle_figures.hpp"
#include "io/state_archive.hpp"
#include "train/retrain_job.hpp"
#include "twin/error.hpp"

namespace twin::detail {

using lifecycle_figures::rms;

nlohmann::json Lifecycle::summary() const {
  nlohmann::json events = nlohmann::json::array();
  for (const LifecycleEvent& e : m_events)
    events.push_back({{"cycle", e.cycle}, {"event", e.event}, {"model", e.model}, {"reason", e.reason}});
  const auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  const auto count = [&](const char* what) {
    return std::count_if(m_events.begin(), m_events.end(), [&](const LifecycleEvent& e) { return e.event == what; });
  };
  return {{"events", events},
          {"retrainings", m_retrainings},
          {"promotions", count("promoted")},
          {"rollbacks", count("rolled_back")},
          {"rejections", count("rejected")},
          {"retrain_slack_s", m_retrain_ms / 1000.0},
          {"captured_rows", m_capture->rows_captured()},
          {"data_windows", m_capture->windows()},
          {"paused", m_paused},
          {"active_reference_error", finite_or_null(rms(m_ref_sq, m_ref_n))},
          {"shadow", m_shadow ? nlohmann::json(advisor::label(m_shadow->package())) : nlohmann::json(nullptr)},
          {"active", m_models.surrogate() ? nlohmann::json(advisor::label(m_models.surrogate()->package())) : nlohmann::json(nullptr)}};
}

void Lifecycle::save(io::StateArchive& a) const {
  nlohmann::json j = summary();
  j["paused_reason"] = m_pause_reason;
  j["shadow_version"] = m_shadow ? m_shadow->package().version : 0;
  j["shadow"] = {m_shadow_since, m_shadow_scored, m_shadow_gated, m_shadow_passed, m_shadow_sq, m_active_sq};
  j["replaced_version"] = m_replaced ? m_replaced->package().version : 0;
  j["watch"] = {m_watch_since, m_watch_scored, m_watch_sq, m_replaced_sq};
  j["reference"] = {m_ref_sq, static_cast<double>(m_ref_n)};
  j["blocks"] = m_blocks;
  j["block"] = {m_block_sum, static_cast<double>(m_block_n), static_cast<double>(m_last_look)};
  if (m_job) j["job"] = {{"cycle", m_job->request().cycle}, {"reason", m_job->request().reason}, {"theta", m_job->request().theta}};
  a.put("decider.lifecycle", j.dump());
  m_capture->save(a);
}

void Lifecycle::restore(const io::StateArchive& a) {
  m_capture->restore(a);
  const auto& text = a.strings("decider.lifecycle");
  const nlohmann::json j = text.size() == 1 ? nlohmann::json::parse(text[0], nullptr, false) : nlohmann::json();
  try {
    m_paused = j.at("paused").get<bool>();
    m_pause_reason = j.at("paused_reason").get<std::string>();
    m_retrainings = j.at("retrainings").get<long>();
    m_retrain_ms = 1000.0 * j.at("retrain_slack_s").get<double>();
    m_events.clear();
    for (const auto& e : j.at("events"))
      m_events.push_back({e.at("cycle").get<int>(), e.at("event").get<std::string>(), e.at("model").get<std::string>(),
                          e.at("reason").get<std::string>()});
    const auto& sh = j.at("shadow");
    m_shadow_since = sh.at(0).get<int>();
    m_shadow_scored = sh.at(1).get<int>();
    m_shadow_gated = sh.at(2).get<int>();
    m_shadow_passed = sh.at(3).get<int>();
    m_shadow_sq = sh.at(4).get<double>();
    m_active_sq = sh.at(5).get<double>();
    const auto& w = j.at("watch");
    m_watch_since = w.at(0).get<int>();
    m_watch_scored = w.at(1).get<int>();
    m_watch_sq = w.at(2).get<double>();
    m_replaced_sq = w.at(3).get<double>();
    const auto& reference = j.at("reference");
    m_ref_sq = reference.at(0).get<double>();
    m_ref_n = static_cast<long>(reference.at(1).get<double>());
    m_blocks = j.at("blocks").get<std::vector<double>>();
    const auto& block = j.at("block");
    m_block_sum = block.at(0).get<double>();
    m_block_n = static_cast<int>(block.at(1).get<double>());
    m_last_look = static_cast<int>(block.at(2).get<double>());
    // The versions in shadow and under watch come back from the registry; a retraining in hand
    // starts again from its request (its data are drawn from the request, so it ends the same).
    const auto reload = [&](const char* key, std::unique_ptr<advisor::Model>& into) {
      const int v = j.at(key).get<int>();
      into.reset();
      if (v <= 0) return;
      try {
        into = m_models.load_version(v);
      } catch (const std::exception& e) {
        spdlog::warn("resume: lifecycle: {} v{} could not be loaded again ({}); its {} ends", m_config.advisor->surrogate, v,
                     e.what(), key);
      }
    };
    if (m_models.surrogate()) {
      reload("shadow_version", m_shadow);
      reload("replaced_version", m_replaced);
    }
    m_job.reset();
    m_job_ready = false;
    if (j.contains("job") && m_models.surrogate()) {
      RetrainRequest request;
      request.cycle = j["job"].at("cycle").get<int>();
      request.reason = j["job"].at("reason").get<std::string>();
      request.theta = j["job"].at("theta").get<std::vector<double>>();
      request.captured = m_capture->rows();
      request.windows = m_capture->windows();
      m_job = std::make_unique<RetrainJob>(m_config, m_models.surrogate()->package(), std::move(request));
      m_field_given = false;  // the resumed twin's state, gathered at its first step
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(a.origin() + ": the model lifecycle's state is malformed: " + e.what());
  }
  m_active_ledger.clear();
  m_shadow_ledger.clear();
  m_replaced_ledger.clear();
}

}  // namespace twin::detail

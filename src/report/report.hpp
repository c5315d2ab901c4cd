#pragma once
// `twin report RUN_DIR`: one self-contained HTML page of a run for a plant engineer (sensors with
// forecast, analysis and spread, QC rejections, parameters against the truth, controls and
// modes, anomaly flags against the scheduled faults, cycle latency, drift and model transitions,
// the KPIs). Charts by dygraphs, embedded in the page with the data: nothing is fetched when it
// is viewed. The page's script and styles are src/report/report.{js,css}.

#include <nlohmann/json.hpp>
#include <string>

namespace twin::detail {

/// What the page shows, gathered from RUN_DIR: effective.yaml and series.h5 (required),
/// audit.jsonl and summary.json (used when present: a killed run has no summary). The object
/// the page's script reads as window.TWIN_REPORT.
/// @throws DataError naming the file when a required one is missing or damaged.
nlohmann::json report_data(const std::string& run_dir);

/// Writes RUN_DIR/report.html (atomically) and returns its path.
std::string write_report(const std::string& run_dir);

}  // namespace twin::detail

#include "ground/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::log {
namespace {

// One JSON object per line: {"time": ISO-8601 UTC, "rank", "level", "msg"}.
class JsonLinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JsonLinesSink(const std::string& path, int rank) : m_out(path, std::ios::app), m_rank(rank) {
    if (!m_out) throw ConfigError({"", 0, 0, "logging.json_file"}, "cannot open '" + path + "' for writing");
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&t, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms));
    nlohmann::json line = {{"time", stamp},
                           {"rank", m_rank},
                           {"level", spdlog::level::to_string_view(msg.level).data()},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    m_out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  void flush_() override { m_out.flush(); }

 private:
  std::ofstream m_out;
  int m_rank;
};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

void install(std::vector<spdlog::sink_ptr> sinks, spdlog::level::level_enum level) {
  const int rank = world_rank();
  auto logger = std::make_shared<spdlog::logger>("twin", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(rank) + "] [%^%l%$] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void init_default() {
  const auto level = world_rank() == 0 ? spdlog::level::info : spdlog::level::warn;
  install({std::make_shared<spdlog::sinks::stderr_color_sink_mt>()}, level);
}

void init(const LoggingConfig& config) {
  const int rank = world_rank();
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (config.json_file) {
    std::string path = *config.json_file;
    if (auto at = path.find("{rank}"); at != std::string::npos) path.replace(at, 6, std::to_string(rank));
    sinks.push_back(std::make_shared<JsonLinesSink>(path, rank));
  }
  auto level = to_spdlog(config.level);
  if (rank != 0 && !config.all_ranks) level = std::max(level, spdlog::level::warn);
  install(std::move(sinks), level);
}

void flush() { spdlog::default_logger()->flush(); }

}  // namespace twin::log

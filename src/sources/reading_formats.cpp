#include "sources/reading_formats.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/series.hpp"
#include "sources/line_input.hpp"
#include "twin/error.hpp"

namespace twin::detail {

Observation parse_stream_line(const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) throw DataError("not a JSON object");
  const auto field = [&](const char* key) -> const nlohmann::json& {
    const auto it = j.find(key);
    if (it == j.end()) throw DataError(std::string("no \"") + key + "\"");
    return *it;
  };
  const nlohmann::json& t = field("t");
  const nlohmann::json& sensor = field("sensor");
  const nlohmann::json& value = field("value");
  if (!t.is_number()) throw DataError("\"t\" is not a number");
  if (!sensor.is_string()) throw DataError("\"sensor\" is not a string");
  if (!value.is_number() && !value.is_null()) throw DataError("\"value\" is not a number or null");
  Observation o;
  o.t_s = t.get<double>();
  o.sensor = sensor.get<std::string>();
  o.value = value.is_null() ? std::nan("") : value.get<double>();
  return o;
}

namespace {

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  const auto b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// A whole field as a number: "12abc" is not one; "nan" is (QC rejects it as a value).
bool parse_number(const std::string& field, double& out) {
  try {
    std::size_t used = 0;
    out = std::stod(field, &used);
    return used == field.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::vector<Observation> read_replay_csv(const std::string& path, long& skipped) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw DataError(path + ": cannot open the replay file (source.replay_file): " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw DataError(path + ": the replay file (source.replay_file) is not a regular file");
  }
  LineInput in(fd, true, max_reading_line_bytes);
  std::vector<Observation> readings;
  std::string line;
  long number = 0;
  bool header_allowed = true;
  for (;;) {
    const LineInput::Status status = in.next(line, LineInput::Clock::now() + std::chrono::hours(1));
    if (status == LineInput::Status::eof) break;
    ++number;
    if (status == LineInput::Status::too_long)
      throw DataError(path + ":" + std::to_string(number) + ": a line longer than " + std::to_string(max_reading_line_bytes) + " bytes");
    if (status != LineInput::Status::line) throw DataError(path + ": reading was interrupted");
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream split(text);
    for (std::string f; std::getline(split, f, ',');) fields.push_back(trim(f));
    if (!text.empty() && text.back() == ',') fields.push_back("");
    double t = 0.0, value = 0.0;
    const bool numbers = fields.size() == 3 && parse_number(fields[0], t) && parse_number(fields[2], value);
    if (!numbers && header_allowed && fields.size() == 3) {  // a header line such as t,sensor,value
      header_allowed = false;
      continue;
    }
    header_allowed = false;
    if (!numbers)
      throw DataError(path + ":" + std::to_string(number) + ": '" + text.substr(0, 120) +
                      "' is not t,sensor,value with numbers");
    std::string sensor = fields[1];
    if (sensor.size() >= 2 && sensor.front() == '"' && sensor.back() == '"') sensor = sensor.substr(1, sensor.size() - 2);
    if (!std::isfinite(t)) {
      if (skipped++ < 3) spdlog::warn("{}:{}: a reading without a usable time ({}) is skipped", path, number, fields[0]);
      continue;
    }
    readings.push_back({t, sensor, value});
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  return readings;
}

std::vector<Observation> read_replay_series(const std::string& path, long& skipped) {
  io::RecordedReadings r;
  try {
    r = io::read_recorded_readings(path);
  } catch (const DataError& e) {
    throw DataError(std::string("the replay file (source.replay_file): ") + e.what());
  }
  std::vector<Observation> readings;
  for (std::size_t c = 0; c < r.time_s.size(); ++c) {
    if (!std::isfinite(r.time_s[c])) {
      if (skipped++ < 3) spdlog::warn("{}: /cycle/time_s row {} is not a usable time; its readings are skipped", path, c);
      continue;
    }
    for (std::size_t s = 0; s < r.sensors.size(); ++s)
      if (!std::isnan(r.values[c][s])) readings.push_back({r.time_s[c], r.sensors[s], r.values[c][s]});
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  return readings;
}

void check_replay_usable(const std::string& path, const std::vector<Observation>& readings, const Config& config, long skipped) {
  std::set<std::string> names;
  for (const Observation& o : readings) names.insert(o.sensor);
  std::string ours, theirs;
  bool any = false;
  for (const auto& s : config.sensors) {
    ours += (ours.empty() ? "" : ", ") + s.name;
    any = any || names.count(s.name) != 0;
  }
  for (const auto& n : names) {
    if (theirs.size() > 200) {
      theirs += ", ...";
      break;
    }
    theirs += (theirs.empty() ? "" : ", ") + n;
  }
  if (readings.empty())
    throw DataError(path + ": no usable reading in the replay file" +
                    (skipped ? " (" + std::to_string(skipped) + " without a usable time)" : std::string()));
  if (!any && !config.sensors.empty())
    throw DataError(path + ": none of its " + std::to_string(readings.size()) + " readings names a sensor of this twin (it names " +
                    theirs + "; the config's sensors are " + ours + ")");
  // A partial match runs (a recording from before a sensor was added), and says so: the missing
  // sensors count as missing each cycle, the foreign names as unknown_sensor rejections.
  std::string silent;
  long known = 0;
  for (const auto& s : config.sensors) {
    if (names.count(s.name)) ++known;
    else silent += (silent.empty() ? "" : ", ") + s.name;
  }
  if (!silent.empty())
    spdlog::warn("{}: no readings for {} of the twin's {} sensors ({}); is it a recording of this twin?", path,
                 config.sensors.size() - static_cast<std::size_t>(known), config.sensors.size(), silent);
  const std::size_t foreign = names.size() - static_cast<std::size_t>(known);
  if (foreign > 0)
    spdlog::warn("{}: {} sensor names in the file are not the twin's (it names {}); their readings are rejected as "
                 "unknown_sensor", path, foreign, theirs);
}

}  // namespace twin::detail

// Latency of the advisor, in one run, on held-out states:
//   forward:  one predict_moments call for one row, in process (the surrogate alone);
//   advise:   Decider::propose + decide, the whole advise + gate step the runtime runs each cycle
//             (proposal optimisation through the surrogate, OOD score, gates, breaker);
//   loopback: the same model served by another process over TCP on 127.0.0.1, one row per round
//             trip (request: inputs doubles; response: outputs means then outputs stds), the way
//             SmartSim-like out-of-process inference would serve it.
//
//   build/bin/bench_advisor [--config configs/plate.yaml] [--registry DIR] [--summary FILE]
// Exits 77 (with the `twin train` command to run) when the registry has no active surrogate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include "decision/decider.hpp"
#include "advisor/model.hpp"
#include "advisor/version.hpp"
#include "advisor_bench.hpp"
#include "ground/log.hpp"
#include "twin/error.hpp"

namespace {

using namespace twin;
using bench::Clock;

constexpr int warmup_calls = 200, timed_calls = 5000, advise_warmup = 20, advise_calls = 300;

// Whole messages over a stream socket (send and recv may move fewer bytes than asked).
bool send_all(int fd, const void* data, std::size_t bytes) {
  for (auto* p = static_cast<const char*>(data); bytes > 0;) {
    const ssize_t k = ::send(fd, p, bytes, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k, bytes -= static_cast<std::size_t>(k);
  }
  return true;
}
bool recv_all(int fd, void* data, std::size_t bytes) {
  for (auto* p = static_cast<char*>(data); bytes > 0;) {
    const ssize_t k = ::recv(fd, p, bytes, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k, bytes -= static_cast<std::size_t>(k);
  }
  return true;
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// The server process: loads the model itself (it never touches MPI or Kokkos, which it was
/// forked before) and answers one connection until it closes.
[[noreturn]] void serve(int listener, const std::string& path, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
  if (::getppid() != parent) ::_exit(1);
  try {
    advisor::set_torch_threads(1, 1);
    const advisor::Model model(io::read_model(path));
    model.warm_up();
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) ::_exit(1);
    no_delay(fd);
    std::vector<double> x(static_cast<std::size_t>(model.inputs())), mean, sd, reply;
    while (recv_all(fd, x.data(), x.size() * sizeof(double))) {
      model.predict_moments(x.data(), 1, mean, sd);
      reply = mean;
      reply.insert(reply.end(), sd.begin(), sd.end());
      if (!send_all(fd, reply.data(), reply.size() * sizeof(double))) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_advisor server: %s\n", e.what());
    ::_exit(1);
  }
  ::_exit(0);  // not exit(): the parent's atexit handlers and static destructors are not ours
}

/// The forked server, killed and reaped on every path out of the benchmark.
struct Server {
  pid_t pid = -1;
  int port = 0;
  ~Server() {
    if (pid > 0) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
  }
};

void start_server(const std::string& path, Server& server) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw Error(std::string("loopback server: cannot listen on 127.0.0.1: ") + std::strerror(errno));
  server.port = ntohs(addr.sin_port);
  const pid_t parent = ::getpid();
  server.pid = ::fork();
  if (server.pid < 0) throw Error(std::string("loopback server: fork failed: ") + std::strerror(errno));
  if (server.pid == 0) serve(listener, path, parent);
  ::close(listener);  // the child holds it; connect() queues on its backlog until it accepts
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Error(std::string("loopback client: cannot connect: ") + std::strerror(errno));
  no_delay(fd);
  return fd;
}

nlohmann::json percentiles(const std::string& key, const std::vector<double>& us) {
  return {{key + "_p50_us", bench::quantile(us, 0.5)}, {key + "_p99_us", bench::quantile(us, 0.99)}};
}

nlohmann::json run(const bench::SurrogateSetup& s, const Server& server) {
  const detail::SurrogateLayout layout = detail::surrogate_layout(s.config);
  const advisor::Model model(io::read_model(s.path));
  if (model.package().inputs != layout.inputs || model.package().outputs != layout.outputs)
    throw Error(advisor::label(model.package()) + " does not match the config's sensors, controls and lead times; train it again");
  const int n = model.inputs(), o = model.outputs();
  const auto t_data = Clock::now();
  const advisor::Dataset data = bench::held_out(s.config, 1, 4, 4);
  const long rows = data.rows();
  std::fprintf(stderr, "bench_advisor: %ld held-out states from the solver in %.1f s\n", rows, bench::us_since(t_data) / 1e6);
  const auto row = [&](int c) { return data.x.data() + (static_cast<long>(c) % rows) * n; };

  // (a) The surrogate in process.
  std::vector<double> mean, sd, forward_us;
  for (int c = -warmup_calls; c < timed_calls; ++c) {
    const auto t0 = Clock::now();
    model.predict_moments(row(c + warmup_calls), 1, mean, sd);
    if (c >= 0) forward_us.push_back(bench::us_since(t0));
  }

  // (b) The whole advise + gate step, as the runtime runs it each cycle on rank 0.
  Config config = s.config;
  if (!config.advisor) throw Error(config.source_name + " has no advisor: section; nothing to advise");
  config.advisor->registry = s.registry;
  detail::Decider stage(config, true);
  std::vector<double> advise_us, diagnose_us;
  std::map<std::string, int> gates, modes;
  int accepted = 0, consulted = 0, cycle = 0;
  for (int c = -advise_warmup; c < advise_calls; ++c) {
    const double* x = row(c + advise_warmup);
    detail::DecisionInputs in;
    in.theta.assign(x + layout.theta0(), x + layout.theta0() + layout.parameters);
    AdvisorReport report;
    Advice advice;
    // The stage takes the change over the last cycle from the analysis it saw last; held-out
    // states come from unrelated trajectories, so an untimed cycle first shows it the row's
    // previous analysis (y - dy). Without it, every timed state looks out of distribution and
    // the breaker opens, timing the cheap advisor_off path instead of the advise step.
    for (int pass = 0; pass < 2; ++pass) {
      in.cycle = ++cycle;
      in.t_s = in.cycle * config.twin.control_period_s;
      in.analysis.assign(x + layout.y0(), x + layout.y0() + layout.sensors);
      if (pass == 0)
        for (int k = 0; k < layout.sensors; ++k) in.analysis[k] -= x[layout.dy0() + k];
      in.deadline = Clock::now() + std::chrono::seconds(1);
      // The anomaly diagnosis runs first in the cycle: readings at the analysis, against a
      // forecast one cycle's change behind it.
      std::vector<SensorEstimate> sensors(static_cast<std::size_t>(layout.sensors));
      for (int k = 0; k < layout.sensors; ++k) {
        sensors[k].sensor = config.sensors[k].name;
        sensors[k].observed = in.analysis[k];
        sensors[k].forecast = in.analysis[k] - x[layout.dy0() + k];
        sensors[k].forecast_spread = 0.3;
        sensors[k].qc = QcReason::accepted;
      }
      const auto d0 = Clock::now();
      const AnomalyReport anomaly = stage.diagnose(in, sensors);
      if (pass == 1 && c >= 0 && anomaly.consulted) diagnose_us.push_back(bench::us_since(d0));
      const auto t0 = Clock::now();
      const detail::Decision decision = stage.decide(in, stage.propose(in), std::nullopt);  // no physics check here
      advice = decision.advice;
      report = decision.report;
      if (pass == 1 && c >= 0) advise_us.push_back(bench::us_since(t0));
    }
    if (c < 0) continue;
    accepted += report.accepted, consulted += report.consulted;
    ++gates[report.gate], ++modes[to_string(advice.mode)];
  }
  if (consulted == 0) throw Error("the advise stage never consulted the model (see the log above)");

  // (c) The same model in the server process, one row per round trip.
  const int fd = connect_loopback(server.port);
  std::vector<double> reply(2 * static_cast<std::size_t>(o)), loopback_us;
  double loopback_diff = 0.0;
  for (int c = -warmup_calls; c < timed_calls; ++c) {  // the warm-up also waits out the server's model load
    const double* x = row(c + warmup_calls);
    const auto t0 = Clock::now();
    if (!send_all(fd, x, n * sizeof(double)) || !recv_all(fd, reply.data(), reply.size() * sizeof(double)))
      throw Error("loopback: the server closed the connection (see its message above)");
    if (c >= 0) loopback_us.push_back(bench::us_since(t0));
    if (c == 0) {  // the served answer must be the in-process one
      model.predict_moments(x, 1, mean, sd);
      for (int k = 0; k < o; ++k)
        loopback_diff = std::max({loopback_diff, std::abs(reply[k] - mean[k]), std::abs(reply[o + k] - sd[k])});
    }
  }
  ::close(fd);

  nlohmann::json j = {{"benchmark", "bench_advisor"},
                      {"model", advisor::label(model.package())},
                      {"model_path", s.path},
                      {"inputs", n},
                      {"outputs", o},
                      {"held_out_states", rows},
                      {"forward_calls", forward_us.size()},
                      {"advise_calls", advise_us.size()},
                      {"accepted_fraction", static_cast<double>(accepted) / advise_us.size()},
                      {"consulted_fraction", static_cast<double>(consulted) / advise_us.size()},
                      {"gates", gates},
                      {"modes", modes},
                      {"candidates", config.advisor->candidates},
                      {"iterations", config.advisor->iterations},
                      {"latency_budget_ms", config.advisor->gates.latency_budget_ms},
                      {"loopback_calls", loopback_us.size()},
                      {"loopback_max_abs_diff", loopback_diff},
                      {"context", bench::context(to_yaml(s.config))}};
  j.update(percentiles("forward", forward_us));
  j.update(percentiles("advise", advise_us));
  j.update(percentiles("loopback", loopback_us));
  if (!diagnose_us.empty()) {  // with an anomaly model in the registry: its features, forward and attribution
    j["diagnose_calls"] = diagnose_us.size();
    j.update(percentiles("diagnose", diagnose_us));
  }
  std::fprintf(stderr, "bench_advisor: p50 forward %.1f us, advise %.1f us (%.0f%% accepted), loopback %.1f us\n",
               j["forward_p50_us"].get<double>(), j["advise_p50_us"].get<double>(), 100.0 * j["accepted_fraction"].get<double>(),
               j["loopback_p50_us"].get<double>());
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  bench::SurrogateSetup setup;
  if (const int code = bench::find_surrogate(argc, argv, "bench_advisor", setup)) return code;
  const std::string summary = bench::take_option(argc, argv, "summary", "");
  // Fork the server before MPI, Kokkos or LibTorch start any thread or open any device: the
  // child is a plain single-threaded process that builds its own LibTorch state.
  Server server;
  try {
    start_server(setup.path, server);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_advisor: %s\n", e.what());
    return 1;
  }
  return bench::run_main(argc, argv, "bench_advisor", summary, [&] { return run(setup, server); });
}

// Model kind torchscript: a TorchScript module imported with `twin models import`, with the
// package's normalisation applied around it. Its weights_sha256 covers the module's bytes, so
// nothing is deserialised before they match (LibTorch itself checks nothing). Even a module
// that matches may be hostile or malformed, and LibTorch 1.13's unpickler crashes on some (a
// TUPLE1 on an empty stack is a segfault): a module is first loaded and run once in a child
// process, and loaded here only when that child comes back clean.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "advisor/detail/model_kind.hpp"
#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::advisor::detail {
namespace {

std::string shape_text(const torch::Tensor& t) {
  std::string s = "[";
  for (long d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

void probe_in_child(const ModelPackage& p);

class ScriptNetwork final : public Network {
 public:
  // `probe`: load and run the module in a child process first (off only in that child).
  ScriptNetwork(const ModelPackage& p, bool probe)
      : m_label(label(p)),
        m_outputs(static_cast<long>(p.outputs.size())),
        m_in_mean(to_tensor(p.input_mean)),
        m_in_scale(to_tensor(p.input_scale)),
        m_out_mean(to_tensor(p.output_mean)),
        m_out_scale(to_tensor(p.output_scale)) {
    if (probe) probe_in_child(p);
    std::istringstream in(std::string(p.script.begin(), p.script.end()));
    try {
      m_module = torch::jit::load(in);
    } catch (const std::exception& e) {
      fail(p, std::string("TorchScript module does not load: ") + e.what());
    }
    m_module.eval();
  }

  torch::Tensor forward(const torch::Tensor& x_raw) const override {
    const torch::Tensor x = (x_raw - m_in_mean) / m_in_scale;
    torch::Tensor y;
    try {
      y = m_module.forward({x}).toTensor();
    } catch (const std::exception& e) {  // c10::Error, or std::runtime_error for wrong shapes
      throw AdvisorError("model " + m_label + ": forward failed: " + e.what());
    }
    if (y.dim() == 2) y = y.unsqueeze(0);
    if (y.dim() != 3 || y.size(1) != x.size(0) || y.size(2) != m_outputs)
      throw AdvisorError("model " + m_label + ": forward returned shape " + shape_text(y) + ", expected [" +
                         std::to_string(x.size(0)) + ", " + std::to_string(m_outputs) + "] or [members, batch, outputs]");
    return y.to(torch::kFloat32) * m_out_scale + m_out_mean;
  }

 private:
  std::string m_label;
  long m_outputs;
  torch::Tensor m_in_mean, m_in_scale, m_out_mean, m_out_scale;
  mutable torch::jit::script::Module m_module;  // forward is not const in LibTorch
};

// How long the child may take to load and run the module once.
constexpr std::chrono::seconds probe_timeout{60};

// Loads the module in a forked child and runs it once on the training mean (normalised zeros).
// The child reports an exception through a pipe and exits; the parent refuses the package when
// the child failed, was killed by a signal (the crash stays in the child) or took longer than
// probe_timeout. The child touches no MPI, logs nothing and leaves by _exit.
void probe_in_child(const ModelPackage& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail(p, std::string("cannot probe the TorchScript module (pipe): ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail(p, std::string("cannot probe the TorchScript module (fork): ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    // The parent's handlers (MPI's crash reports, twinrt's stop flags) are not the child's.
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT, SIGHUP}) ::signal(s, SIG_DFL);
    int code = 0;
    std::string message;
    try {
      at::set_num_threads(1);
      ScriptNetwork network(p, false);
      torch::NoGradGuard no_grad;
      (void)network.forward(to_tensor(p.input_mean).unsqueeze(0));
    } catch (const std::exception& e) {
      message = e.what();
      code = 3;
    }
    for (std::size_t done = 0; done < message.size() && done < 2000;) {
      const ssize_t n = ::write(fds[1], message.data() + done, std::min<std::size_t>(message.size(), 2000) - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string message;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + probe_timeout;
  for (char buffer[512];;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it has exited (or is exiting)
    if (message.size() < 2000) message.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    fail(p, "TorchScript module did not load and answer within " + std::to_string(probe_timeout.count()) +
                " s (in a probe process); refused");
  if (WIFSIGNALED(status))
    fail(p, "TorchScript module crashes LibTorch when loaded or run (signal " + std::to_string(WTERMSIG(status)) + ", " +
                ::strsignal(WTERMSIG(status)) + ", in a probe process): the module is malformed or hostile; refused");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(p, "TorchScript module does not load or run: " + (message.empty() ? std::string("the probe process failed") : message));
}

class TorchScriptKind final : public ModelKind {
 public:
  std::string digest(const ModelPackage& p) const override { return sha256_hex(p.script.data(), p.script.size()); }
  void check(const ModelPackage& p) const override {
    if (p.script.empty()) fail(p, "holds no TorchScript module");
  }
  std::unique_ptr<Network> load(const ModelPackage& p) const override { return std::make_unique<ScriptNetwork>(p, true); }
};

TWIN_REGISTER_TYPE(ModelKind, kind_torchscript, [] { return std::make_unique<TorchScriptKind>(); });

}  // namespace
}  // namespace twin::advisor::detail

// Re-launching `twin train` under mpirun (cli/train_launch.hpp).
#include "cli/train_launch.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace twin::cli {

void train_on_every_core(int argc, char** argv) {
  bool train = false, command_seen = false;
  int ranks = 0;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!command_seen && !a.empty() && a[0] != '-') command_seen = true, train = a == "train";
    if (a == "--ranks" && i + 1 < argc) {
      ranks = std::atoi(argv[++i]);
      continue;
    }
    if (a.rfind("--ranks=", 0) == 0) {
      ranks = std::atoi(a.c_str() + 8);
      continue;
    }
    args.push_back(a);
  }
  if (!train) return;
  // Under a launcher already (mpirun, srun): its ranks are the user's choice.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "TWIN_TRAIN_RELAUNCHED"})
    if (std::getenv(v)) return;
  if (ranks == 0 && std::getenv("TWIN_TRAIN_RANKS")) ranks = std::atoi(std::getenv("TWIN_TRAIN_RANKS"));
  if (ranks == 0) {
    cpu_set_t cores;
    ranks = sched_getaffinity(0, sizeof cores, &cores) == 0 ? CPU_COUNT(&cores) : 1;
  }
  if (ranks <= 1) return;
  std::vector<std::string> cmd = {"mpirun", "--quiet", "-n", std::to_string(ranks)};
  if (geteuid() == 0) cmd.insert(cmd.end(), {"--allow-run-as-root", "--oversubscribe"});
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  cmd.push_back(n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string(argv[0]));
  cmd.insert(cmd.end(), args.begin(), args.end());
  std::vector<char*> c_args;
  for (auto& s : cmd) c_args.push_back(s.data());
  c_args.push_back(nullptr);
  setenv("TWIN_TRAIN_RELAUNCHED", "1", 1);
  std::cerr << "twin train: on " << ranks << " ranks (mpirun -n " << ranks << "; --ranks 1 keeps one process)" << std::endl;
  execvp("mpirun", c_args.data());
  std::cerr << "twin train: mpirun not found (" << std::strerror(errno) << "): training on one process" << std::endl;
}

}  // namespace twin::cli

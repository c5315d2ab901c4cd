// SIGKILL at random moments while snapshots are written: a committed snapshot is never damaged.
//
// A child process writes snapshots in a loop exactly as a twin run does (each "rank's" part
// durably, then the manifest, then pruning); the parent kills it with SIGKILL after a random
// delay, then checks every snapshot in the folder: each committed one must verify (sizes and
// SHA-256 of its parts) and decode to the content it was written with. Repeated KILLS times in
// the same folder, so leftovers of earlier kills are part of the test.
//   usage: snapshot_kill_probe DIR [KILLS] [SEED]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "ground/sha256.hpp"
#include "io/snapshot_store.hpp"
#include "io/state_archive.hpp"

namespace {

using twin::io::SnapshotStore;
using twin::io::StateArchive;

StateArchive part_for(long cycle, int rank) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(cycle) * 31 + static_cast<std::uint64_t>(rank));
  std::vector<double> values(20000 + rng() % 120000);
  for (double& v : values) v = std::uniform_real_distribution<double>(-1, 1)(rng);
  StateArchive a;
  a.put("cycle", cycle);
  a.put("rank", rank);
  a.put("values", values);
  a.put("digest", twin::sha256_hex(values.data(), values.size() * sizeof(double)));
  return a;
}

[[noreturn]] void writer(const std::filesystem::path& dir, long first) {
  SnapshotStore store(dir);
  for (long cycle = first;; ++cycle) {
    nlohmann::json parts = nlohmann::json::array();
    for (int r = 0; r < 2; ++r) {
      const std::string image = part_for(cycle, r).encode();
      parts.push_back({{"sha256", store.write_part(cycle, r, image)}, {"bytes", image.size()}});
    }
    store.commit(cycle, {{"format", twin::io::snapshot_format}, {"cycle", cycle}, {"ranks", 2}, {"parts", parts}});
    store.prune(3);
  }
}

// Problems with the committed snapshots in dir; the newest committed cycle in `newest`.
int check(const std::filesystem::path& dir, long& newest) {
  SnapshotStore store(dir);
  int bad = 0;
  for (const auto& s : store.list(true)) {
    if (!s.committed) continue;
    newest = std::max(newest, s.cycle);
    if (!s.problem.empty()) {
      std::fprintf(stderr, "committed snapshot %s is damaged: %s\n", s.dir.c_str(), s.problem.c_str());
      ++bad;
      continue;
    }
    for (int r = 0; r < 2; ++r) {
      try {
        const StateArchive a = store.read_part(s, r);
        const auto& v = a.doubles("values");
        if (a.get_int("cycle") != s.cycle || a.get_int("rank") != r ||
            a.get_string("digest") != twin::sha256_hex(v.data(), v.size() * sizeof(double)))
          throw std::runtime_error("content differs from what was written");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "committed snapshot %s part %d: %s\n", s.dir.c_str(), r, e.what());
        ++bad;
      }
    }
  }
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: snapshot_kill_probe DIR [KILLS] [SEED]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int kills = argc > 2 ? std::atoi(argv[2]) : 200;
  const unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : std::random_device{}();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  long newest = -1;
  int bad = 0, commits_seen = 0;
  for (int k = 0; k < kills; ++k) {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child == 0) writer(dir, newest + 1);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(200, 40000)(rng)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    const long before = newest;
    bad += check(dir, newest);
    commits_seen += newest > before ? 1 : 0;
  }
  std::printf("%d kills (seed %u): %d committed snapshots damaged; the newest committed is cycle %ld; %d kills "
              "came after at least one new commit\n",
              kills, seed, bad, newest, commits_seen);
  if (newest < 0) {
    std::printf("no snapshot was ever committed: the kills came too early to test anything\n");
    return 1;
  }
  return bad == 0 ? 0 : 1;
}
